import { runAlignment } from '../alignment/run-alignment.js';
import { DEFAULT_ALIGNMENT_OPTIONS, type AlignmentData, type AlignmentOptions } from '../alignment/trainer.js';
import { AppError, ConflictError } from '../errors.js';
import type { GraphStore } from '../index/graph-store.js';
import type { JobRecord } from '../queue/job-store.js';
import type { ModelRef } from '../queue/job-types.js';
import { IndexService } from './index.service.js';
import type { JobHandler, JobService } from './jobs.service.js';

/** What an align job keeps in its record. */
interface AlignParams {
  readonly model: ModelRef;
  readonly options: AlignmentOptions;
}

/** Items whose embedding a text is embedded at once, while the item vectors are gathered. */
const TEXTS_IN_FLIGHT = 256;

/**
 * `align`: learns a neighbor-alignment head (PinCLIP) on an index's item graph, on top of the
 * frozen base embeddings the index keeps, and registers it as a new version of the base model
 * (`<base>+align.<n>`). It does not switch the index: a `reembed` to that version does (and back,
 * a rollback), by re-projecting the kept base embeddings.
 *
 * The job has no chunks: its finishing step (on the owner) gathers the base embeddings, embeds the
 * texts of items that have an image and a text with the base text tower (for the image–text term),
 * and trains in a worker thread, its progress counted in training steps.
 */
export class AlignJob implements JobHandler {
  readonly type = 'align' as const;
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly jobs: JobService,
    private readonly graphs: GraphStore,
  ) {}

  private get indexes() {
    return this.jobs.deps.indexes;
  }

  /** Checks a request and fixes what the job will learn from. */
  plan(indexName: string, options: Partial<AlignmentOptions>): AlignParams {
    const index = this.indexes.get(indexName);
    if (!this.graphs.summary(indexName)) {
      throw new ConflictError('graph_not_found', `index ${indexName} has no graph to align to; upload one with POST /v1/indexes/${indexName}/graph`, { param: 'index' });
    }
    const model = IndexService.workModel(index);
    if (!this.indexes.resolve(model.id, model.version)) {
      throw new ConflictError('index_model_unavailable', `index ${indexName} is built from ${model.id}@${model.version}, which this server has not loaded`, { param: 'index' });
    }
    return { model, options: { ...DEFAULT_ALIGNMENT_OPTIONS, ...options } };
  }

  workModel(job: JobRecord): ModelRef {
    return (job.params as unknown as AlignParams).model;
  }

  workDimension(job: JobRecord): number {
    return this.indexes.get(job.index).model.dimension;
  }

  async apply(): Promise<never> {
    throw new Error('an align job has no chunks');
  }

  async finish(job: JobRecord) {
    const { model, options } = job.params as unknown as AlignParams;
    const resolved = this.indexes.resolve(model.id, model.version);
    if (!resolved) throw new ConflictError('index_model_unavailable', `${model.id}@${model.version} is not loaded`, { retryable: false });
    const live = this.indexes.get(job.index);
    const current = IndexService.workModel(live);
    if (current.id !== model.id || current.version !== model.version) {
      throw new ConflictError('index_model_changed', `index ${job.index} is now built from ${current.id}@${current.version}, not ${model.id}@${model.version}`, { retryable: false });
    }
    this.jobs.update(job.id, { state: 'running' });
    const controller = new AbortController();
    this.running.set(job.id, controller);
    try {
      const data = await this.gather(job, live, resolved.encoder);
      this.jobs.deps.store.setProgress(job.id, options.steps, 0);
      const { head, metrics } = await runAlignment(
        data,
        options,
        (progress) => {
          this.jobs.deps.store.setProgress(job.id, progress.steps, progress.step);
          this.jobs.update(job.id, {});
        },
        controller.signal,
      ).catch((error: unknown) => {
        // Training is deterministic: what failed once fails again.
        throw error instanceof AppError ? error : new AppError(422, 'invalid_request_error', 'alignment_failed', `training failed: ${(error as Error).message}`, { retryable: false });
      });
      const summary = this.graphs.summary(job.index);
      const version = this.indexes.versions.add(model.id, model.version, head, {
        job: job.id,
        index: job.index,
        graph: summary,
        items: data.count,
        texts: data.texts?.items.length ?? 0,
        options,
        metrics,
      });
      const total = this.jobs.deps.store.get(job.id)!.total;
      this.jobs.deps.store.setProgress(job.id, total, total);
      return { status: 'done' as const, result: { model: model.id, model_version: version.version, base_version: model.version, metrics } };
    } finally {
      this.running.delete(job.id);
    }
  }

  /** The base embeddings of the live items, the texts' base embeddings, and the graph as item indexes. */
  private async gather(job: JobRecord, live: ReturnType<IndexService['get']>, encoder: NonNullable<ReturnType<IndexService['resolve']>>['encoder']): Promise<AlignmentData> {
    const d = live.model.dimension;
    const ids: string[] = [];
    const chunks: Float32Array[] = [];
    const withText: { item: number; text: string }[] = [];
    for (let after = -1; ; ) {
      const page = live.liveItems(after, 1000);
      if (page.length === 0) break;
      after = page.at(-1)!.slot;
      const block = new Float32Array(page.length * d);
      page.forEach((item, i) => {
        block.set(live.baseVectorOf(item), i * d);
        const madeFromImage = item.sourceKind === 'image' || (item.sourceKind === null && item.sourceUrl !== null);
        if (madeFromImage && item.text && item.text.trim() !== '') withText.push({ item: ids.length + i, text: item.text });
      });
      ids.push(...page.map((item) => item.id));
      chunks.push(block);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const vectors = new Float32Array(ids.length * d);
    let at = 0;
    for (const block of chunks) {
      vectors.set(block, at);
      at += block.length;
    }
    // The image–text term needs the texts' base embeddings: the text tower, batched.
    const textVectors = new Float32Array(withText.length * d);
    for (let start = 0; start < withText.length; start += TEXTS_IN_FLIGHT) {
      const slice = withText.slice(start, start + TEXTS_IN_FLIGHT);
      const embedded = await Promise.all(slice.map((entry) => encoder.embedText(entry.text)));
      embedded.forEach((embedding, i) => textVectors.set(embedding.vector, (start + i) * d));
    }
    const position = new Map(ids.map((id, i) => [id, i]));
    const graph = this.graphs.load(job.index);
    const boards = graph.boards
      .map((board) => Int32Array.from(board.items.flatMap((id) => (position.has(id) ? [position.get(id)!] : []))))
      .filter((board) => board.length >= 2);
    const pairs = graph.pairs.filter(([a, b]) => position.has(a) && position.has(b));
    if (boards.length === 0 && pairs.length === 0) {
      throw new AppError(409, 'invalid_request_error', 'graph_empty', `the graph of index ${job.index} has no board or pair of two items the index holds`, { retryable: false });
    }
    return {
      dimension: d,
      count: ids.length,
      vectors,
      texts: withText.length > 0 ? { items: Int32Array.from(withText.map((entry) => entry.item)), vectors: textVectors } : undefined,
      boards,
      pairs: pairs.length > 0 ? { a: Int32Array.from(pairs.map(([a]) => position.get(a)!)), b: Int32Array.from(pairs.map(([, b]) => position.get(b)!)), weight: Float32Array.from(pairs.map(([, , w]) => w)) } : undefined,
    };
  }

  abandon(job: JobRecord): void {
    this.running.get(job.id)?.abort(new ConflictError('job_finished', `job ${job.id} was stopped`));
  }
}
