/**
 * bench/ingest — bulk indexing through the job queue against the raw encoder:
 *
 *  - raw: the same JPEG bytes embedded in this process (sharp decode + the micro-batched ONNX
 *    session, 128 images in flight), no queue, no index: the ceiling;
 *  - queue, in-process worker: a Lookbook server in this process with its embedded worker (the raw
 *    runs use its own encoder). The
 *    images are uploaded into an open ingest job as the CLI does (multipart, 64 files a request)
 *    while the chunk queue is paused; items/s from the resume to the last item applied: what the
 *    queue adds to the encoder (chunk files, kept images read back, BullMQ, upserts with fsync);
 *  - the same, streamed: uploading while the worker embeds, job created → completed (the client
 *    shares the machine's cores);
 *  - reembed of one of those indexes from its kept images, same model;
 *  - queue, 1 and 2 separate `lookbook worker` processes (the server's own worker off).
 *
 * Each queue figure is paired with a raw run just before its measured part (after the upload)
 * and reported as a ratio, so the comparison holds while the machine's speed drifts. A command, not a test.
 *
 *   npm run bench:ingest -- [--images 10000] [--model models/lookbook-emoji] [--rounds 3] [--workers 1,2] [--chunk 64] [--concurrency 2] [--threads 0]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { Queue } from 'bullmq';
import { ApiClient, type JobView } from '../src/cli/api-client.js';
import { loadConfig } from '../src/config.js';
import type { DualEncoder } from '../src/encoders/dual-encoder.js';
import { CHUNK_QUEUE } from '../src/queue/job-queues.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createLogger } from '../src/logger.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '10000' },
    model: { type: 'string', default: 'models/lookbook-emoji' },
    workers: { type: 'string', default: '1,2' },
    threads: { type: 'string', default: '0' },
    chunk: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    cache: { type: 'string', default: join(tmpdir(), 'lookbook-bench-jpegs') },
  },
});
const count = Number(values.images);
const separateWorkers = values.workers!.split(',').filter(Boolean).map(Number);
const threads = values.threads!;

/**
 * Photo-sized JPEGs (640×480): a few hundred noisy gradient backgrounds, each image a distinct
 * variant (its own tint and box), so no two share bytes (kept images are stored by content) and
 * decoding costs what a photo's would. Cached between runs.
 */
async function makeJpegs(n: number, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const names = Array.from({ length: n }, (_, i) => join(dir, `img-${String(i).padStart(6, '0')}.jpg`));
  const missing = names.filter((name) => !existsSync(name));
  if (missing.length === 0) return names;
  process.stderr.write(`generating ${missing.length} JPEGs of 640×480 in ${dir}…\n`);
  const width = 640;
  const height = 480;
  const backgrounds = await Promise.all(
    Array.from({ length: 16 }, async (_, k) => {
      const pixels = Buffer.alloc(width * height * 3);
      let seed = k * 7919 + 1;
      for (let i = 0; i < pixels.length; i += 3) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const x = (i / 3) % width;
        const y = Math.floor(i / 3 / width);
        const noise = (seed >> 16) % 24;
        pixels[i] = ((x * 255) / width + noise) & 255;
        pixels[i + 1] = ((y * 255) / height + noise + k * 11) & 255;
        pixels[i + 2] = ((x + y) % 256) ^ noise;
      }
      return sharp(pixels, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
    }),
  );
  for (let start = 0; start < missing.length; start += 64) {
    await Promise.all(
      missing.slice(start, start + 64).map(async (name) => {
        const i = Number(/img-(\d+)/.exec(name)![1]);
        const box = await sharp({ create: { width: 40 + (i % 200), height: 40 + ((i * 7) % 200), channels: 3, background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 } } })
          .png()
          .toBuffer();
        const jpeg = await sharp(backgrounds[i % backgrounds.length]!)
          .composite([{ input: box, left: (i * 13) % 400, top: (i * 29) % 240 }])
          .modulate({ brightness: 0.8 + (i % 40) / 100 })
          .jpeg({ quality: 88 })
          .toBuffer();
        writeFileSync(name, jpeg);
      }),
    );
  }
  return names;
}

/**
 * Images/s of the bare encoder over the same bytes, 128 at once: JPEG decode, preprocessing and
 * the micro-batched ONNX session, no queue, no index.
 */
