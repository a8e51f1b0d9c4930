import { ConflictError, NotFoundError } from '../errors.js';
import type { CatalogItem } from '../index/catalog.js';
import type { VectorIndex } from '../index/vector-index.js';
import type { ItemFailure, JobRecord } from '../queue/job-store.js';
import { jobHolder, type ChunkEntry, type ChunkResults, type ModelRef, type WorkSource } from '../queue/job-types.js';
import { IndexService, type EmbeddedItem } from './index.service.js';
import type { FinishStep, JobHandler, JobService } from './jobs.service.js';

/** What a reembed job keeps in its record. */
interface ReembedParams {
  readonly source: ModelRef;
  /** The version rebuilt to; `base` when it is a head version (a base model plus an alignment head). */
  readonly target: ModelRef & { readonly dimension: number; readonly base?: string | undefined };
  /**
   * Another version of the same base model (a head, or back to the base: a rollback): every item's
   * kept base embedding is projected again, no tower runs.
   */
  readonly reproject?: boolean;
  /** The directory of the version being built. */
  readonly buildDir?: string;
  /** The serving version's change number when the snapshot was read, and when it was last caught up with. */
  readonly baseSeq?: number;
  readonly lastSeq?: number;
  readonly preparing?: boolean;
}

const params = (job: JobRecord) => job.params as unknown as ReembedParams;

/**
 * `reembed`: rebuilds an index with a model (another one, or the same one from its kept sources)
 * side by side, then switches the name to the new version atomically.
 *
 * 1. The serving version's items are read (a snapshot at change number `baseSeq`) into chunks;
 *    each item is embedded again from its kept image, its URL or its text (a raw vector is
 *    copied when the model stays the same, else the item fails: there is nothing to embed).
 * 2. A chunk's vectors go into the new version only for items unchanged since they were read.
 * 3. When every chunk is done, the items written or deleted in the serving version since then are
 *    caught up with (in more chunks while there are many); the last few are done with writes held
 *    back at the index's write gate, then the name switches and writes resume on the new version.
 *
 * Searches are answered by the old version until the switch; a failed or cancelled rebuild
 * deletes the new version and leaves the old one untouched.
 */
export class ReembedJob implements JobHandler {
  readonly type = 'reembed' as const;

  constructor(private readonly jobs: JobService) {}

  private get indexes() {
    return this.jobs.deps.indexes;
  }

  /** Checks a request and says what it would rebuild: from which model to which. */
  plan(indexName: string, model: string | undefined, version: string | undefined): ReembedParams {
    const index = this.indexes.get(indexName);
    const registry = this.jobs.deps.registry;
    const id = model ?? index.model.id;
    if (!registry.ids().includes(id)) {
      throw new NotFoundError('model_not_found', `model ${JSON.stringify(id)} is not loaded; available: ${registry.ids().join(', ')}`, {
        param: 'model',
        details: { available: registry.ids() },
      });
    }
    const encoder = registry.get(id);
    const wanted = version ?? (model === undefined ? index.model.version : encoder.info.version);
    const resolved = this.indexes.resolve(id, wanted);
    if (!resolved) {
      const available = [encoder.info.version, ...this.indexes.versions.list(id).filter((entry) => entry.baseVersion === encoder.info.version).map((entry) => entry.version)];
      throw new NotFoundError('model_version_not_found', `model ${id} has no version ${wanted} here; available: ${available.join(', ')}`, {
        param: 'model_version',
        details: { available },
      });
    }
    for (const job of this.jobs.deps.store.active()) {
      if (job.type === 'reembed' && job.index === indexName) {
        throw new ConflictError('rebuild_in_progress', `index ${indexName} is already being re-embedded by ${job.id}`, { param: 'index', details: { job: job.id } });
      }
    }
    const base = resolved.head ? encoder.info.version : undefined;
    const sourceBase = IndexService.workModel(index);
    return {
      source: { id: index.model.id, version: index.model.version },
      target: { id, version: wanted, dimension: encoder.info.dimension, ...(base && { base }) },
      reproject: wanted !== index.model.version && sourceBase.id === id && sourceBase.version === encoder.info.version,
    };
  }

