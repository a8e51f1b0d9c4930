import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { AppError, FetchError } from '../errors.js';
import type { VectorIndex } from '../index/vector-index.js';
import { loadImageReference } from '../media/image-source.js';
import type { ItemFailure, JobRecord } from '../queue/job-store.js';
import { jobHolder, type ChunkEntry, type ChunkResults, type ModelRef, type WorkSource } from '../queue/job-types.js';
import { IndexService, type EmbeddedItem } from './index.service.js';
import { isUrl, parseItem, type ItemBody } from './item-input.js';
import type { JobHandler, JobService } from './jobs.service.js';

/** An uploaded file to ingest, with the item fields that describe it. */
export interface UploadedImage {
  readonly bytes: Uint8Array;
  /** Item fields (`id` defaults to the file name). */
  readonly fields: Record<string, unknown>;
  readonly filename: string;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Stands for an inline image until its chunk is written and the image stored. */
const PENDING_IMAGE: WorkSource = { kind: 'blob', hash: '' };

function kindOf(source: WorkSource): 'image' | 'text' | 'vector' {
  return source.kind === 'text' ? 'text' : source.kind === 'vector' ? 'vector' : 'image';
}

/**
 * Takes items into an ingest job, a chunk at a time: each item is checked as
 * `POST /v1/indexes/{name}/items` checks it (a bad one is recorded as failed, with its reason,
 * and does not sink the others), inline images (data URIs, base64, uploads) are stored as blobs
 * held by the job, URLs are left for the workers to fetch, and every `chunkSize` items become a
 * chunk file and a flow child.
 */
export class ItemIntake {
  private entries: ChunkEntry[] = [];
  private failures: ItemFailure[] = [];
  /** Inline images of the pending chunk, stored together when it is written (entry index → bytes). */
  private images: { entry: number; bytes: Uint8Array }[] = [];
  private size = 0;
  /** Items taken in by this intake (names items without an id: `#<ordinal>`). */
  private ordinal: number;

  constructor(
    private readonly jobs: JobService,
    private readonly job: JobRecord,
    private readonly index: VectorIndex,
  ) {
    this.ordinal = job.total;
  }

  private async place(entry: Omit<ChunkEntry, 'pos'> | { failed: { id: string; code: string; message: string } }, image?: Uint8Array): Promise<void> {
    const pos = this.size++;
    if ('failed' in entry) this.failures.push({ pos, ...entry.failed });
    else {
      if (image) this.images.push({ entry: this.entries.length, bytes: image });
      this.entries.push({ ...entry, pos });
    }
    if (this.size >= this.jobs.deps.settings.chunkSize) await this.flush();
  }

  /** Takes one raw item (a JSON object from a request or a manifest line). */
  async add(raw: unknown, fallbackId = `#${this.ordinal}`): Promise<void> {
    this.ordinal += 1;
    const parsed = parseItem(raw, fallbackId);
    if (!parsed.ok) return this.place({ failed: { id: parsed.id, code: 'invalid_item', message: parsed.message } });
    try {
      const source = await this.sourceOf(parsed.item);
      const image = source instanceof Uint8Array ? source : undefined;
      return this.place({ id: parsed.item.id, source: image ? PENDING_IMAGE : (source as WorkSource), fields: this.fieldsOf(parsed.item) }, image);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return this.place({ failed: { id: parsed.item.id, code: error.code, message: error.message } });
    }
  }

  /** Takes one line of a JSONL manifest (blank lines are skipped). */
  async addLine(line: string, lineNumber: number): Promise<void> {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (error) {
      this.ordinal += 1;
      return this.place({ failed: { id: `line:${lineNumber}`, code: 'invalid_json', message: `line ${lineNumber} is not JSON: ${(error as Error).message}` } });
    }
    return this.add(raw, `line:${lineNumber}`);
  }

  /** Takes an uploaded image file with its item fields. */
  async addFile(file: UploadedImage): Promise<void> {
    this.ordinal += 1;
    const parsed = parseItem({ id: file.filename, ...file.fields, image: 'upload' }, file.filename);
    if (!parsed.ok) return this.place({ failed: { id: parsed.id, code: 'invalid_item', message: parsed.message } });
    return this.place({ id: parsed.item.id, source: PENDING_IMAGE, fields: this.fieldsOf({ ...parsed.item, image: undefined }) }, file.bytes);
  }

