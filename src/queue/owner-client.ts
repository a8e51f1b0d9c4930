import { ValidationError } from '../errors.js';
import type { ApplyOutcome, ChunkResults, ChunkWork } from './job-types.js';

/**
 * What a worker needs from the process that owns the indexes: a chunk's work, the kept images,
 * a place for the images it fetched, and someone to apply its vectors. In the API process the
 * job service answers directly; a separate worker reaches it over HTTP ({@link HttpOwnerClient}).
 */
export interface OwnerClient {
  fetchChunk(jobId: string, chunk: number): Promise<ChunkWork>;
  readBlob(hash: string): Promise<Uint8Array | undefined>;
  /** Keeps the bytes of an image the worker fetched, for the job; returns their hash. */
  keepImage(jobId: string, bytes: Uint8Array): Promise<string>;
  submitResults(jobId: string, chunk: number, results: ChunkResults): Promise<ApplyOutcome>;
}

/** The owner refused a chunk for good (the job or its index is gone): trying again cannot help. */
export class OwnerRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'OwnerRefusedError';
  }
}

function toBase64(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

/** The owner's worker routes (`/v1/worker/...`) over HTTP. */
export class HttpOwnerClient implements OwnerClient {
  constructor(
    private readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
    private readonly timeoutMs = 60_000,
  ) {}

  private async call(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      ...init,
      headers: { ...this.headers, ...(init.headers as Record<string, string> | undefined) },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (response.ok || response.status === 404) return response;
    const body = (await response.json().catch(() => undefined)) as { error?: { code?: string; message?: string; retryable?: boolean } } | undefined;
    const message = body?.error?.message ?? `${init.method ?? 'GET'} ${path} answered ${response.status}`;
    // 4xx other than a conflict that may pass (the index switched models): the owner will never take this chunk.
    if (response.status < 500 && response.status !== 429 && !body?.error?.retryable) {
      throw new OwnerRefusedError(response.status, body?.error?.code ?? 'refused', message);
    }
    throw new Error(message);
  }

  /**
   * Resolves when the owner answers a worker route with this client's key (it is asked for a kept
   * image no hash can name, so a 404 is the expected answer); throws {@link OwnerRefusedError} when
   * the key is missing, unknown or lacks the write scope, and the network's error when the owner
   * cannot be reached.
   */
  async checkAccess(): Promise<void> {
    await this.call(`/v1/worker/blobs/${'0'.repeat(64)}`);
  }

  async fetchChunk(jobId: string, chunk: number): Promise<ChunkWork> {
    const response = await this.call(`/v1/worker/jobs/${encodeURIComponent(jobId)}/chunks/${chunk}`);
    if (response.status === 404) return { status: 'skip', reason: `the owner has no job ${jobId}` };
    return (await response.json()) as ChunkWork;
  }

  async readBlob(hash: string): Promise<Uint8Array | undefined> {
    const response = await this.call(`/v1/worker/blobs/${hash}`);
    if (response.status === 404) return undefined;
    return new Uint8Array(await response.arrayBuffer());
  }

  async keepImage(jobId: string, bytes: Uint8Array): Promise<string> {
    const response = await this.call(`/v1/worker/jobs/${encodeURIComponent(jobId)}/blobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    if (response.status === 404) throw new OwnerRefusedError(404, 'job_not_found', `the owner has no job ${jobId}`);
    return ((await response.json()) as { hash: string }).hash;
  }

  async submitResults(jobId: string, chunk: number, results: ChunkResults): Promise<ApplyOutcome> {
    const response = await this.call(`/v1/worker/jobs/${encodeURIComponent(jobId)}/chunks/${chunk}/results`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...results, vectors: results.vectors.map((entry) => ({ ...entry, vector: toBase64(entry.vector) })) }),
    });
    if (response.status === 404) return { pending: 0 };
    return (await response.json()) as ApplyOutcome;
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes a vector of results that came over HTTP (base64 of little-endian float32, as
 * {@link HttpOwnerClient} sends it); throws a {@link ValidationError} for text that is not base64,
 * bytes that are not whole float32 values, or a value that is not finite.
 */
export function vectorFromBase64(encoded: string): Float32Array {
  // Buffer.from skips characters outside the alphabet without a word: refuse them instead.
  if (!BASE64.test(encoded)) throw new ValidationError('the vector is not base64 (of little-endian float32 values)', { code: 'invalid_vector' });
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length % 4 !== 0) {
    throw new ValidationError(`the vector decodes to ${bytes.length} bytes, not a whole number of float32 values (4 bytes each)`, { code: 'invalid_vector' });
  }
  const vector = new Float32Array(bytes.length / 4);
  new Uint8Array(vector.buffer).set(bytes);
  if (!vector.every(Number.isFinite)) throw new ValidationError('the vector holds a value that is not a finite number', { code: 'invalid_vector' });
  return vector;
}
