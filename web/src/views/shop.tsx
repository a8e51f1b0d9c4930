import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import type { Shared } from '../app';
import { navigate } from '../app';
import { ErrorBox } from '../components/error-box';
import { ImagePicker } from '../components/image-picker';
import { IndexPicker } from '../components/index-picker';
import { ResultGrid } from '../components/result-grid';
import { objectLabel, SceneView, type Box } from '../components/scene-view';
import type { ShopObject, ShopResult } from '../types';
import { useRequest } from '../use-request';

const PRODUCTS_PER_OBJECT = 8;

/** Shop The Look: a scene's objects as hotspots, each with its products; or a box of one's own. */
export function ShopView({ shared }: { shared: Shared }) {
  const { index, indexes, setIndex, keyVersion } = shared;
  const [scene, setScene] = useState<{ file: File; url: string }>();
  const [confidence, setConfidence] = useState(0.25);
  const [shown, setShown] = useState(0.25);
  const [own, setOwn] = useState<ShopObject>();
  const [selected, setSelected] = useState<number>();
  const [drawing, setDrawing] = useState(false);
  /** A drawn box's own request (the detection's is `detected`). */
  const [boxRequest, setBoxRequest] = useState<{ busy: boolean; error?: unknown }>({ busy: false });

  useEffect(() => () => scene && URL.revokeObjectURL(scene.url), [scene]);

  const request = (crop: Box | undefined, signal?: AbortSignal) => {
    const form = new FormData();
    form.append('file', scene!.file, scene!.file.name || 'scene');
    form.append('index', index);
    form.append('limit', String(PRODUCTS_PER_OBJECT));
    if (crop) form.append('crop', JSON.stringify(crop));
    else form.append('min_score', String(confidence));
    return call<ShopResult>('/v1/shop-the-look', { form, signal });
  };

  // Detect again when the scene, the index or the confidence changes.
  const detected = useRequest<ShopResult>(scene && index ? (signal) => request(undefined, signal) : undefined, [scene, index, confidence, keyVersion]);
  const result = detected.data;
  // A new detection replaces a drawn box (and its error) and selects its first object.
  useEffect(() => {
    setOwn(undefined);
    setBoxRequest({ busy: false });
    setSelected(result && result.objects.length > 0 ? 0 : undefined);
  }, [result]);
  const busy = detected.busy || boxRequest.busy;
  const error = boxRequest.error ?? detected.error;

  const searchBox = (box: Box) => {
    setDrawing(false);
    setBoxRequest({ busy: true });
    request(box)
      .then((answer) => {
        setBoxRequest({ busy: false });
        const object = answer.objects[0];
        if (!object) return;
        setOwn(object);
        setSelected(result?.objects.length ?? 0);
      })
      .catch((failure: unknown) => setBoxRequest({ busy: false, error: failure }));
  };

  const objects = [...(result?.objects ?? []), ...(own ? [own] : [])];
  const current = selected === undefined ? undefined : objects[selected];

  return (
    <section class="view">
      <div class="toolbar">
        <IndexPicker id="shop-index" indexes={indexes} value={index} onChange={setIndex} />
        <div class="range">
          <label for="confidence">Detection confidence: {Math.round(shown * 100)}%</label>
          <input
            id="confidence"
            type="range"
            min="0.05"
            max="0.95"
            step="0.05"
            value={shown}
            onInput={(event) => setShown(Number((event.currentTarget as HTMLInputElement).value))}
            onChange={(event) => setConfidence(Number((event.currentTarget as HTMLInputElement).value))}
          />
        </div>
        {scene && (
          <button type="button" class="secondary" aria-pressed={drawing} onClick={() => setDrawing(!drawing)}>
            {drawing ? 'Drawing: drag on the scene, or use the arrow keys' : 'Draw your own box'}
          </button>
        )}
      </div>
      <ImagePicker
        id="shop-image"
        label="Upload a scene"
        busy={busy}
        onImage={(file) => {
          detected.clear();
          setBoxRequest({ busy: false });
          setOwn(undefined);
          setSelected(undefined);
          setScene({ file, url: URL.createObjectURL(file) });
        }}
      />
      <ErrorBox error={error} />
      {!scene && <p class="muted">Upload a photo of a scene: the detector finds its objects, and each one is searched in the index, within the catalog categories its label maps to.</p>}
      {scene && (
        <div class="scene-layout">
          <div>
            <SceneView src={scene.url} size={result?.image} objects={objects} selected={selected} onSelect={setSelected} drawing={drawing} onDraw={searchBox} onCancel={() => setDrawing(false)} />
            <p class="muted" aria-live="polite">
              {busy ? 'Looking…' : result ? `${result.objects.length} object${result.objects.length === 1 ? '' : 's'} found. Choose one, or draw your own box.` : ''}
            </p>
          </div>
          <div class="panel">
            {current ? (
              <>
                <h2>Products for {objectLabel(current)}</h2>
                {current.categories && <p class="muted">In {current.categories.join(', ')}</p>}
                {current.products.length === 0 ? (
                  <p class="muted">No product matches this object.</p>
                ) : (
                  <ResultGrid
                    index={index}
                    hits={current.products}
                    label={`Products for ${current.label ?? 'your box'}`}
                    onComplete={(id) => navigate('complete', { index, item: id })}
                  />
                )}
              </>
            ) : (
              <p class="muted">{result && result.objects.length === 0 ? 'No object above this confidence: lower it, or draw a box.' : 'Choose an object.'}</p>
            )}
          </div>
        </div>
      )}
    </section>
  );
}