async function rawThroughput(encoder: DualEncoder, bytes: readonly Buffer[]): Promise<number> {
  await Promise.all(bytes.slice(0, 64).map((jpeg) => encoder.embedImage(jpeg))); // warm-up
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 128 }, async () => {
      while (next < bytes.length) await encoder.embedImage(bytes[next++]!);
    }),
  );
  return bytes.length / ((performance.now() - started) / 1000);
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function spawnLookbook(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['dist/src/main.js', ...args], {
    env: { ...process.env, LOOKBOOK_PROVIDERS: 'cpu', LOOKBOOK_INTRA_OP_THREADS: threads, LOOKBOOK_MODELS: values.model!, LOOKBOOK_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A Lookbook server in this process (the in-process worker's case: raw and queue share one encoder). */
async function startHere(env: Record<string, string>): Promise<RunningServer> {
  const config = loadConfig({ ...process.env, LOOKBOOK_PROVIDERS: 'cpu', LOOKBOOK_INTRA_OP_THREADS: threads, LOOKBOOK_MODELS: values.model!, LOOKBOOK_PORT: '0', LOOKBOOK_DETECTOR: 'none', ...env });
  return startServer(config, createLogger('warn'));
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function until(api: ApiClient, id: string): Promise<JobView> {
  for (;;) {
    const job = await api.job(id);
    if (['completed', 'failed', 'cancelled'].includes(job.state)) return job;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Files per upload request: `lookbook ingest`'s default, one chunk's worth at the default chunk size. */
const FILES_PER_REQUEST = 64;

/** Uploads every file into an open ingest job, as `lookbook ingest <dir>` does. */
async function upload(api: ApiClient, jobId: string, files: string[]): Promise<void> {
  for (let start = 0; start < files.length; start += FILES_PER_REQUEST) {
    const form = new FormData();
    for (const file of files.slice(start, start + FILES_PER_REQUEST)) form.append('file', new Blob([readFileSync(file)], { type: 'image/jpeg' }), file.split('/').pop()!);
    await api.request('POST', `/v1/jobs/${jobId}/items`, form);
  }
  await api.request('POST', `/v1/jobs/${jobId}/close`);
}

function completed(name: string, job: JobView): JobView {
  if (job.state !== 'completed' || job.progress.failed > 0) throw new Error(`${name}: job ended ${job.state} with ${job.progress.failed} failed: ${JSON.stringify(job.error)}`);
  return job;
}

/**
 * The queue's own throughput: the chunk queue is paused while every image is uploaded, then
 * resumed; items/s from the resume to the last item applied (the server's clock, same host).
 */
async function processing(api: ApiClient, redis: string, prefix: string, index: string, files: string[], beforeResume: () => Promise<void>): Promise<number> {
  await api.request('POST', '/v1/indexes', { name: index });
  const chunks = new Queue(CHUNK_QUEUE, { connection: { url: redis }, prefix });
  try {
    await chunks.pause();
    const job = await api.request<JobView>('POST', '/v1/jobs', { type: 'ingest', index, open: true });
    await upload(api, job.id, files);
    // The upload's garbage (the client's copies, the server's request buffers; the client lives in
    // this process) is collected now, not charged to the queue (run with --expose-gc, as the npm script does).
    (globalThis as { gc?: () => void }).gc?.();
    await beforeResume();
    const resumed = Date.now();
    await chunks.resume();
    const done = completed(index, await until(api, job.id));
    return done.progress.done / ((Date.parse(done.finished_at!) - resumed) / 1000);
  } finally {
    await chunks.close();
  }
}

/** As a user streams a catalog: uploading while the workers embed; items/s from the job's creation to its end. */
async function streaming(api: ApiClient, index: string, files: string[]): Promise<number> {
  await api.request('POST', '/v1/indexes', { name: index });
  const started = performance.now();
  const job = await api.request<JobView>('POST', '/v1/jobs', { type: 'ingest', index, open: true });
  await upload(api, job.id, files);
  const done = completed(index, await until(api, job.id));
  return done.progress.done / ((performance.now() - started) / 1000);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main() {
  const files = await makeJpegs(count, values.cache!);
  const bytes = files.map((file) => readFileSync(file));
  const prefix = `bench-${process.pid}`;
  const redis = process.env.LOOKBOOK_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const rounds = Number(values.rounds);
  const base = { LOOKBOOK_REDIS_URL: redis, LOOKBOOK_JOB_CHUNK_SIZE: values.chunk!, LOOKBOOK_MAX_FILES: '64' };
  /** Each queue figure is paired with a raw run just before it, so the ratio holds while the machine's speed drifts. */
  const rows: { name: string; rates: number[]; ratios: number[] }[] = [{ name: 'raw', rates: [], ratios: [] }];
  /** The raw run goes right before the measured part (after any upload), when `measure` calls `rawNow`. */
  const paired = async (encoder: DualEncoder, name: string, measure: (rawNow: () => Promise<void>) => Promise<number>) => {
    let raw = 0;
    const rawNow = async () => {
      raw = await rawThroughput(encoder, bytes);
    };
    const rate = await measure(rawNow);
    let row = rows.find((entry) => entry.name === name);
    if (!row) rows.push((row = { name, rates: [], ratios: [] }));
    row.rates.push(rate);
    row.ratios.push(rate / raw);
    rows[0]!.rates.push(raw);
    process.stderr.write(`${name}: ${rate.toFixed(1)} items/s against raw ${raw.toFixed(1)} (${((100 * rate) / raw).toFixed(1)} %)\n`);
  };

  // The in-process worker, in this process: the raw runs use the server's own encoder.
  const dataDir = mkdtempSync(join(tmpdir(), 'lookbook-bench-ingest-'));
  const queuePrefix = `${prefix}-a`;
  const server = await startHere({ ...base, LOOKBOOK_DATA_DIR: dataDir, LOOKBOOK_QUEUE_PREFIX: queuePrefix, LOOKBOOK_WORKER_CONCURRENCY: values.concurrency! });
  const encoder = server.services.registry.get();
  const api = new ApiClient(server.url);
  for (let round = 0; round < rounds; round++) {
    await paired(encoder, 'queue, in-process worker', (rawNow) => processing(api, redis, queuePrefix, `bench-${round}`, files, rawNow));
  }
  await paired(encoder, 'queue, in-process worker, streamed upload (end to end, the client in the same process)', async (rawNow) => {
    await rawNow();
    return streaming(api, 'streamed', files);
  });
  await paired(encoder, 'reembed from the kept images (same model), in-process worker', async (rawNow) => {
    await rawNow();
    const started = performance.now();
    const job = completed('reembed', await until(api, (await api.request<JobView>('POST', '/v1/jobs', { type: 'reembed', index: 'bench-0' })).id));
    return job.progress.done / ((performance.now() - started) / 1000);
  });
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });

  // Separate worker processes: the owner here with its worker off (its encoder then does the raw runs).
  for (const workers of separateWorkers) {
    const dir = mkdtempSync(join(tmpdir(), 'lookbook-bench-ingest-'));
    const workerPrefix = `${prefix}-w${workers}`;
    const owner = await startHere({ ...base, LOOKBOOK_DATA_DIR: dir, LOOKBOOK_QUEUE_PREFIX: workerPrefix, LOOKBOOK_WORKER_CONCURRENCY: '0' });
    const processes = Array.from({ length: workers }, () =>
      spawnLookbook(['worker', '--concurrency', values.concurrency!], { ...base, LOOKBOOK_QUEUE_PREFIX: workerPrefix, LOOKBOOK_OWNER_URL: owner.url }),
    );
    await paired(owner.services.registry.get(), `queue, ${workers} worker process${workers > 1 ? 'es' : ''} (in-process worker off)`, (rawNow) =>
      processing(new ApiClient(owner.url), redis, workerPrefix, 'bench', files, rawNow),
    );
    await Promise.all(processes.map(stopProcess));
    await owner.close();
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(`\n${count} JPEGs of 640×480, model ${values.model}, chunks of ${values.chunk}, ${values.concurrency} chunks in flight per worker, ONNX threads ${threads === '0' ? 'default' : threads}; each figure paired with a raw run just before it`);
  console.log('| path | items/s (median) | runs | vs raw, paired (median, and each run) |');
  console.log('| --- | --- | --- | --- |');
  for (const row of rows) {
    const label = row.name === 'raw' ? 'raw encoder in-process (decode + embed, 128 in flight, no queue, no index)' : row.name;
    console.log(`| ${label} | ${median(row.rates).toFixed(1)} | ${row.rates.length} | ${row.name === 'raw' ? '100 %' : `${(100 * median(row.ratios)).toFixed(1)} % (${row.ratios.map((ratio) => (100 * ratio).toFixed(0)).join(', ')})`} |`);
  }
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
