import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { HostResolver } from '../../src/media/image-fetcher.js';
import { startServer, type RunningServer } from '../../src/server.js';

export interface TestServer extends RunningServer {
  /** Log lines the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  dataDir: string;
}

/** Starts the real server on 127.0.0.1:0 with the fixture model on CPU, logging into memory. */
export async function startTestServer(env: Record<string, string> = {}, options: { resolve?: HostResolver } = {}): Promise<TestServer> {
  const config = loadConfig({
    // A fresh data directory per server unless the test reuses one (restarts).
    LOOKBOOK_DATA_DIR: mkdtempSync(join(tmpdir(), 'lookbook-test-')),
    LOOKBOOK_PORT: '0',
    LOOKBOOK_HOST: '127.0.0.1',
    LOOKBOOK_PROVIDERS: 'cpu',
    LOOKBOOK_MODELS: 'models/fixture',
    LOOKBOOK_INTRA_OP_THREADS: '1',
    LOOKBOOK_LOG_LEVEL: 'debug',
    // Tests that detect name their detector.
    LOOKBOOK_DETECTOR: 'none',
    // Tests of jobs name a Redis and a queue prefix of their own.
    LOOKBOOK_REDIS_URL: 'none',
    // Every JSON response is checked against the API contract (a breach answers 500).
    LOOKBOOK_CHECK_RESPONSES: 'true',
    ...env,
  });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const running = await startServer(config, pino({ level: config.logLevel }, sink), options);
  return Object.assign(running, { logs, dataDir: config.dataDir });
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return readResponse(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }));
}

/** A response's status, headers, text and (when it is JSON) parsed body. */
export async function readResponse(response: Response) {
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}
