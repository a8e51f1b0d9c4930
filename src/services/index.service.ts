import { randomUUID } from 'node:crypto';
import type { DualEncoder } from '../encoders/dual-encoder.js';
import type { RawImage } from '../encoders/image-preprocessor.js';
import type { ModelRegistry } from '../encoders/model-registry.js';
import { l2NormalizeInPlace } from '../encoders/vectors.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { ProjectionHead } from '../alignment/projection-head.js';
import type { ModelVersions } from '../encoders/model-versions.js';
import type { BlobStore } from '../index/blob-store.js';
import type { ItemFields, ItemFilter, SourceKind } from '../index/catalog.js';
import type { IndexStore } from '../index/index-store.js';
import { DEFAULT_INDEX_SETTINGS, type CompactionReport, type IndexSettings, type SearchHit, type VectorIndex } from '../index/vector-index.js';
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

/**
 * An item whose embedding was computed elsewhere (by a job's worker, or kept), ready to be
 * written: `base` is the base model's embedding; an index on a head version projects it.
 */
export interface EmbeddedItem {
  readonly fields: ItemFields;
  readonly base: Float32Array;
}

/** The model an index's version resolves to: a loaded base encoder, and the head of a head version. */
export interface ResolvedModel {
  readonly encoder: DualEncoder;
  readonly head: ProjectionHead | undefined;
}

/** What an embedding source is kept as. */
export function sourceKindOf(source: EmbeddingSource): SourceKind {
  return source.kind === 'vector' ? 'vector' : source.kind === 'text' ? 'text' : 'image';
}

export type ItemResult = { id: string; status: 'ok' } | { id: string; status: 'error'; error: { code: string; message: string } };

export interface SearchRequest {
  readonly query: Query;
  readonly limit: number;
  readonly oversampling: number;
  readonly rescore: boolean;
  readonly filter?: ItemFilter | undefined;
  readonly exact?: boolean | undefined;
  /** The ef of an unfiltered graph walk, in place of the index's. */
  readonly expansion?: number | undefined;
}

/**
 * Index use cases: create and describe indexes, add items (embedding images or texts with the
 * index's own model), and search by text, image, item or raw vector. An index only ever sees
 * vectors from the model id and version it was built with.
 */
export class IndexService {
  private readonly deletedListeners: ((name: string) => void)[] = [];
  private readonly writtenListeners: ((name: string) => void)[] = [];

  constructor(
    private readonly deps: {
      store: IndexStore;
      registry: ModelRegistry;
      images: ImageSourceOptions;
      /** Where indexed images are kept; also read for images kept before `keepSources` was turned off. */
      blobs: BlobStore;
      /** Keep every indexed image, so the index can be re-embedded. @defaultValue true */
      keepSources: boolean;
      /** Alignment heads: model versions beyond the loaded base ones. */
      versions: ModelVersions;
    },
  ) {}

  get store(): IndexStore {
    return this.deps.store;
  }

  get blobs(): BlobStore {
    return this.deps.blobs;
  }

  get keepSources(): boolean {
    return this.deps.keepSources;
  }

  /** Called with the name of an index after items were written to its serving version. */
  onWritten(listener: (name: string) => void): void {
    this.writtenListeners.push(listener);
  }