  /** Reads the serving version into chunks (after the 202). */
  async prepare(job: JobRecord): Promise<void> {
    const p = params(job);
    if (this.jobs.deps.store.get(job.id)?.state !== 'queued') return; // cancelled before it started
    const live = this.indexes.get(job.index);
    const { dirName } = this.indexes.store.createBuild(job.index, p.target, live.settings);
    const baseSeq = live.seq;
    this.jobs.update(job.id, { state: 'running', params: { ...job.params, buildDir: dirName, baseSeq, lastSeq: baseSeq } });
    const chunkSize = this.jobs.deps.settings.chunkSize;
    for (let after = -1; ; ) {
      const page = live.liveItems(after, chunkSize);
      if (page.length === 0) break;
      after = page.at(-1)!.slot;
      const current = this.jobs.deps.store.get(job.id)!;
      if (current.state !== 'running') return; // cancelled while reading
      await this.addItems(current, live, page, true);
      // Re-projection runs here, on the event loop: let requests through between pages.
      if (p.reproject) await new Promise((resolve) => setImmediate(resolve));
    }
    await this.jobs.seal(job.id);
    this.jobs.update(job.id, { params: { ...this.jobs.deps.store.get(job.id)!.params, preparing: false } });
  }

  /** What an item is embedded from again, or why it cannot be. */
  private sourceOf(item: CatalogItem, p: ReembedParams, live: VectorIndex): WorkSource | { copy: true } | { failed: { code: string; message: string } } {
    const target = p.target;
    if (p.reproject) return { copy: true };
    if (item.sourceBlob && this.jobs.deps.blobs.has(item.sourceBlob)) return { kind: 'blob', hash: item.sourceBlob };
    const kind = item.sourceKind ?? (item.sourceUrl ? 'image' : item.text ? 'text' : null);
    if (kind === 'text' && item.text) return { kind: 'text', text: item.text };
    if (kind === 'image' && item.sourceUrl) return { kind: 'url', url: item.sourceUrl };
    const liveBase = IndexService.workModel(live);
    if (kind === 'vector' && liveBase.id === target.id && liveBase.version === (target.base ?? target.version)) return { copy: true };
    if (kind === 'image') {
      return {
        failed: {
          code: 'source_not_kept',
          message: 'its image was not kept (LOOKBOOK_KEEP_SOURCES=false, or it was indexed before images were kept) and it has no URL to fetch it from again; add it again',
        },
      };
    }
    if (kind === 'vector') {
      return { failed: { code: 'no_source', message: `it was added as a raw ${item.modelId}@${item.modelVersion} vector: there is nothing to embed with ${target.id}@${target.version}; add it again` } };
    }
    return { failed: { code: 'no_source', message: 'it was indexed before sources were recorded, without a URL or text to embed again; add it again' } };
  }

  /**
   * Turns serving-version items into a chunk: raw vectors of the same model are copied into the
   * new version now, items with nothing to embed fail. Returns the chunk's number, and whether it
   * has work for a worker.
   */
  private async addItems(job: JobRecord, live: VectorIndex, items: readonly CatalogItem[], queue: boolean): Promise<{ n: number; work: number }> {
    const p = params(job);
    const entries: ChunkEntry[] = [];
    const failures: ItemFailure[] = [];
    const copies: EmbeddedItem[] = [];
    const copied: number[] = [];
    items.forEach((item, pos) => {
      const source = this.sourceOf(item, p, live);
      if ('failed' in source) failures.push({ pos, id: item.id, ...source.failed });
      else if ('copy' in source) {
        copies.push({ fields: this.fieldsOf(item), base: live.baseVectorOf(item) });
        copied.push(pos);
      } else entries.push({ pos, id: item.id, source, seq: item.seq });
    });
    const build = this.indexes.store.buildOf(job.index);
    if (build) this.indexes.upsertInto(build, copies);
    const n = await this.jobs.addChunk(job, entries, failures, items.length, queue);
    if (copied.length > 0) this.jobs.deps.store.resolve(job.id, n, copied, []);
    return { n, work: entries.length };
  }

