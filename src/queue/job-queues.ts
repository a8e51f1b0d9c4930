import { FlowProducer, Queue, Worker, type Job, type Processor } from 'bullmq';
import type { Logger } from '../logger.js';
import { settleWithin } from '../util/settle.js';
import type { ChunkJobData, JobType, ParentJobData } from './job-types.js';
import { RedisLink, workerConnection, type QueueSettings } from './redis.js';

/** Queue names (under `LOOKBOOK_QUEUE_PREFIX`): one parent per job, one child per chunk. */
export const PARENT_QUEUE = 'jobs';
export const CHUNK_QUEUE = 'chunks';

/** A job's seal: a child that waits (delayed) until no more chunks will be added, so the parent cannot finish early. */
const SEAL_DELAY_MS = 10 * 365 * 24 * 3600 * 1000;

export const chunkJobId = (jobId: string, n: number) => `${jobId}.${n}`;
export const sealJobId = (jobId: string) => `${jobId}.seal`;

/**
 * The owner's side of BullMQ: a job is a flow whose parent (queue `jobs`, processed only by the
 * owner) waits for a child per chunk (queue `chunks`, processed by any worker) and for its seal.
 * Chunk children have deterministic ids, so adding one twice (a retried append, a reconciliation)
 * is a no-op.
 */
export class JobQueues {
  readonly link: RedisLink;
  private producers: { parents: Queue<ParentJobData>; chunks: Queue<ChunkJobData | Record<string, never>>; flow: FlowProducer } | undefined;
  private parentWorker: Worker<ParentJobData> | undefined;
  private readonly dashboards: Queue[] = [];

  constructor(
    readonly settings: QueueSettings,
    private readonly logger: Logger,
  ) {
    this.link = new RedisLink(settings, logger);
    // BullMQ reads Redis' version and loads its scripts when a queue is made; on a connection that
    // fails fast (no offline queue) that must happen while it is up, so producers are made on the
    // first connection and kept: later reconnections keep their scripts.
    this.link.on('ready', () => this.produce());
  }

  private produce() {
    if (!this.producers) {
      const options = { connection: this.link.client, prefix: this.settings.prefix, skipWaitingForReady: true };
      const producers = { parents: new Queue<ParentJobData>(PARENT_QUEUE, options), chunks: new Queue<ChunkJobData | Record<string, never>>(CHUNK_QUEUE, options), flow: new FlowProducer(options) };
      // Connection errors: RedisLink logs the state once.
      producers.parents.on('error', () => undefined);
      producers.chunks.on('error', () => undefined);
      producers.flow.on('error', () => undefined);
      this.producers = producers;
    }
    return this.producers;
  }

  get ready(): boolean {
    return this.link.ready;
  }

  get parents(): Queue<ParentJobData> {
    return this.produce().parents;
  }

  get chunks(): Queue<ChunkJobData | Record<string, never>> {
    return this.produce().chunks;
  }

  private get flow(): FlowProducer {
    return this.produce().flow;
  }

  /** Queues for the dashboard, on connections of their own (they wait for Redis rather than fail). */
  dashboardQueues(): Queue[] {
    if (this.dashboards.length === 0) {
      for (const name of [PARENT_QUEUE, CHUNK_QUEUE]) {
        const queue = new Queue(name, { connection: { url: this.settings.redisUrl }, prefix: this.settings.prefix });
        queue.on('error', () => undefined);
        this.dashboards.push(queue);
      }
    }
    return this.dashboards;
  }

  /** Creates a job's parent with its seal, unless it exists already. */
  async createParent(jobId: string, type: JobType): Promise<void> {
    if (await this.parents.getJob(jobId)) return;
    await this.flow.add({
      name: type,
      queueName: PARENT_QUEUE,
      data: { jobId, type },
      opts: { jobId, attempts: 3, backoff: { type: 'exponential', delay: this.settings.backoffMs }, removeOnComplete: { age: 7 * 24 * 3600, count: 1000 } },
      children: [{ name: 'seal', queueName: CHUNK_QUEUE, data: {}, opts: { jobId: sealJobId(jobId), delay: SEAL_DELAY_MS } }],
    });
  }

  /** Adds the child for chunk `n` (a no-op if it exists). */
  async addChunk(jobId: string, n: number): Promise<void> {
    await this.chunks.add('chunk', { jobId, chunk: n }, this.chunkOptions(jobId, n));
  }

  private chunkOptions(jobId: string, n: number) {
    return {
      jobId: chunkJobId(jobId, n),
      parent: { id: jobId, queue: this.parents.qualifiedName },
      attempts: this.settings.attempts,
      backoff: { type: 'exponential' as const, delay: this.settings.backoffMs },
      // A chunk that fails on every try does not hold its job back: the job ends with its items failed.
      ignoreDependencyOnFailure: true,
      removeOnComplete: { age: 3600, count: 2000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  /** Adds chunks as children of a parent that is running (a step of its own processing). */
  async addChildrenOf(parent: Job<ParentJobData>, chunks: readonly number[]): Promise<void> {
    const jobId = parent.data.jobId;
    await this.chunks.addBulk(chunks.map((n) => ({ name: 'chunk', data: { jobId, chunk: n }, opts: this.chunkOptions(jobId, n) })));
  }

  /** No more chunks: the parent runs once the ones it has are done. */
  async seal(jobId: string): Promise<void> {
    const seal = await this.chunks.getJob(sealJobId(jobId));
    if (seal && (await seal.isDelayed())) await seal.promote();
  }

  /** Drops the chunks no worker has started, and the seal, so the parent finishes (as cancelled) once the running ones end. */
  async cancel(jobId: string): Promise<void> {
    const parent = await this.parents.getJob(jobId);
    if (parent) await parent.removeUnprocessedChildren();
  }

  /** Processes parents (in the owner only). */
  startParentWorker(processor: Processor<ParentJobData>, concurrency = 4): void {
    this.parentWorker = new Worker<ParentJobData>(PARENT_QUEUE, processor, {
      connection: workerConnection(this.settings),
      prefix: this.settings.prefix,
      concurrency,
      lockDuration: this.settings.lockMs,
      stalledInterval: this.settings.lockMs,
    });
    this.parentWorker.on('error', () => undefined); // connection errors: RedisLink logs the state
    this.parentWorker.on('failed', (job, error) => this.logger.warn({ job: job?.data.jobId, err: error }, 'job finishing step failed'));
  }

  async close(): Promise<void> {
    // Closing waits for Redis to answer; a Redis that is down must not hold the shutdown.
    if (this.parentWorker) await settleWithin(this.parentWorker.close(true), 2_000);
    const producers = this.producers;
    await settleWithin(Promise.allSettled([producers?.parents.close(), producers?.chunks.close(), producers?.flow.close(), ...this.dashboards.map((queue) => queue.close())]), 2_000);
    await this.link.close();
  }
}