  /**
   * Reads a JSONL manifest file line by line. A manifest fetched from `fetchedFrom` whose first
   * non-blank line is not JSON is not a manifest (a page answered in place of one, HTML served as
   * text/plain): it fails whole, `manifest_not_jsonl`, before any item is taken, instead of
   * failing each of its lines as not JSON.
   */
  async addManifest(path: string, options: { fetchedFrom?: string | undefined } = {}): Promise<void> {
    const input = createReadStream(path, { encoding: 'utf8' });
    const lines = createInterface({ input, crlfDelay: Infinity });
    let lineNumber = 0;
    let checked = options.fetchedFrom === undefined;
    for await (const text of lines) {
      // A leading byte order mark (editors on Windows write one) is not part of the first line's JSON.
      const line = lineNumber === 0 && text.startsWith('\uFEFF') ? text.slice(1) : text;
      lineNumber += 1;
      if (!checked && line.trim() !== '') {
        checked = true;
        if (!isJson(line)) {
          input.destroy();
          throw new FetchError('manifest_not_jsonl', `${options.fetchedFrom} is not JSON lines (one item per line): its first line is ${JSON.stringify(line.slice(0, 80))}${line.length > 80 ? '…' : ''}`);
        }
      }
      await this.addLine(line, lineNumber);
    }
  }

  private fieldsOf(item: ItemBody) {
    return {
      category: item.category,
      attributes: item.attributes,
      metadata: item.metadata,
      text: item.text,
      sourceUrl: item.source_url ?? (item.image && isUrl(item.image) ? item.image.trim() : null),
    };
  }

  /** Where an item's vector comes from; inline image bytes are returned to be stored with the chunk. */
  private async sourceOf(item: ItemBody): Promise<WorkSource | Uint8Array> {
    // A raw vector is a base embedding (an index on a head version projects it).
    const model = { ...this.index.model, ...IndexService.workModel(this.index) };
    if (item.vector) {
      if ((item.model !== undefined && item.model !== model.id) || (item.model_version !== undefined && item.model_version !== model.version)) {
        throw new AppError(409, 'invalid_request_error', 'model_mismatch', `index ${this.index.name} takes ${model.id}@${model.version} embeddings; this vector is from ${item.model ?? '?'}@${item.model_version ?? '?'}`);
      }
      if (item.vector.length !== model.dimension) {
        throw new AppError(400, 'invalid_request_error', 'dimension_mismatch', `the vector has ${item.vector.length} dimensions; index ${this.index.name} holds ${model.dimension}`);
      }
      return { kind: 'vector', vector: item.vector };
    }
    if (item.image) {
      if (isUrl(item.image)) return { kind: 'url', url: item.image.trim() };
      // Inline bytes (data URI, base64) are kept as blobs: the chunk file refers to them by hash.
      return loadImageReference(item.image, { maxBytes: this.jobs.deps.images.maxBytes, fetcher: undefined });
    }
    return { kind: 'text', text: item.text! };
  }

  /** Writes what is pending as a chunk: its inline images stored (held by the job), then its file and flow child. */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const entries = this.entries;
    const failures = this.failures;
    const images = this.images;
    const size = this.size;
    this.entries = [];
    this.failures = [];
    this.images = [];
    this.size = 0;
    const hashes = await this.jobs.deps.blobs.putMany(
      images.map((image) => image.bytes),
      jobHolder(this.job.id),
    );
    images.forEach((image, i) => {
      entries[image.entry] = { ...entries[image.entry]!, source: { kind: 'blob', hash: hashes[i]! } };
    });
    await this.jobs.addChunk(this.job, entries, failures, size);
  }
}

/**
 * `ingest`: items into an index. Chunks are embedded with the model the index holds; their
 * vectors are upserted into its serving version through the write gate, with the item's kept
 * image, so a re-embedding under way catches them up.
 */
export class IngestJob implements JobHandler {
  readonly type = 'ingest' as const;

  constructor(private readonly jobs: JobService) {}

  /** Workers embed with the index's base model; an index on a head version projects what they return. */
  workModel(job: JobRecord): ModelRef {
    return IndexService.workModel(this.jobs.deps.indexes.get(job.index));
  }

  workDimension(job: JobRecord): number {
    return this.jobs.deps.indexes.get(job.index).model.dimension;
  }

  intake(job: JobRecord): ItemIntake {
    return new ItemIntake(this.jobs, job, this.jobs.deps.indexes.get(job.index));
  }

  async apply(job: JobRecord, entries: ReadonlyMap<number, ChunkEntry>, results: ChunkResults, failures: readonly ItemFailure[]) {
    const keep = this.jobs.deps.settings.keepSources;
    const written: EmbeddedItem[] = [];
    for (const { pos, vector, blob } of results.vectors) {
      const entry = entries.get(pos)!;
      const sourceBlob = !keep ? null : entry.source.kind === 'blob' ? entry.source.hash : (blob ?? null);
      written.push({ fields: { ...entry.fields, id: entry.id, sourceKind: kindOf(entry.source), sourceBlob }, base: vector });
    }
    await this.jobs.deps.indexes.writeEmbedded(job.index, results.model, written);
    return { done: results.vectors.map((entry) => entry.pos), failures: [...failures] };
  }

  async finish(job: JobRecord) {
    return { status: 'done' as const, result: { index: job.index, done: job.done, failed: job.failed } };
  }

  abandon(): void {
    // Items already applied stay indexed (each was acknowledged on its own); nothing to undo.
  }
}
