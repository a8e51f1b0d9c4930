import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ChunkJobData } from './job-types.js';
import { CHUNK_QUEUE } from './job-queues.js';
import { OwnerRefusedError, type OwnerClient } from './owner-client.js';
import { workerConnection, type QueueSettings } from './redis.js';
import type { WorkEmbedder } from './work-embedder.js';

export interface ChunkWorkerOptions {
  readonly settings: QueueSettings;
  /** Chunks embedded at once. */
  readonly concurrency: number;
  readonly owner: OwnerClient;
  readonly embedder: WorkEmbedder;
  readonly logger: Logger;
}

/** What a chunk's try did, kept as the flow child's return value (shown in the dashboard). */
export interface ChunkOutcome {
  readonly embedded?: number;
  readonly failed?: number;
  readonly skipped?: string;
}

/**
 * Embeds one chunk: asks the owner for its items (those still to do), embeds them, hands the
 * vectors back, and succeeds once the owner has applied them. Items that hit a fault that may
 * pass make the try fail, so BullMQ tries the chunk again after a backoff; on the last try they
 * fail for good. A chunk the owner refuses (its job or index is gone) fails at once
 * ({@link UnrecoverableError}).
 */
export async function processChunk(job: Job<ChunkJobData>, options: Pick<ChunkWorkerOptions, 'owner' | 'embedder'>): Promise<ChunkOutcome> {
  const { jobId, chunk } = job.data;
  const { owner, embedder } = options;
  try {
    const work = await owner.fetchChunk(jobId, chunk);
    if (work.status === 'skip') return { skipped: work.reason };
    const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const embedded = await embedder.embed(work.model, work.items, {
      readBlob: (hash) => owner.readBlob(hash),
      keep: work.keepImages ? (bytes) => owner.keepImage(jobId, bytes) : undefined,
    });
    const outcome = await owner.submitResults(jobId, chunk, { model: work.model, vectors: embedded.vectors, failures: embedded.failures, final });
    if (outcome.pending > 0) throw new Error(`${outcome.pending} of ${work.items.length} items hit faults that may pass; the chunk is tried again`);
    return { embedded: embedded.vectors.length, failed: embedded.failures.length };
  } catch (error) {
    // The owner refused for good (over HTTP, or in this process: its index is gone, say): no retry.
    if (error instanceof OwnerRefusedError || (error instanceof AppError && !error.retryable)) throw new UnrecoverableError(`${error.code}: ${error.message}`);
    throw error;
  }
}

/**
 * A BullMQ worker on the chunk queue (`createWorker` of the design): in the API process by
 * default, or alone in `lookbook worker` processes that reach the owner over HTTP.
 */
export function createWorker(options: ChunkWorkerOptions): Worker<ChunkJobData> {
  const worker = new Worker<ChunkJobData>(
    CHUNK_QUEUE,
    async (job) => (job.name === 'seal' ? { skipped: 'sealed' } : processChunk(job, options)),
    {
      connection: workerConnection(options.settings),
      prefix: options.settings.prefix,
      concurrency: options.concurrency,
      lockDuration: options.settings.lockMs,
      stalledInterval: options.settings.lockMs,
    },
  );
  worker.on('error', () => undefined); // connection errors: retried by the connection, logged by its owner
  worker.on('failed', (job, error) => {
    if (job) options.logger.warn({ job: job.data.jobId, chunk: job.data.chunk, attempt: job.attemptsMade, err: error.message }, 'chunk try failed');
  });
  return worker;
}
