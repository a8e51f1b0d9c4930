import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import type { Shared } from '../app';
import { ErrorBox } from '../components/error-box';
import { ImagePicker } from '../components/image-picker';
import { IndexPicker } from '../components/index-picker';
import { ItemImage } from '../components/item-image';
import { ResultGrid } from '../components/result-grid';
import type { LookResult } from '../types';
import { useRequest } from '../use-request';

const PRODUCTS_PER_CATEGORY = 6;

type Source = { kind: 'item'; id: string } | { kind: 'scene'; file: File; url: string };

/** Complete the Look: from a scene or an item, products of the other categories that go with it. */
export function CompleteView({ shared, params }: { shared: Shared; params: URLSearchParams }) {
  const { index, indexes, setIndex, keyVersion } = shared;
  const fromItem = params.get('item');
  const [source, setSource] = useState<Source | undefined>(fromItem ? { kind: 'item', id: fromItem } : undefined);

  useEffect(() => {
    const wanted = params.get('index');
    if (wanted && indexes.some((entry) => entry.name === wanted)) setIndex(wanted);
  }, [params.get('index'), indexes]);
  useEffect(() => {
    if (fromItem) setSource({ kind: 'item', id: fromItem });
  }, [fromItem]);
  useEffect(() => () => source?.kind === 'scene' && URL.revokeObjectURL(source.url), [source]);

  const { data: result, error, busy } = useRequest<LookResult>(
    source && index
      ? (signal) => {
          if (source.kind === 'item') return call('/v1/complete-the-look', { json: { index, item_id: source.id, limit: PRODUCTS_PER_CATEGORY }, signal });
          const form = new FormData();
          form.append('file', source.file, source.file.name || 'scene');
          form.append('index', index);
          form.append('limit', String(PRODUCTS_PER_CATEGORY));
          return call('/v1/complete-the-look', { form, signal });
        }
      : undefined,
    [source, index, keyVersion],
  );

  return (
    <section class="view">
      <div class="toolbar">
        <IndexPicker id="complete-index" indexes={indexes} value={index} onChange={setIndex} />
      </div>
      <ImagePicker id="complete-image" label="Upload a scene" busy={busy} onImage={(file) => setSource({ kind: 'scene', file, url: URL.createObjectURL(file) })} />
      <p class="muted">Or choose “Complete the look” on any search result. The catalog's categories already in the scene are left out; the others are ranked by the compatibility model.</p>
      <ErrorBox error={error} />
      {source && (
        <div class="scene-layout">
          <div class="panel">
            <h2>{source.kind === 'item' ? `Item ${source.id}` : 'Your scene'}</h2>
            <div class="source-image">{source.kind === 'item' ? <ItemImage index={index} id={source.id} /> : <img src={source.url} alt="Your scene" class="thumb" />}</div>
            {result && (
              <p class="muted">
                {result.present_categories.length > 0 ? `In the scene: ${result.present_categories.join(', ')}. ` : 'No catalog category recognised in the scene. '}
                Ranked by {result.strategy === 'compatibility' ? 'the compatibility model' : 'visual similarity'}.
              </p>
            )}
            {busy && <p class="muted">Looking…</p>}
          </div>
          <div class="category-group">
            {result && result.categories.length === 0 && <p class="muted">No other category to recommend from.</p>}
            {result?.categories.map((group) => (
              <div class="panel" key={group.category}>
                <h3>{group.category}</h3>
                <ResultGrid index={index} hits={group.products} label={`Goes with it: ${group.category}`} />
              </div>
            ))}
          </div>
        </div>
      )}
    </section>
  );
}
