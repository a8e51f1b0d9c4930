import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readdir } from 'node:fs/promises';
import { WaitingChildrenError, type Job } from 'bullmq';
import type { ModelRegistry } from '../encoders/model-registry.js';
import { AppError, ConflictError, NotFoundError, QueueUnavailableError, ValidationError } from '../errors.js';
import type { BlobStore } from '../index/blob-store.js';
import type { Logger } from '../logger.js';
import type { ImageSourceOptions } from '../media/image-source.js';
import type { ChunkFiles } from '../queue/chunk-files.js';
import type { JobQueues } from '../queue/job-queues.js';
import type { ItemFailure, JobRecord, JobStore } from '../queue/job-store.js';
import {
  isTerminal,
  JOB_TYPES,
  type ApplyOutcome,
  type ChunkEntry,
  type ChunkResults,
  type ChunkWork,
  type JobState,
  type JobType,
  type ModelRef,
  type ParentJobData,
  jobHolder,
} from '../queue/job-types.js';
import type { OwnerClient } from '../queue/owner-client.js';
import { redact } from '../queue/redis.js';
import { WorkEmbedder } from '../queue/work-embedder.js';
import type { IndexService } from './index.service.js';

export interface JobSettings {
  /** Most items per chunk. */
  readonly chunkSize: number;
  readonly keepSources: boolean;
  readonly manifestMaxBytes: number;
  /** Deadline for fetching a manifest URL. @defaultValue 10 minutes */
  readonly manifestTimeoutMs?: number | undefined;
}

export interface JobServiceDeps {
  readonly store: JobStore;
  readonly files: ChunkFiles;
  /** Undefined when the service runs without Redis: job routes answer 503. */
  readonly queues: JobQueues | undefined;
  readonly indexes: IndexService;
  readonly registry: ModelRegistry;
  readonly blobs: BlobStore;
  readonly images: ImageSourceOptions;
  readonly settings: JobSettings;
  readonly logger: Logger;
}

/** Lets a handler's finishing step add chunks and wait for them (BullMQ's "process step jobs" pattern). */
export interface FinishStep {
  /** Queues these chunks as children of the job; the finishing step runs again once they are done. */
  waitFor(chunks: readonly number[]): Promise<void>;
}

/** One job type's behaviour; the service keeps exactly one per type in {@link JOB_TYPES}. */
export interface JobHandler {
  readonly type: JobType;
  /** The model a chunk of this job is embedded with. */
  workModel(job: JobRecord): ModelRef;
  /** How many dimensions the vectors of {@link workModel} have (what a chunk's results must carry). */
  workDimension(job: JobRecord): number;
  /**
   * Applies the vectors a worker computed for a chunk, given the items that failed for good;
   * returns the positions done and the failures that stand. May throw a retryable error (the
   * worker tries again).
   */
  apply(job: JobRecord, entries: ReadonlyMap<number, ChunkEntry>, results: ChunkResults, failures: readonly ItemFailure[]): Promise<{ done: number[]; failures: ItemFailure[] }>;
  /** Runs once every chunk is done: `done` with the job's result, or `waiting` after {@link FinishStep.waitFor}. */
  finish(job: JobRecord, step: FinishStep): Promise<{ status: 'done'; result: Record<string, unknown> } | { status: 'waiting' }>;
  /** Undoes what the job started; it was cancelled or failed. */
  abandon(job: JobRecord): void;
}