  private fieldsOf(item: CatalogItem, blob?: string) {
    return {
      id: item.id,
      category: item.category,
      attributes: item.attributes,
      metadata: item.metadata,
      text: item.text,
      sourceUrl: item.sourceUrl,
      sourceKind: item.sourceKind,
      sourceBlob: item.sourceBlob ?? (this.jobs.deps.settings.keepSources ? (blob ?? null) : null),
      createdAt: item.createdAt,
    };
  }

  /** Workers embed with the target's base model; the new version projects with its head, if it has one. */
  workModel(job: JobRecord): ModelRef {
    const { target } = params(job);
    return { id: target.id, version: target.base ?? target.version };
  }

  workDimension(job: JobRecord): number {
    return params(job).target.dimension;
  }

  /**
   * Writes into the new version the vectors of items still as they were read. Items changed or
   * deleted since (their vector, or their failure: a replaced image is no longer kept) are done
   * here: the catch-up at the end takes their current state.
   */
  async apply(job: JobRecord, entries: ReadonlyMap<number, ChunkEntry>, results: ChunkResults, failures: readonly ItemFailure[]) {
    const work = this.workModel(job);
    if (results.model.id !== work.id || results.model.version !== work.version) {
      throw new ConflictError('model_mismatch', `this job embeds with ${work.id}@${work.version}, not ${results.model.id}@${results.model.version}`);
    }
    const build = this.indexes.store.buildOf(job.index);
    if (!build) return { done: [], failures: [] };
    const live = this.indexes.get(job.index);
    const unchanged = (pos: number) => {
      const entry = entries.get(pos)!;
      const item = live.get(entry.id);
      return item && item.seq === entry.seq ? item : undefined;
    };
    const written: EmbeddedItem[] = [];
    for (const { pos, vector, blob } of results.vectors) {
      const item = unchanged(pos);
      if (item) written.push({ fields: this.fieldsOf(item, blob), base: vector });
    }
    this.indexes.upsertInto(build, written);
    const standing = failures.filter((failure) => unchanged(failure.pos));
    const superseded = failures.filter((failure) => !unchanged(failure.pos)).map((failure) => failure.pos);
    return { done: [...results.vectors.map((entry) => entry.pos), ...superseded], failures: standing };
  }

  /**
   * Catches the new version up with what changed in the serving one, then switches. Many changes
   * become more chunks (the step runs again when they are done); a few are embedded here with
   * writes held back, so nothing lands in the old version after its last read.
   */
  async finish(job: JobRecord, step: FinishStep) {
    const p = params(job);
    const build = this.indexes.store.buildOf(job.index);
    if (!build) throw new ConflictError('rebuild_lost', `the version being built for index ${job.index} is gone`, { retryable: false });
    const live = this.indexes.get(job.index);
    const chunkSize = this.jobs.deps.settings.chunkSize;
    const changed = live.changedIdsSince(p.lastSeq ?? p.baseSeq ?? 0);
    if (changed.length > chunkSize) {
      const seq = live.seq;
      const chunks = await this.catchUpChunks(job, live, build, changed);
      this.jobs.update(job.id, { params: { ...job.params, lastSeq: seq } });
      if (chunks.length > 0) {
        await step.waitFor(chunks);
        return { status: 'waiting' as const };
      }
    }
    await this.indexes.store.closeWrites(job.index);
    try {
      const last = this.jobs.deps.store.get(job.id)!;
      const remaining = live.changedIdsSince(params(last).lastSeq ?? 0);
      await this.catchUpHere(last, live, build, remaining);
      const current = this.jobs.deps.store.get(job.id)!;
      if (current.state !== 'running') throw new ConflictError('job_finished', `job ${job.id} ended while switching`, { retryable: false });
      const promoted = this.indexes.store.promote(job.index);
      return {
        status: 'done' as const,
        result: {
          index: job.index,
          model: { id: promoted.model.id, version: promoted.model.version, dimension: promoted.model.dimension },
          previous_model: p.source,
          count: promoted.count,
        },
      };
    } finally {
      this.indexes.store.openWrites(job.index);
    }
  }

