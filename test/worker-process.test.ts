import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, dropPrefix, REDIS_URL, startJobServer, uniquePrefix, waitForJob } from './helpers/jobs.js';
import { listenLocal } from './helpers/http-server.js';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { sha256Hex } from '../src/api/auth.js';

const children = new Set<ChildProcess>();

beforeAll(() => {
  if (!existsSync('dist/src/main.js')) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
});
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** `node dist/src/main.js …args` with the test's environment; resolves its exit code. */
function lookbook(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['dist/src/main.js', ...args], {
    env: { ...process.env, LOOKBOOK_PROVIDERS: 'cpu', LOOKBOOK_INTRA_OP_THREADS: '1', LOOKBOOK_MODELS: 'models/fixture', LOOKBOOK_DETECTOR: 'none', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    children.delete(child);
    resolve(code);
  }));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** Resolves when a spawned process logs a line with `msg`. */
function logged(child: ChildProcess, msg: string): Promise<void> {
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes(`"msg":"${msg}"`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before logging "${msg}"`)));
  });
}

async function catalog(count: number) {
  // Photo-sized JPEGs, so embedding (decoding included) takes long enough to kill a worker mid-job.
  return Promise.all(Array.from({ length: count }, async (_, i) => ({ id: `p-${i}`, image: dataUri(await gradientJpeg(320, 240, i)) })));
}

async function freePort(): Promise<number> {
  const probe = await listenLocal(() => undefined);
  await probe.close();
  return probe.port;
}

describe('separate worker processes', () => {
  it('embed for the owner over HTTP; one killed with SIGKILL mid-job is replaced and every item ends up indexed exactly once', async () => {
    const owner = await startJobServer({ LOOKBOOK_WORKER_CONCURRENCY: '0', LOOKBOOK_JOB_CHUNK_SIZE: '4' });
    const env = { LOOKBOOK_REDIS_URL: REDIS_URL, LOOKBOOK_QUEUE_PREFIX: owner.prefix, LOOKBOOK_OWNER_URL: owner.url, LOOKBOOK_JOB_LOCK_MS: '2000', LOOKBOOK_JOB_BACKOFF_MS: '100' };
    try {
      await api(owner.url, 'POST', '/v1/indexes', { name: 'killed' });
      const items = await catalog(160);
      const submitted = await api(owner.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'killed', items });
      const first = lookbook(['worker', '--concurrency', '1'], env);
      await waitForJob(owner.url, submitted.json.id, (job) => job.progress.done >= 8);
      first.child.kill('SIGKILL');
      expect(await first.exited).toBeNull();
      const midway = (await api(owner.url, 'GET', `/v1/jobs/${submitted.json.id}`)).json;
      expect(midway.state).toBe('running');
      expect(midway.progress.done).toBeLessThan(160);

      const second = lookbook(['worker', '--concurrency', '2'], env);
      const job = await waitForJob(owner.url, submitted.json.id, undefined, 90_000);
      expect(job).toMatchObject({ state: 'completed', progress: { total: 160, done: 160, failed: 0 } });
      const index = (await api(owner.url, 'GET', '/v1/indexes/killed')).json;
      expect(index.count).toBe(160);
      const ids: string[] = [];
      for (let after: string | null = ''; after !== null; ) {
        const page: any = (await api(owner.url, 'GET', `/v1/indexes/killed/items?limit=100${after ? `&after=${after}` : ''}`)).json;
        ids.push(...page.data.map((item: any) => item.id));
        after = page.next_after;
      }
      expect(ids).toHaveLength(160);
      expect(new Set(ids)).toEqual(new Set(items.map((item) => item.id)));
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      await owner.close();
    }
  }, 120_000);

  it('check their key with the owner before taking work: a refused key stops the worker at once, a right one starts it', async () => {
    const owner = await startJobServer({ LOOKBOOK_WORKER_CONCURRENCY: '0', LOOKBOOK_API_KEYS: `reader:read:${sha256Hex('reader-key')};ingest:read,write:${sha256Hex('worker-key')}` });
    const env = { LOOKBOOK_REDIS_URL: REDIS_URL, LOOKBOOK_QUEUE_PREFIX: owner.prefix, LOOKBOOK_OWNER_URL: owner.url };
    try {
      for (const [key, status] of [['reader-key', 403], ['no-such-key', 401]] as const) {
        const refused = lookbook(['worker', '--api-key', key], env);
        expect(await refused.exited).toBe(1);
        expect(refused.output().stderr).toContain(`refused this worker's key (${status} `);
        expect(refused.output().stdout).not.toContain('"msg":"worker started"');
      }
      const accepted = lookbook(['worker', '--api-key', 'worker-key'], env);
      await logged(accepted.child, 'worker started');
      accepted.child.kill('SIGTERM');
      expect(await accepted.exited).toBe(0);
    } finally {
      await owner.close();
    }
  }, 60_000);

  it('ride out a Redis restart mid-job: nothing lost, nothing twice, searches answered meanwhile', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'lookbook-redis-'));
    const startRedis = () => {
      const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--save', ''], { stdio: 'ignore' });
      children.add(redis);
      return redis;
    };
    const redisUrl = `redis://127.0.0.1:${port}`;
    let redis = startRedis();
    const prefix = uniquePrefix('restart');
    const owner = await startJobServer({ LOOKBOOK_REDIS_URL: redisUrl, LOOKBOOK_QUEUE_PREFIX: prefix, LOOKBOOK_WORKER_CONCURRENCY: '1', LOOKBOOK_JOB_CHUNK_SIZE: '4' });
    try {
      await api(owner.url, 'POST', '/v1/indexes', { name: 'restart' });
      await api(owner.url, 'POST', '/v1/indexes/restart/items', { items: [{ id: 'seed', text: 'a seed item' }] });
      const items = await catalog(600);
      const submitted = await api(owner.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'restart', items });
      expect(submitted.status).toBe(202);
      await waitForJob(owner.url, submitted.json.id, (job) => job.progress.done >= 4);
      const stopped = new Promise((resolve) => redis.once('exit', resolve));
      redis.kill('SIGTERM');
      await stopped;
      expect(owner.services.jobs.service.get(submitted.json.id).done).toBeLessThan(600);
      // Redis is down: searches still answer, job routes say why they cannot.
      expect((await api(owner.url, 'POST', '/v1/indexes/restart/search', { query: { text: 'seed' }, limit: 1 })).status).toBe(200);
      expect((await api(owner.url, 'GET', `/v1/jobs/${submitted.json.id}`)).json.error.code).toBe('queue_unavailable');
      redis = startRedis();
      // The worker reconnects by itself; the job finishes.
      let job: any;
      for (;;) {
        const response = await api(owner.url, 'GET', `/v1/jobs/${submitted.json.id}`);
        if (response.status === 200) {
          job = await waitForJob(owner.url, submitted.json.id, undefined, 90_000);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200)); // Redis is starting: nothing to listen to yet
      }
      expect(job).toMatchObject({ state: 'completed', progress: { total: 600, done: 600, failed: 0 } });
      expect((await api(owner.url, 'GET', '/v1/indexes/restart')).json.count).toBe(601);
    } finally {
      await owner.close();
      await dropPrefix(prefix, redisUrl);
      redis.kill('SIGKILL');
    }
  }, 120_000);
});

