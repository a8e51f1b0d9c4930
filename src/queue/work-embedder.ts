import type { ModelRegistry } from '../encoders/model-registry.js';
import { l2NormalizeInPlace } from '../encoders/vectors.js';
import { AppError, ModelUnavailableError } from '../errors.js';
import { loadImageReference, type ImageSourceOptions } from '../media/image-source.js';
import type { ModelRef, WorkFailure, WorkItem } from './job-types.js';

/** Where a worker gets kept images, and where it hands over the images it fetched. */
export interface ImageAccess {
  readBlob(hash: string): Promise<Uint8Array | undefined>;
  /** Keeps fetched bytes for the owner; returns their hash. Absent when sources are not kept. */
  keep?: ((bytes: Uint8Array) => Promise<string>) | undefined;
}

export interface EmbeddedWork {
  readonly vectors: { pos: number; vector: Float32Array; blob?: string | undefined }[];
  readonly failures: WorkFailure[];
}

/**
 * Embeds a chunk's items with one model: all at once, so the encoder's micro-batcher fills its
 * batches. Each item succeeds or fails on its own; a failure says whether it may pass (a timeout,
 * an overloaded encoder, a failing image server) or is final (an undecodable image, a refused URL).
 */
export class WorkEmbedder {
  constructor(private readonly deps: { registry: ModelRegistry; images: ImageSourceOptions }) {}

  /** The loaded encoder for `model`, or a retryable 503: another worker may have it. */
  private encoder(model: ModelRef) {
    const encoder = this.deps.registry.ids().includes(model.id) ? this.deps.registry.get(model.id) : undefined;
    if (!encoder || encoder.info.version !== model.version) {
      throw new ModelUnavailableError(`this worker has not loaded ${model.id}@${model.version}; start it with that model (LOOKBOOK_MODELS)`);
    }
    return encoder;
  }

  async embed(model: ModelRef, items: readonly WorkItem[], access: ImageAccess, signal?: AbortSignal): Promise<EmbeddedWork> {
    const encoder = this.encoder(model);
    const vectors: EmbeddedWork['vectors'] = [];
    const failures: WorkFailure[] = [];
    await Promise.all(
      items.map(async ({ pos, source }) => {
        try {
          switch (source.kind) {
            case 'text':
              vectors.push({ pos, vector: (await encoder.embedText(source.text, signal)).vector });
              return;
            case 'vector': // its dimension was checked when the item was taken in
              vectors.push({ pos, vector: l2NormalizeInPlace(Float32Array.from(source.vector)) });
              return;
            case 'blob': {
              const bytes = await access.readBlob(source.hash);
              if (!bytes) throw new AppError(404, 'not_found_error', 'source_missing', `the kept image ${source.hash} is gone`);
              vectors.push({ pos, vector: (await encoder.embedImage(bytes, signal)).vector });
              return;
            }
            case 'url': {
              const bytes = await loadImageReference(source.url, this.deps.images, signal);
              const vector = (await encoder.embedImage(bytes, signal)).vector;
              vectors.push({ pos, vector, blob: access.keep ? await access.keep(bytes) : undefined });
              return;
            }
          }
        } catch (error) {
          if (error instanceof AppError) failures.push({ pos, code: error.code, message: error.message, retryable: error.retryable });
          else failures.push({ pos, code: 'internal_error', message: error instanceof Error ? error.message : String(error), retryable: true });
        }
      }),
    );
    return { vectors, failures };
  }
}
