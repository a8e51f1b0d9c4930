import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { readResponse, startTestServer, type TestServer } from './server.js';

export const REDIS_URL = process.env.LOOKBOOK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A queue prefix no other test (or run) uses. */
export function uniquePrefix(name: string): string {
  return `lbtest-${name}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under a queue prefix (tests share one Redis). */
export async function dropPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // Redis gone (a test stopped it): nothing to clean.
  } finally {
    redis.disconnect();
  }
}

export interface JobServer extends TestServer {
  prefix: string;
}

/** A test server on the real Redis, with a fresh queue prefix and quick retries. */
export async function startJobServer(env: Record<string, string> = {}): Promise<JobServer> {
  const prefix = env.LOOKBOOK_QUEUE_PREFIX ?? uniquePrefix('jobs');
  const server = await startTestServer({
    LOOKBOOK_REDIS_URL: REDIS_URL,
    LOOKBOOK_QUEUE_PREFIX: prefix,
    LOOKBOOK_JOB_BACKOFF_MS: '100',
    LOOKBOOK_JOB_LOCK_MS: '2000',
    LOOKBOOK_JOB_CHUNK_SIZE: '8',
    ...env,
  });
  const close = server.close;
  return Object.assign(server, {
    prefix,
    close: async () => {
      await close();
      if (!env.LOOKBOOK_QUEUE_PREFIX) await dropPrefix(prefix, env.LOOKBOOK_REDIS_URL ?? REDIS_URL);
    },
  });
}

/**
 * Reads a job's server-sent events until `until` holds for one (default: the job has ended),
 * and returns that job object. Waits on the service's own events, not on sleeps.
 */
export async function waitForJob(url: string, id: string, until: (job: any) => boolean = (job) => ['completed', 'failed', 'cancelled'].includes(job.state), timeoutMs = 60_000): Promise<any> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`job ${id} did not reach the state waited for within ${timeoutMs} ms`)), timeoutMs);
  try {
    const response = await fetch(`${url}/v1/jobs/${id}/events`, { signal: controller.signal });
    if (!response.ok || !response.body) throw new Error(`events of ${id} answered ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    let last: any;
    let found: any;
    reading: for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').find((line) => line.startsWith('data: '));
        if (!data) continue;
        last = JSON.parse(data.slice(6));
        if (until(last)) {
          found = last;
          break reading;
        }
      }
    }
    if (found !== undefined) return found;
    throw new Error(`the event stream of ${id} ended at ${JSON.stringify(last?.state)} before the state waited for`);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

export async function api(url: string, method: string, path: string, body?: unknown) {
  return readResponse(
    await fetch(`${url}${path}`, {
      method,
      headers: body === undefined || body instanceof FormData ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
    }),
  );
}