describe('the command line', () => {
  it('ingests a folder with progress, lists jobs and re-embeds, through `lookbook`', async () => {
    const owner = await startJobServer({ LOOKBOOK_JOB_CHUNK_SIZE: '8' });
    try {
      const folder = mkdtempSync(join(tmpdir(), 'lookbook-folder-'));
      for (const [i, category] of ['shoes', 'shoes', 'bags', 'bags', 'bags'].entries()) {
        mkdirSync(join(folder, category), { recursive: true });
        writeFileSync(join(folder, category, `item-${i}.jpg`), await gradientJpeg(90, 60, i + 40));
      }
      writeFileSync(join(folder, 'bags', 'broken.png'), 'not a png');
      const ingest = lookbook(['ingest', folder, '--index', 'cli', '--category-from-folder', '--server', owner.url, '--files-per-request', '2'], {});
      expect(await ingest.exited).toBe(0);
      const { stdout, stderr } = ingest.output();
      expect(stderr).toContain('created index cli');
      expect(stderr).toMatch(/indexed 6\/6, 1 failed/);
      expect(stdout).toMatch(/completed: 5 done, 1 failed of 6/);
      expect(stdout).toContain('bags/broken.png: unsupported_image');
      const item = (await api(owner.url, 'GET', '/v1/indexes/cli/items/shoes%2Fitem-0.jpg')).json;
      expect(item.category).toBe('shoes');

      const manifest = join(folder, 'catalog.jsonl');
      writeFileSync(manifest, [JSON.stringify({ id: 'local', image: 'shoes/item-1.jpg', category: 'boots' }), JSON.stringify({ id: 'words', text: 'a wool scarf' })].join('\n'));
      const fromManifest = lookbook(['ingest', manifest, '--index', 'cli', '--server', owner.url], {});
      expect(await fromManifest.exited).toBe(0);
      expect((await api(owner.url, 'GET', '/v1/indexes/cli')).json.count).toBe(7);

      const jobs = lookbook(['jobs', '--server', owner.url], {});
      expect(await jobs.exited).toBe(0);
      expect(jobs.output().stdout.trim().split('\n')).toHaveLength(2);

      const reembed = lookbook(['reembed', '--index', 'cli', '--server', owner.url], {});
      expect(await reembed.exited).toBe(0);
      expect(reembed.output().stdout).toMatch(/completed: 7 done, 0 failed of 7/);

      const missing = lookbook(['jobs', 'job_nope', '--server', owner.url], {});
      expect(await missing.exited).toBe(1);
      expect(missing.output().stderr).toContain('job_not_found');
    } finally {
      await owner.close();
    }
  }, 60_000);

  it('uploads a graph and learns an alignment head, through `lookbook graph upload` and `lookbook align`', async () => {
    const owner = await startJobServer();
    try {
      await api(owner.url, 'POST', '/v1/indexes', { name: 'boards' });
      const items = Array.from({ length: 24 }, (_, i) => ({ id: `t${i}`, text: `item ${i % 4} number ${i}` }));
      await api(owner.url, 'POST', '/v1/indexes/boards/items', { items });
      const file = join(mkdtempSync(join(tmpdir(), 'lookbook-graph-')), 'graph.jsonl');
      writeFileSync(file, [0, 1, 2, 3].map((b) => JSON.stringify({ id: `board-${b}`, items: items.filter((_, i) => i % 4 === b).map((item) => item.id) })).join('\n'));
      const upload = lookbook(['graph', 'upload', file, '--index', 'boards', '--server', owner.url], {});
      expect(await upload.exited).toBe(0);
      expect(JSON.parse(upload.output().stdout)).toMatchObject({ boards: 4, memberships: 24, unknown_items: 0 });
      const align = lookbook(['align', '--index', 'boards', '--steps', '20', '--server', owner.url], {});
      expect(await align.exited).toBe(0);
      expect(align.output().stdout).toMatch(/completed: 20 done, 0 failed of 20/);
      expect(align.output().stdout).toContain('"model_version": "0.0.1+align.1"');
    } finally {
      await owner.close();
    }
  }, 60_000);

  it('refuses a second server on the same data directory, and a taken port, with a one-line reason', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lookbook-locked-'));
    const first = lookbook([], { LOOKBOOK_DATA_DIR: dataDir, LOOKBOOK_PORT: '0', LOOKBOOK_REDIS_URL: 'none' });
    await logged(first.child, 'listening');
    const second = lookbook(['serve'], { LOOKBOOK_DATA_DIR: dataDir, LOOKBOOK_PORT: '0', LOOKBOOK_REDIS_URL: 'none' });
    expect(await second.exited).toBe(1);
    expect(second.output().stderr.trim()).toMatch(/^lookbook failed to start: the data directory .* is in use by process \d+/);
    expect(second.output().stderr.trim().split('\n')).toHaveLength(1);

    const taken = await listenLocal(() => undefined);
    try {
      const third = lookbook([], { LOOKBOOK_DATA_DIR: mkdtempSync(join(tmpdir(), 'lookbook-port-')), LOOKBOOK_PORT: String(taken.port), LOOKBOOK_REDIS_URL: 'none' });
      expect(await third.exited).toBe(1);
      expect(third.output().stderr.trim()).toBe(`lookbook failed to start: port ${taken.port} on 127.0.0.1 is already in use (LOOKBOOK_PORT)`);
    } finally {
      await taken.close();
    }
    // A model that cannot be read: the reason, naming the file, in one line.
    const broken = mkdtempSync(join(tmpdir(), 'lookbook-broken-model-'));
    cpSync('models/fixture', broken, { recursive: true });
    writeFileSync(join(broken, 'image.onnx'), readFileSync(join(broken, 'image.onnx')).subarray(0, 1000));
    for (const [models, reason] of [[broken, /image\.onnx.*Protobuf parsing failed/], [join(broken, 'missing'), /not a model directory/]] as const) {
      const fourth = lookbook([], { LOOKBOOK_DATA_DIR: mkdtempSync(join(tmpdir(), 'lookbook-model-')), LOOKBOOK_PORT: '0', LOOKBOOK_REDIS_URL: 'none', LOOKBOOK_MODELS: models, LOOKBOOK_PROVIDERS: 'cpu' });
      expect(await fourth.exited).toBe(1);
      const lines = fourth.output().stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(/^lookbook failed to start: /);
      expect(lines.at(-1)).toMatch(reason);
      expect(lines.filter((line) => line.includes('    at '))).toEqual([]);
    }
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(existsSync(join(dataDir, 'owner.lock'))).toBe(false);
  }, 60_000);
});