  /** Deletes what was deleted, and makes chunks (queued by the caller) of what was written, since the last catch-up. */
  private async catchUpChunks(job: JobRecord, live: VectorIndex, build: VectorIndex, ids: readonly string[]): Promise<number[]> {
    const items = this.settleDeletions(live, build, ids);
    const chunks: number[] = [];
    const chunkSize = this.jobs.deps.settings.chunkSize;
    for (let start = 0; start < items.length; start += chunkSize) {
      const { n, work } = await this.addItems(job, live, items.slice(start, start + chunkSize), false);
      if (work > 0) chunks.push(n);
    }
    return chunks;
  }

  /** Applies deletions to the new version; returns the live items among `ids`. */
  private settleDeletions(live: VectorIndex, build: VectorIndex, ids: readonly string[]): CatalogItem[] {
    const items: CatalogItem[] = [];
    const gone: string[] = [];
    for (const id of ids) {
      const item = live.get(id);
      if (item) items.push(item);
      else gone.push(id);
    }
    if (gone.length > 0) build.delete(gone);
    return items;
  }

  /** The last catch-up, with writes held back: embedded here, counted in a chunk of its own. */
  private async catchUpHere(job: JobRecord, live: VectorIndex, build: VectorIndex, ids: readonly string[]): Promise<void> {
    const items = this.settleDeletions(live, build, ids);
    if (items.length === 0) return;
    const { n, work } = await this.addItems(job, live, items, false);
    if (work === 0) return;
    const entries = (await this.jobs.deps.files.read(job.id, n)) ?? [];
    const embedded = await this.jobs.embedder.embed(this.workModel(job), entries, {
      readBlob: async (hash) => this.jobs.deps.blobs.readNow(hash),
      keep: this.jobs.deps.settings.keepSources ? (bytes) => this.jobs.deps.blobs.put(bytes, jobHolder(job.id)) : undefined,
    });
    const byPos = new Map(entries.map((entry) => [entry.pos, entry]));
    const written: EmbeddedItem[] = [];
    for (const { pos, vector, blob } of embedded.vectors) {
      const item = live.get(byPos.get(pos)!.id);
      if (item) written.push({ fields: this.fieldsOf(item, blob), base: vector });
    }
    this.indexes.upsertInto(build, written);
    this.jobs.deps.store.resolve(
      job.id,
      n,
      embedded.vectors.map((entry) => entry.pos),
      embedded.failures.map((failure) => ({ pos: failure.pos, id: byPos.get(failure.pos)!.id, code: failure.code, message: failure.message })),
    );
  }

  abandon(job: JobRecord): void {
    this.indexes.store.dropBuild(job.index);
  }

  /** After a restart: reopen the version being built, or say why the job cannot go on. */
  adopt(job: JobRecord): 'resume' | { code: string; message: string } | { completed: Record<string, unknown> } {
    const p = params(job);
    if (!p.buildDir) return { code: 'interrupted', message: 'the server stopped before the rebuild started; submit it again' };
    if (!this.indexes.store.has(job.index)) return { code: 'index_deleted', message: `index ${job.index} was deleted` };
    if (this.indexes.store.adoptBuild(job.index, p.buildDir)) return 'resume';
    const live = this.indexes.get(job.index);
    if (live.model.id === p.target.id && live.model.version === p.target.version && this.indexes.store.dirOf(job.index) === p.buildDir) {
      return { completed: { index: job.index, model: live.model, previous_model: p.source, count: live.count } };
    }
    return { code: 'interrupted', message: 'the version being built was lost in a restart; submit the job again' };
  }
}
