import type { DualEncoder } from '../encoders/dual-encoder.js';
import type { RawImage } from '../encoders/image-preprocessor.js';
import type { ModelRegistry } from '../encoders/model-registry.js';
import { l2NormalizeInPlace } from '../encoders/vectors.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { ItemFields, ItemFilter } from '../index/catalog.js';
import type { IndexStore } from '../index/index-store.js';
import { DEFAULT_INDEX_SETTINGS, type IndexSettings, type SearchHit, type VectorIndex } from '../index/vector-index.js';
import { loadImageReference, type ImageSourceOptions } from '../media/image-source.js';

/** Where an item's or a query's embedding comes from. */
export type EmbeddingSource =
  | { readonly kind: 'image'; readonly reference: string }
  | { readonly kind: 'image-bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'pixels'; readonly image: RawImage }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'vector'; readonly vector: readonly number[]; readonly model?: string | undefined; readonly modelVersion?: string | undefined };

export type Query = EmbeddingSource | { readonly kind: 'item'; readonly id: string };

export interface NewItem extends ItemFields {
  readonly source: EmbeddingSource;
}

export type ItemResult = { id: string; status: 'ok' } | { id: string; status: 'error'; error: { code: string; message: string } };

export interface SearchRequest {
  readonly query: Query;
  readonly limit: number;
  readonly oversampling: number;
  readonly rescore: boolean;
  readonly filter?: ItemFilter | undefined;
  readonly exact?: boolean | undefined;
}

/**
 * Index use cases: create and describe indexes, add items (embedding images or texts with the
 * index's own model), and search by text, image, item or raw vector. An index only ever sees
 * vectors from the model id and version it was built with.
 */
export class IndexService {
  constructor(
    private readonly deps: { store: IndexStore; registry: ModelRegistry; images: ImageSourceOptions },
  ) {}

  create(name: string, modelId: string | undefined, settings: Partial<IndexSettings>): VectorIndex {
    const model = this.deps.registry.get(modelId).info;
    return this.deps.store.create(name, { id: model.id, version: model.version, dimension: model.dimension }, { ...DEFAULT_INDEX_SETTINGS, ...settings });
  }

  get(name: string): VectorIndex {
    return this.deps.store.get(name);
  }

  list(): VectorIndex[] {
    return this.deps.store.list();
  }

  delete(name: string): void {
    this.deps.store.delete(name);
  }

  /** The loaded model an index was built with, or a 409 saying which one it needs. */
  encoderFor(index: VectorIndex): DualEncoder | undefined {
    if (!this.deps.registry.ids().includes(index.model.id)) return undefined;
    const encoder = this.deps.registry.get(index.model.id);
    return encoder.info.version === index.model.version ? encoder : undefined;
  }

  /** The background colour the index's model flattens images onto (white when it is not loaded). */
  backgroundOf(name: string): readonly [number, number, number] {
    return this.encoderFor(this.get(name))?.spec.preprocess.background ?? [255, 255, 255];
  }

  private requireEncoder(index: VectorIndex): DualEncoder {
    const encoder = this.encoderFor(index);
    if (!encoder) {
      throw new ConflictError(
        'index_model_unavailable',
        `index ${index.name} was built with ${index.model.id}@${index.model.version}, which this server has not loaded; load that model or re-embed the index with a loaded one`,
      );
    }
    return encoder;
  }

  private async embed(index: VectorIndex, source: EmbeddingSource, signal?: AbortSignal): Promise<Float32Array> {
    if (source.kind === 'vector') {
      if ((source.model !== undefined && source.model !== index.model.id) || (source.modelVersion !== undefined && source.modelVersion !== index.model.version)) {
        throw new ConflictError(
          'model_mismatch',
          `index ${index.name} holds ${index.model.id}@${index.model.version} embeddings; this vector is from ${source.model ?? '?'}@${source.modelVersion ?? '?'}`,
        );
      }
      if (source.vector.length !== index.model.dimension) {
        throw new ValidationError(`the vector has ${source.vector.length} dimensions; index ${index.name} holds ${index.model.dimension}`, {
          code: 'dimension_mismatch',
        });
      }
      return l2NormalizeInPlace(Float32Array.from(source.vector));
    }
    const encoder = this.requireEncoder(index);
    if (source.kind === 'text') {
      if (source.text.trim().length === 0) throw new ValidationError('the text is empty', { code: 'empty_input' });
      return (await encoder.embedText(source.text, signal)).vector;
    }
    const image = source.kind === 'pixels' ? source.image : source.kind === 'image-bytes' ? source.bytes : await loadImageReference(source.reference, this.deps.images, signal);
    return (await encoder.embedImage(image, signal)).vector;
  }

  /** Embeds and upserts a batch; each item succeeds or fails on its own. */
  async addItems(name: string, items: readonly NewItem[], signal?: AbortSignal): Promise<ItemResult[]> {
    const index = this.get(name);
    const encoder = items.some((item) => item.source.kind !== 'vector') ? this.requireEncoder(index) : undefined;
    if (encoder) {
      const texts = items.filter((item) => item.source.kind === 'text').length;
      const images = items.filter((item) => item.source.kind === 'image' || item.source.kind === 'image-bytes' || item.source.kind === 'pixels').length;
      encoder.checkCapacity({ texts, images });
    }
    const seen = new Set<string>();
    type Outcome = { item: NewItem; vector: Float32Array; error?: undefined } | { item: NewItem; vector?: undefined; error: AppError };
    const outcomes = await Promise.all(
      items.map(async (item): Promise<Outcome> => {
        try {
          if (seen.has(item.id)) throw new ValidationError(`item ${item.id} appears twice in this batch`, { code: 'duplicate_id' });
          seen.add(item.id);
          return { item, vector: await this.embed(index, item.source, signal) };
        } catch (error) {
          if (error instanceof AppError && error.status < 500) return { item, error };
          throw error;
        }
      }),
    );
    index.upsert(outcomes.flatMap((outcome) => (outcome.vector ? [{ fields: outcome.item, vector: outcome.vector }] : [])));
    return outcomes.map((outcome): ItemResult =>
      outcome.error
        ? { id: outcome.item.id, status: 'error', error: { code: outcome.error.code, message: outcome.error.message } }
        : { id: outcome.item.id, status: 'ok' },
    );
  }

  async search(name: string, request: SearchRequest, signal?: AbortSignal) {
    const index = this.get(name);
    let vector: Float32Array;
    const excludeIds: string[] = [];
    if (request.query.kind === 'item') {
      const item = index.get(request.query.id);
      if (!item) throw new NotFoundError('item_not_found', `index ${name} has no item ${JSON.stringify(request.query.id)}`, { param: 'query.item_id' });
      vector = index.vectorOf(item);
      excludeIds.push(item.id);
    } else {
      vector = await this.embed(index, request.query, signal);
    }
    const started = performance.now();
    const outcome = index.search(vector, {
      limit: request.limit,
      oversampling: request.oversampling,
      rescore: request.rescore,
      filter: request.filter,
      exact: request.exact,
      excludeIds,
    });
    return { index, ...outcome, searchMs: performance.now() - started };
  }
}

export function describeHit(hit: SearchHit) {
  return {
    id: hit.item.id,
    score: hit.score,
    category: hit.item.category,
    attributes: hit.item.attributes,
    metadata: hit.item.metadata,
    source_url: hit.item.sourceUrl,
    text: hit.item.text,
  };
}
