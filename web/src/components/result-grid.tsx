import type { Hit } from '../types';
import { ItemImage } from './item-image';

export interface ResultActions {
  onMoreLike?: ((id: string) => void) | undefined;
  onComplete?: ((id: string) => void) | undefined;
}

function attributesText(attributes: Record<string, unknown>): string {
  return Object.entries(attributes)
    .map(([name, value]) => `${name}: ${String(value)}`)
    .join(', ');
}

/** A grid of result cards: image, id, score, category and attributes, with actions. */
export function ResultGrid({ index, hits, onMoreLike, onComplete, label = 'Results' }: { index: string; hits: Hit[]; label?: string } & ResultActions) {
  return (
    <ul class="grid" aria-label={label}>
      {hits.map((hit) => (
        <li class="card" key={hit.id}>
          <ItemImage index={index} id={hit.id} label={hit.text ?? hit.id} />
          <div class="card-body">
            <span class="card-id" title={hit.id}>
              {hit.id}
            </span>
            <span class="score" title="Cosine similarity">
              {hit.score.toFixed(3)}
            </span>
            {hit.category && <span class="tag">{hit.category}</span>}
            {Object.keys(hit.attributes ?? {}).length > 0 && <span class="attrs">{attributesText(hit.attributes)}</span>}
          </div>
          {(onMoreLike || onComplete) && (
            <div class="card-actions">
              {onMoreLike && (
                <button type="button" class="link" onClick={() => onMoreLike(hit.id)} aria-label={`More like ${hit.id}`}>
                  More like this
                </button>
              )}
              {onComplete && (
                <button type="button" class="link" onClick={() => onComplete(hit.id)} aria-label={`Complete the look of ${hit.id}`}>
                  Complete the look
                </button>
              )}
            </div>
          )}
        </li>
      ))}
    </ul>
  );
}
