import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenLocal } from './helpers/http-server.js';
import { gradientJpeg } from './helpers/images.js';
import { postJson } from './helpers/server.js';

let slowImages: Awaited<ReturnType<typeof listenLocal>>;
let fetchStarted: () => void;
const fetchStartedPromise = new Promise<void>((resolve) => (fetchStarted = resolve));
let child: ChildProcess | undefined;

beforeAll(async () => {
  if (!existsSync('dist/src/main.js')) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
  const jpeg = await gradientJpeg();
  slowImages = await listenLocal((_req, res) => {
    fetchStarted();
    setTimeout(() => {
      res.setHeader('content-type', 'image/jpeg');
      res.end(jpeg);
    }, 700);
  });
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await slowImages?.close();
});

describe('SIGTERM', () => {
  it('stops accepting, finishes the request in flight, closes idle keep-alive connections, and exits 0', async () => {
    child = spawn(process.execPath, ['dist/src/main.js'], {
      env: {
        ...process.env,
        LOOKBOOK_PORT: '0',
        LOOKBOOK_DATA_DIR: mkdtempSync(join(tmpdir(), 'lookbook-shutdown-')),
        LOOKBOOK_HOST: '127.0.0.1',
        LOOKBOOK_PROVIDERS: 'cpu',
        LOOKBOOK_INTRA_OP_THREADS: '1',
        LOOKBOOK_LOG_LEVEL: 'info',
        LOOKBOOK_FETCH_ALLOW_HOSTS: `127.0.0.1:${slowImages.port}`,
        // Connected to the shared Redis (the default), under a queue prefix of its own.
        LOOKBOOK_QUEUE_PREFIX: `lbtest-shutdown-${process.pid}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const lines = createInterface({ input: child.stdout! });
    const url = await new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) resolve(entry.url);
      });
      child!.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    });

    // An idle keep-alive connection, announced for the configured time, which SIGTERM must not wait for.
    const health = await fetch(`${url}/healthz`);
    await health.text();
    expect(health.headers.get('keep-alive')).toBe('timeout=65');
    const inFlight = postJson(`${url}/v1/embeddings`, { input: [{ image: `${slowImages.origin}/slow.jpg` }] });
    await fetchStartedPromise;
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(response.json.data[0].embedding).toHaveLength(512);
    expect(await exited).toBe(0);
  });
});
