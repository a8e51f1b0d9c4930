/**
 * The shapes background jobs pass around. Redis holds only references (job id, chunk number);
 * a chunk's items live in a file under the owner's data directory, images in its blob store.
 */

/** Every job type; each has one handler, checked at start-up. */
export const JOB_TYPES = ['ingest', 'reembed', 'align'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const JOB_STATES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** The blob holder under which a job keeps the images it took in until they are indexed. */
export const jobHolder = (jobId: string) => `job:${jobId}`;

export function isTerminal(state: JobState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

export interface ModelRef {
  readonly id: string;
  readonly version: string;
}

/** Where a chunk item's vector comes from. */
export type WorkSource =
  | { readonly kind: 'blob'; readonly hash: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'vector'; readonly vector: readonly number[] };

/** One item of a chunk as a worker sees it: a position in the chunk and what to embed. */
export interface WorkItem {
  readonly pos: number;
  readonly id: string;
  readonly source: WorkSource;
}

/** What a worker is handed for one chunk. */
export type ChunkWork =
  | {
      readonly status: 'ready';
      readonly jobId: string;
      readonly type: JobType;
      readonly index: string;
      readonly chunk: number;
      /** The model to embed with. */
      readonly model: ModelRef;
      /** The items still to do (those of earlier tries that were applied are left out). */
      readonly items: readonly WorkItem[];
      /** Hand fetched images to the owner to keep. */
      readonly keepImages: boolean;
    }
  /** The job was cancelled or has ended: nothing to do. */
  | { readonly status: 'skip'; readonly reason: string };

export interface WorkFailure {
  readonly pos: number;
  readonly code: string;
  readonly message: string;
  /** A fault that may pass (a timeout, an overloaded upstream): tried again unless this is the last try. */
  readonly retryable: boolean;
}

/** What a worker hands back for one chunk. */
export interface ChunkResults {
  readonly model: ModelRef;
  readonly vectors: readonly { readonly pos: number; readonly vector: Float32Array; readonly blob?: string | undefined }[];
  readonly failures: readonly WorkFailure[];
  /** The chunk's last try: retryable failures are final too. */
  readonly final: boolean;
}

/** The owner's answer to a chunk's results. */
export interface ApplyOutcome {
  /** Items still to do (retryable failures of a try that was not the last). */
  readonly pending: number;
}

/** BullMQ job data: references only. */
export interface ChunkJobData {
  readonly jobId: string;
  readonly chunk: number;
}

export interface ParentJobData {
  readonly jobId: string;
  readonly type: JobType;
}

/** The catalog fields an ingested item carries (JSON, as in the chunk file). */
export interface StoredFields {
  readonly category?: string | null | undefined;
  readonly attributes?: Record<string, string | number | boolean> | undefined;
  readonly metadata?: Record<string, unknown> | undefined;
  readonly text?: string | null | undefined;
  readonly sourceUrl?: string | null | undefined;
}

/** One item of a chunk file on the owner: the work, plus what only the owner needs. */
export interface ChunkEntry extends WorkItem {
  /** An ingested item's fields. */
  readonly fields?: StoredFields | undefined;
  /** For a re-embedding: the version (change number) of the item that was read. */
  readonly seq?: number | undefined;
}