const newJobId = () => `job_${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;

/**
 * Background jobs, on the process that owns the indexes: it takes items in (chunk files, kept
 * images), queues a BullMQ flow per job, hands chunks to workers and applies their vectors as
 * idempotent upserts, counts every item once, and finishes each job with its type's handler.
 * It is also the workers' {@link OwnerClient}: the in-process worker calls it directly, separate
 * workers through the `/v1/worker` routes.
 */
export class JobService implements OwnerClient {
  /** Emits `job` with a {@link JobRecord} whenever one changes. */
  readonly events = new EventEmitter();
  private readonly handlers = new Map<JobType, JobHandler>();
  /** Input steps running after a job's 202 (a manifest fetched or read), stopped when the job ends. */
  private readonly inputSteps = new Map<string, AbortController>();
  /** Closed (the service is shutting down): input steps still running neither fail their jobs nor touch the job store. */
  private closed = false;
  readonly embedder: WorkEmbedder;

  constructor(readonly deps: JobServiceDeps) {
    this.events.setMaxListeners(0);
    this.embedder = new WorkEmbedder({ registry: deps.registry, images: deps.images });
  }

  /** Registers the handlers; every job type must have exactly one (checked at start-up, as Immich does). */
  register(handlers: readonly JobHandler[]): void {
    for (const handler of handlers) {
      if (this.handlers.has(handler.type)) throw new Error(`two handlers for job type ${handler.type}`);
      this.handlers.set(handler.type, handler);
    }
    const missing = JOB_TYPES.filter((type) => !this.handlers.has(type));
    if (missing.length > 0) throw new Error(`no handler for job type(s) ${missing.join(', ')}`);
  }

  private handler(type: JobType): JobHandler {
    const handler = this.handlers.get(type);
    if (!handler) throw new Error(`no handler for job type ${type}`);
    return handler;
  }

  get available(): boolean {
    return this.deps.queues?.ready ?? false;
  }

  /** Throws a 503 unless jobs can be queued now. */
  requireQueue(): JobQueues {
    const queues = this.deps.queues;
    if (!queues) throw new QueueUnavailableError('background jobs are off on this server (LOOKBOOK_REDIS_URL=none)');
    if (!queues.ready) {
      throw new QueueUnavailableError(`Redis (${redact(queues.settings.redisUrl)}) does not answer; background jobs are unavailable until it does`);
    }
    return queues;
  }

  // ---- records ---------------------------------------------------------------------------

  get(id: string): JobRecord {
    const job = this.deps.store.get(id);
    if (!job) throw new NotFoundError('job_not_found', `no job ${JSON.stringify(id)}`, { param: 'id' });
    return job;
  }

  list(options: { limit: number; before?: string | undefined; index?: string | undefined; states?: readonly JobState[] | undefined }): JobRecord[] {
    // An unknown cursor would page from the start again (jobs are never deleted: it is a mistake).
    if (options.before !== undefined && !this.deps.store.get(options.before)) {
      throw new ValidationError(`no job ${JSON.stringify(options.before)}: before takes the last job id of the previous page`, { param: 'before', code: 'invalid_request' });
    }
    return this.deps.store.list(options);
  }

  failures(id: string, limit: number, after?: string) {
    this.get(id);
    return this.deps.store.failures(id, limit, after);
  }

  /** Updates a job and tells listeners. */
  update(id: string, patch: Parameters<JobStore['update']>[1]): JobRecord {
    const job = this.deps.store.update(id, patch);
    this.events.emit('job', job);
    return job;
  }

  private announce(id: string): void {
    const job = this.deps.store.get(id);
    if (job) this.events.emit('job', job);
  }

  /** Creates a job's record and its BullMQ parent (with the seal that keeps it open). */
  async create(type: JobType, index: string, params: Record<string, unknown>, options: { open: boolean }): Promise<JobRecord> {
    const queues = this.requireQueue();
    const id = newJobId();
    const job = this.deps.store.create({ id, type, index, open: options.open, params });
    try {
      await queues.createParent(id, type);
    } catch (error) {
      this.deps.store.update(id, { state: 'failed', error: { code: 'queue_unavailable', message: 'the job could not be queued: Redis did not answer' } });
      throw new QueueUnavailableError(`the job could not be queued: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.events.emit('job', job);
    return job;
  }

  /**
   * Records a chunk (`size` positions: the entries to embed and the items that already failed),
   * writes its file and, unless `queue` is false (the caller queues it), its flow child.
   * Returns its number.
   */
  async addChunk(job: JobRecord, entries: readonly ChunkEntry[], failures: readonly ItemFailure[], size: number, queue = true): Promise<number> {
    // A job that ended (cancelled, its index deleted) while its input was read takes nothing more.
    await this.refuseEnded(job.id);
    const n = this.deps.store.addChunk(job.id, size, failures);
    if (entries.length > 0) {
      try {
        await this.deps.files.write(job.id, n, entries);
        await this.refuseEnded(job.id);
        if (queue) await this.queueChunk(job, n);
      } catch (error) {
        await this.refuseEnded(job.id);
        throw error;
      }
    }
    this.announce(job.id);
    return n;
  }

  /**
   * Queues a recorded chunk. A chunk that Redis cannot take because it is away waits on record:
   * {@link reconcile} queues it when Redis is back, so a blip does not fail the job whose input is
   * being read. Redis back without its data (the job's parent gone): the parent is made again.
   */
  private async queueChunk(job: JobRecord, n: number): Promise<void> {
    await this.unlessRedisIsAway(async (queues) => {
      try {
        await queues.addChunk(job.id, n);
      } catch (error) {
        if (!queues.ready) throw error;
        await queues.createParent(job.id, job.type);
        await queues.addChunk(job.id, n);
      }
    });
  }

  /**
   * Runs a queue step, or leaves it to {@link reconcile} while Redis is away (before or during the
   * step): the job's records say what Redis must hold. Throws 503 without a queue at all.
   */
  private async unlessRedisIsAway(step: (queues: JobQueues) => Promise<void>): Promise<void> {
    const queues = this.deps.queues;
    if (!queues) return void this.requireQueue();
    if (!queues.ready) return;
    try {
      await step(queues);
    } catch (error) {
      if (queues.ready) throw error;
      this.deps.logger.warn({ err: error }, 'Redis went away: what the job needs is queued when it is back');
    }
  }

  /**
   * Throws 409 `job_finished` once a job has ended, after letting go of what its intake put down
   * meanwhile (its clean-up may have run before: chunk files, held images).
   */
  private async refuseEnded(id: string): Promise<void> {
    const state = this.deps.store.get(id)?.state ?? 'cancelled';
    if (!isTerminal(state)) return;
    await this.cleanUp(id);
    throw new ConflictError('job_finished', `job ${id} has ended (${state}); it takes no more items`, { param: 'id' });
  }

  /** Seals a job: no more chunks, it ends once those it has are done. */
  async seal(id: string): Promise<JobRecord> {
    const job = this.update(id, { open: false });
    await this.unlessRedisIsAway((queues) => queues.seal(id));
    return job;
  }

  /** Cancels a job that has not ended: no more chunks start, its partial work is undone where the type can. */
  async cancel(id: string): Promise<JobRecord> {
    const job = this.get(id);
    if (isTerminal(job.state)) throw new ConflictError('job_finished', `job ${id} has already ended (${job.state})`, { param: 'id' });
    return this.end(job, 'cancelled');
  }

  /** Ends a job as cancelled or failed: undoes its work, drops its queued chunks and what it holds. */
  private async end(job: JobRecord, state: 'cancelled' | 'failed', error?: { code: string; message: string }): Promise<JobRecord> {
    const ended = this.update(job.id, { state, open: false, ...(error && { error }) });
    this.inputSteps.get(job.id)?.abort(new ConflictError('job_finished', `job ${job.id} has ended (${state})`));
    try {
      this.handler(job.type).abandon(job);
    } catch (caught) {
      this.deps.logger.error({ err: caught, job: job.id }, 'could not undo the work of an ended job');
    }
    if (this.deps.queues?.ready) await this.deps.queues.cancel(job.id).catch(() => undefined);
    await this.cleanUp(job.id);
    return ended;
  }

  private async cleanUp(id: string): Promise<void> {
    this.deps.blobs.release(jobHolder(id));
    await this.deps.files.remove(id);
  }

  /** Jobs on a deleted index fail. */
  async onIndexDeleted(name: string): Promise<void> {
    for (const job of this.deps.store.active()) {
      if (job.index === name) await this.end(job, 'failed', { code: 'index_deleted', message: `index ${name} was deleted` });
    }
  }

  /**
   * Runs a job's input-taking step (a manifest, a snapshot) after the 202; a failure fails the job.
   * The step's signal is aborted when the job ends (a manifest fetch stops at once).
   */
  runInBackground(job: JobRecord, step: (signal: AbortSignal) => Promise<void>): void {
    const controller = new AbortController();
    this.inputSteps.set(job.id, controller);
    step(controller.signal).finally(() => this.inputSteps.delete(job.id)).catch(async (error: unknown) => {
      // Cut off by a shutdown: the job stays as it was, and the next start settles it (a job still reading its input is failed as interrupted).
      if (this.closed) return;
      const current = this.deps.store.get(job.id);
      if (!current || isTerminal(current.state)) return;
      const reason = error instanceof AppError ? { code: error.code, message: error.message } : { code: 'internal_error', message: String(error) };
      if (!(error instanceof AppError)) this.deps.logger.error({ err: error, job: job.id }, 'job input step failed');
      await this.end(current, 'failed', reason);
    });
  }

  /** Stops the input steps still running (before the job store closes under them); their jobs are left as they are. */
  close(): void {
    this.closed = true;
    for (const controller of this.inputSteps.values()) controller.abort(new ConflictError('shutting_down', 'the service is shutting down'));
  }

  // ---- the workers' side (OwnerClient) ----------------------------------------------------

  async fetchChunk(jobId: string, chunk: number): Promise<ChunkWork> {
    const job = this.deps.store.get(jobId);
    if (!job) return { status: 'skip', reason: `no job ${jobId}` };
    if (isTerminal(job.state)) return { status: 'skip', reason: `job ${jobId} has ended (${job.state})` };
    const entries = await this.deps.files.read(jobId, chunk);
    const resolved = this.deps.store.resolved(jobId, chunk);
    if (!entries || !resolved) return { status: 'skip', reason: `job ${jobId} has no chunk ${chunk}` };
    const model = this.handler(job.type).workModel(job);
    if (job.state === 'queued') this.update(jobId, { state: 'running' });
    return {
      status: 'ready',
      jobId,
      type: job.type,
      index: job.index,
      chunk,
      model,
      keepImages: this.deps.settings.keepSources,
      items: entries.filter((entry) => !resolved.has(entry.pos)).map(({ pos, id, source }) => ({ pos, id, source })),
    };
  }

  async readBlob(hash: string): Promise<Uint8Array | undefined> {
    return this.deps.blobs.readNow(hash);
  }

  async keepImage(jobId: string, bytes: Uint8Array): Promise<string> {
    const job = this.get(jobId);
    if (isTerminal(job.state)) throw new ConflictError('job_finished', `job ${jobId} has ended`);
    return this.deps.blobs.put(bytes, jobHolder(jobId));
  }

  /**
   * Applies a chunk's results: vectors are upserted by item id (so a retried chunk never adds an
   * item twice), final failures recorded; each position counts once. Results for a job that has
   * ended are ignored; results for a chunk the job does not have, or with vectors of another
   * dimension than its model's, are refused before anything is written.
   */
  async submitResults(jobId: string, chunk: number, results: ChunkResults): Promise<ApplyOutcome> {
    const job = this.deps.store.get(jobId);
    if (!job || isTerminal(job.state)) return { pending: 0 };
    const stored = await this.deps.files.read(jobId, chunk);
    const resolved = this.deps.store.resolved(jobId, chunk);
    if (!stored || !resolved) {
      // The job may have ended (and its chunk files gone) since it was looked up: ignored as above.
      if (isTerminal(this.deps.store.get(jobId)?.state ?? 'cancelled')) return { pending: 0 };
      throw new NotFoundError('chunk_not_found', `job ${jobId} has no chunk ${chunk}`, { param: 'chunk' });
    }
    const handler = this.handler(job.type);
    this.checkDimensions(job, handler, results);
    const entries = new Map(stored.map((entry) => [entry.pos, entry]));
    const fresh = { ...results, vectors: results.vectors.filter((entry) => entries.has(entry.pos) && !resolved.has(entry.pos)) };
    const final = results.failures
      .filter((failure) => entries.has(failure.pos) && !resolved.has(failure.pos) && (!failure.retryable || results.final))
      .map((failure) => ({ pos: failure.pos, id: entries.get(failure.pos)!.id, code: failure.code, message: failure.message }));
    const applied = await handler.apply(job, entries, fresh, final);
    // The job may have ended while its vectors were being written (cancelled, its index deleted).
    if (isTerminal(this.deps.store.get(jobId)?.state ?? 'cancelled')) return { pending: 0 };
    const pending = this.deps.store.resolve(jobId, chunk, applied.done, applied.failures);
    this.announce(jobId);
    return { pending };
  }

  /**
   * Refuses vectors whose length is not the dimension of the job's model. Results from another
   * model are left to the handler, which refuses them as a conflict (the index may have switched
   * models since the chunk was fetched: the worker fetches it again).
   */
  private checkDimensions(job: JobRecord, handler: JobHandler, results: ChunkResults): void {
    const model = handler.workModel(job);
    if (results.model.id !== model.id || results.model.version !== model.version) return;
    const dimension = handler.workDimension(job);
    results.vectors.forEach((entry, i) => {
      if (entry.vector.length !== dimension) {
        throw new ValidationError(`the vector has ${entry.vector.length} dimensions; ${model.id}@${model.version}, which job ${job.id} embeds with, gives ${dimension}`, {
          code: 'dimension_mismatch',
        }).about(`vectors[${i}].vector`);
      }
    });
  }

  // ---- finishing (the flow's parent, owner only) --------------------------------------------

  /** Processes a job's BullMQ parent: marks chunks that failed every try, then lets the handler finish. */
  async processParent(parent: Job<ParentJobData>, token: string | undefined): Promise<unknown> {
    const job = this.deps.store.get(parent.data.jobId);
    if (!job) return { skipped: 'no such job' };
    if (isTerminal(job.state)) {
      await this.cleanUp(job.id);
      return { state: job.state };
    }
    const failedChildren = await parent.getIgnoredChildrenFailures();
    for (const n of this.deps.store.incompleteChunks(job.id)) {
      const reason = Object.entries(failedChildren).find(([key]) => key.endsWith(`:${job.id}.${n}`))?.[1] ?? 'no worker could process it';
      const entries = (await this.deps.files.read(job.id, n)) ?? [];
      const resolved = this.deps.store.resolved(job.id, n) ?? new Set<number>();
      const failures = entries
        .filter((entry) => !resolved.has(entry.pos))
        .map((entry) => ({ pos: entry.pos, id: entry.id, code: 'chunk_failed', message: `its chunk failed on every try: ${reason}` }));
      this.deps.store.resolve(job.id, n, [], failures);
    }
    const step: FinishStep = {
      waitFor: async (chunks) => {
        await this.requireQueue().addChildrenOf(parent, chunks);
      },
    };
    let outcome;
    try {
      outcome = await this.handler(job.type).finish(this.deps.store.get(job.id)!, step);
    } catch (error) {
      const retryable = !(error instanceof AppError) || error.retryable;
      if (retryable && parent.attemptsMade + 1 < (parent.opts.attempts ?? 1)) throw error;
      const reason = error instanceof AppError ? { code: error.code, message: error.message } : { code: 'internal_error', message: String(error) };
      if (!(error instanceof AppError)) this.deps.logger.error({ err: error, job: job.id }, 'job finishing step failed');
      const current = this.deps.store.get(job.id);
      if (current && !isTerminal(current.state)) await this.end(current, 'failed', reason);
      return { state: 'failed', error: reason };
    }
    if (outcome.status === 'waiting') {
      if (token && (await parent.moveToWaitingChildren(token))) throw new WaitingChildrenError();
      return this.processParent(parent, token);
    }
    const current = this.deps.store.get(job.id);
    if (current && !isTerminal(current.state)) this.update(job.id, { state: 'completed', result: outcome.result });
    await this.cleanUp(job.id);
    return { state: 'completed' };
  }

  // ---- start-up and reconnection -----------------------------------------------------------

  /**
   * Brings the jobs back after a restart: fails those whose input was being read, lets handlers
   * adopt what they had on disk, clears holds and files of ended jobs, starts the finishing worker
   * and (now, and each time Redis comes back) re-queues what Redis lost.
   */
  async start(options: { adopt: (job: JobRecord) => 'resume' | { code: string; message: string } | { completed: Record<string, unknown> } }): Promise<void> {
    for (const job of this.deps.store.active()) {
      if (job.params.preparing === true) {
        await this.end(job, 'failed', { code: 'interrupted', message: 'the server stopped while this job\'s input was being read; submit it again' });
        continue;
      }
      const verdict = options.adopt(job);
      if (verdict === 'resume') continue;
      if ('completed' in verdict) {
        this.update(job.id, { state: 'completed', result: verdict.completed });
        await this.cleanUp(job.id);
      } else await this.end(job, 'failed', verdict);
    }
    const active = new Set(this.deps.store.active().map((job) => job.id));
    this.deps.blobs.recover((holder) => holder.startsWith('job:') && active.has(holder.slice(4)));
    for (const dir of await readdir(this.deps.files.root).catch(() => [] as string[])) {
      if (!active.has(dir)) await this.deps.files.remove(dir);
    }
    const queues = this.deps.queues;
    if (!queues) return;
    queues.startParentWorker((parent, token) => this.processParent(parent, token));
    queues.link.on('ready', () => {
      this.reconcile().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'could not re-queue jobs after Redis came back'));
    });
    if (queues.ready) await this.reconcile();
  }

  /** Re-creates, for every job that has not ended, what Redis may have lost (a no-op for what it kept). */
  async reconcile(): Promise<void> {
    const queues = this.deps.queues;
    if (!queues?.ready) return;
    // Jobs whose input is still being read too: their chunks so far are queued, the rest as they come.
    for (const job of this.deps.store.active()) {
      await queues.createParent(job.id, job.type);
      for (const n of this.deps.store.incompleteChunks(job.id)) {
        // A chunk whose file is still being written is queued by its writer (a worker would find nothing).
        if (this.deps.files.has(job.id, n)) await queues.addChunk(job.id, n);
      }
      if (!job.open) await queues.seal(job.id);
    }
  }
}