  /** Called with the name of each index deleted (jobs on it stop). */
  onDeleted(listener: (name: string) => void): void {
    this.deletedListeners.push(listener);
  }

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
    this.deps.blobs.releaseIndex(name);
    for (const listener of this.deletedListeners) listener(name);
  }

  /** Deletes items (from the serving version, through its write gate); returns the ids that existed. */
  async deleteItems(name: string, ids: readonly string[]): Promise<string[]> {
    return this.deps.store.write(name, async (index) => {
      const deleted = await index.deleteAsync(ids);
      this.deps.blobs.releaseItems(name, deleted);
      return deleted;
    });
  }

  /** Compacts an index's files online (through its write gate) and reports the space reclaimed. */
  compact(name: string): Promise<CompactionReport> {
    return this.deps.store.compact(name);
  }

  /** The kept image of an item: its bytes, or a 404 saying why there are none. */
  async imageOf(name: string, id: string): Promise<Buffer> {
    const item = this.get(name).get(id);
    if (!item) throw new NotFoundError('item_not_found', `index ${name} has no item ${JSON.stringify(id)}`, { param: 'id' });
    const bytes = item.sourceBlob ? await this.deps.blobs.read(item.sourceBlob) : undefined;
    if (!bytes) {
      throw new NotFoundError(
        'image_not_kept',
        item.sourceKind === 'image' || (item.sourceKind === null && item.sourceUrl)
          ? `item ${JSON.stringify(id)} was indexed without keeping its image (LOOKBOOK_KEEP_SOURCES=false, or before images were kept)`
          : `item ${JSON.stringify(id)} was not made from an image`,
        { param: 'id' },
      );
    }
    return bytes;
  }

  get versions(): ModelVersions {
    return this.deps.versions;
  }

  /**
   * What `id@version` resolves to here: the loaded base model, or a head version of it; undefined
   * when the model is not loaded or the version unknown (or made for another base version).
   */
  resolve(id: string, version: string): ResolvedModel | undefined {
    if (!this.deps.registry.ids().includes(id)) return undefined;
    const encoder = this.deps.registry.get(id);
    if (encoder.info.version === version) return { encoder, head: undefined };
    const head = this.deps.versions.get(id, version);
    return head && head.baseVersion === encoder.info.version ? { encoder, head: head.head } : undefined;
  }

  /** The model an index was built with, if this server has it. */
  encoderFor(index: VectorIndex): ResolvedModel | undefined {
    return this.resolve(index.model.id, index.model.version);
  }

  /** The background colour the index's model flattens images onto (white when it is not loaded). */
  backgroundOf(name: string): readonly [number, number, number] {
    return this.encoderFor(this.get(name))?.encoder.spec.preprocess.background ?? [255, 255, 255];
  }

  private requireEncoder(index: VectorIndex): ResolvedModel {
    const model = this.encoderFor(index);
    if (!model) {
      throw new ConflictError(
        'index_model_unavailable',
        `index ${index.name} was built with ${index.model.id}@${index.model.version}, which this server has not loaded; load that model or re-embed the index with a loaded one`,
      );
    }
    return model;
  }

  /** The head of the version an index holds (none for a base version); it need not have its encoder loaded. */
  private headOf(index: VectorIndex): ProjectionHead | undefined {
    if (!index.model.base) return undefined;
    const version = this.deps.versions.get(index.model.id, index.model.version);
    if (!version) throw new ConflictError('model_version_missing', `index ${index.name} holds ${index.model.id}@${index.model.version}, a version this server does not have`);
    return version.head;
  }

  /** The model version whose embeddings the index is built from: its base version. */
  static workModel(index: VectorIndex): { id: string; version: string } {
    return { id: index.model.id, version: index.model.base ?? index.model.version };
  }

  /** A query's vector in the index's space. */
  private async embedQuery(index: VectorIndex, source: EmbeddingSource, signal?: AbortSignal): Promise<Float32Array> {
    // A raw query vector in the index's own space is searched as it is; a base one is projected.
    if (source.kind === 'vector' && index.model.base && (source.modelVersion === undefined || source.modelVersion === index.model.version)) {
      this.checkVector(index, source, index.model.version);
      return l2NormalizeInPlace(Float32Array.from(source.vector));
    }
    const { base } = await this.embedKeeping(index, source, signal);
    const head = this.headOf(index);
    return head ? head.project(base) : base;
  }

  private checkVector(index: VectorIndex, source: Extract<EmbeddingSource, { kind: 'vector' }>, version: string): void {
    if ((source.model !== undefined && source.model !== index.model.id) || (source.modelVersion !== undefined && source.modelVersion !== version)) {
      throw new ConflictError(
        'model_mismatch',
        `index ${index.name} holds ${index.model.id}@${version} embeddings; this vector is from ${source.model ?? '?'}@${source.modelVersion ?? '?'}`,
      );
    }
    if (source.vector.length !== index.model.dimension) {
      throw new ValidationError(`the vector has ${source.vector.length} dimensions; index ${index.name} holds ${index.model.dimension}`, {
        code: 'dimension_mismatch',
      });
    }
  }

  /**
   * Embeds a source with the index's base model (raw vectors must be base embeddings); for images,
   * also the bytes that were embedded.
   */
  private async embedKeeping(index: VectorIndex, source: EmbeddingSource, signal?: AbortSignal): Promise<{ base: Float32Array; bytes?: Uint8Array }> {
    if (source.kind === 'vector') {
      this.checkVector(index, source, IndexService.workModel(index).version);
      return { base: l2NormalizeInPlace(Float32Array.from(source.vector)) };
    }
    const { encoder } = this.requireEncoder(index);
    if (source.kind === 'text') {
      if (source.text.trim().length === 0) throw new ValidationError('the text is empty', { code: 'empty_input' });
      return { base: (await encoder.embedText(source.text, signal)).vector };
    }
    if (source.kind === 'pixels') return { base: (await encoder.embedImage(source.image, signal)).vector };
    const bytes = source.kind === 'image-bytes' ? source.bytes : await loadImageReference(source.reference, this.deps.images, signal);
    return { base: (await encoder.embedImage(bytes, signal)).vector, bytes };
  }

  /**
   * Embeds and upserts a batch into the serving version of the index; each item succeeds or fails
   * on its own. Images are kept (content-addressed) when sources are kept.
   */
  async addItems(name: string, items: readonly NewItem[], signal?: AbortSignal): Promise<ItemResult[]> {
    return this.deps.store.write(name, async (index) => {
      const encoder = items.some((item) => item.source.kind !== 'vector') ? this.requireEncoder(index).encoder : undefined;
      if (encoder) {
        const texts = items.filter((item) => item.source.kind === 'text').length;
        const images = items.filter((item) => item.source.kind === 'image' || item.source.kind === 'image-bytes' || item.source.kind === 'pixels').length;
        encoder.checkCapacity({ texts, images });
      }
      // The images this write keeps are held until the items that name them are committed.
      const holder = `write:${randomUUID()}`;
      try {
        const seen = new Set<string>();
        type Outcome = { item: NewItem; entry: EmbeddedItem; error?: undefined } | { item: NewItem; entry?: undefined; error: AppError };
        const outcomes = await Promise.all(
          items.map(async (item): Promise<Outcome> => {
            try {
              if (seen.has(item.id)) throw new ValidationError(`item ${item.id} appears twice in this batch`, { code: 'duplicate_id' });
              seen.add(item.id);
              const { base, bytes } = await this.embedKeeping(index, item.source, signal);
              const sourceBlob = bytes && this.deps.keepSources ? await this.deps.blobs.put(bytes, holder) : null;
              return { item, entry: { fields: { ...item, sourceKind: sourceKindOf(item.source), sourceBlob }, base } };
            } catch (error) {
              if (error instanceof AppError && error.status < 500) return { item, error };
              throw error;
            }
          }),
        );
        await this.upsertIntoAsync(index, outcomes.flatMap((outcome) => (outcome.entry ? [outcome.entry] : [])));
        return outcomes.map((outcome): ItemResult =>
          outcome.error
            ? { id: outcome.item.id, status: 'error', error: { code: outcome.error.code, message: outcome.error.message } }
            : { id: outcome.item.id, status: 'ok' },
        );
      } finally {
        this.deps.blobs.release(holder);
      }
    });
  }

  /**
   * Writes base embeddings that a worker computed with `model` into the serving version of the
   * index. Refused (retryably) when the index has since switched to another base model: the
   * worker embeds again.
   */
  async writeEmbedded(name: string, model: { id: string; version: string }, entries: readonly EmbeddedItem[]): Promise<void> {
    await this.deps.store.write(name, async (index) => {
      const wanted = IndexService.workModel(index);
      if (wanted.id !== model.id || wanted.version !== model.version) {
        throw new ConflictError(
          'index_model_changed',
          `index ${name} now holds ${wanted.id}@${wanted.version} embeddings; these are from ${model.id}@${model.version}`,
          { retryable: true },
        );
      }
      await this.upsertIntoAsync(index, entries);
    });
  }

  /**
   * Upserts into one version of an index (its head, if it has one, applied to each base
   * embedding) and points the items at their kept images.
   */
  upsertInto(index: VectorIndex, entries: readonly EmbeddedItem[]): void {
    if (entries.length === 0) return;
    const head = this.headOf(index);
    index.upsert(entries.map(({ fields, base }) => ({ fields, vector: head ? head.project(base) : base, base })));
    this.afterUpsert(index, entries);
  }

  /** {@link upsertInto} with the fsyncs off the event loop; durable when it resolves. */
  async upsertIntoAsync(index: VectorIndex, entries: readonly EmbeddedItem[]): Promise<void> {
    if (entries.length === 0) return;
    const head = this.headOf(index);
    await index.upsertAsync(entries.map(({ fields, base }) => ({ fields, vector: head ? head.project(base) : base, base })));
    this.afterUpsert(index, entries);
  }

  private afterUpsert(index: VectorIndex, entries: readonly EmbeddedItem[]): void {
    this.deps.blobs.setItemRefs(
      index.name,
      entries.map(({ fields }) => ({ id: fields.id, hash: fields.sourceBlob ?? null })),
    );
    for (const listener of this.writtenListeners) listener(index.name);
  }

  /** Searches the serving version of an index (kept open until the answer is ready, whatever switches meanwhile). */
  async search(name: string, request: SearchRequest, signal?: AbortSignal) {
    return this.deps.store.read(name, (index) => this.searchIn(index, request, signal));
  }

  private async searchIn(index: VectorIndex, request: SearchRequest, signal?: AbortSignal) {
    const name = index.name;
    let vector: Float32Array;
    const excludeIds: string[] = [];
    if (request.query.kind === 'item') {
      const item = index.get(request.query.id);
      if (!item) throw new NotFoundError('item_not_found', `index ${name} has no item ${JSON.stringify(request.query.id)}`, { param: 'query.item_id' });
      vector = index.vectorOf(item);
      excludeIds.push(item.id);
    } else {
      vector = await this.embedQuery(index, request.query, signal);
    }
    const started = performance.now();
    const outcome = index.search(vector, {
      limit: request.limit,
      oversampling: request.oversampling,
      rescore: request.rescore,
      filter: request.filter,
      exact: request.exact,
      excludeIds,
      expansion: request.expansion,
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
