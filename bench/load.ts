/**
 * bench/load — the service under concurrent HTTP load (autocannon), and a soak for memory growth.
 *
 * Starts the real service (`node dist/src/main.js`) as a child process on 127.0.0.1, a temporary
 * data directory, jobs off (LOOKBOOK_REDIS_URL=none), so the load generator's CPU and memory are
 * not the server's. Builds an index of `--items` clustered random unit vectors through the API
 * (raw `vector` items, LOOKBOOK_MAX_INPUTS a request), then runs each row at `--connections` for
 * `--seconds`:
 *
 *  1. GET /healthz: the same run's ceiling (HTTP, Express, auth, logging; no work);
 *  2. text search: POST /v1/indexes/{name}/search with varied text queries (text tower + index);
 *  3. vector search: the same with raw query vectors (the index alone);
 *  4. image embedding: POST /v1/embeddings with small JPEGs made by sharp, as data URIs;
 *  5. vector search while a writer upserts (replaces) items, so the graph is saved every ~2 s
 *     (VectorIndex saves 2 s after the first write since the last save, synchronously); saves are
 *     counted from the graph state file's modification time.
 *
 * Each row: requests/s, p50, p99 and max latency, errors (connection errors and timeouts) and
 * non-2xx answers, and requests/s against the healthz row. Then, with `--minutes M`, a soak: text
 * and vector searches and image embeddings in turn, plus a small upsert every second, for M
 * minutes; the child's resident memory (VmRSS) is sampled and its least-squares slope over the
 * second half reported in MB/hour, with throughput and p99 per minute. A command, not a test.
 *
 *   npm run bench:load -- [--items 100000] [--connections 32] [--seconds 20] [--warmup 2] [--minutes 0] [--model models/lookbook-emoji] [--log-level info]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { rng } from '../src/util/random.js';
import { startService, stopService } from './service.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    connections: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    minutes: { type: 'string', default: '0' },
    model: { type: 'string', default: 'models/lookbook-emoji' },
    'log-level': { type: 'string', default: 'info' },
  },
});
const itemCount = Number(values.items);
const connections = Number(values.connections);
const rowSeconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
const soakMinutes = Number(values.minutes);
/** Items per upsert request: the service's LOOKBOOK_MAX_INPUTS (its default unless set here). */
const batchSize = Number(process.env.LOOKBOOK_MAX_INPUTS ?? 256);
const INDEX = 'load';
/** A new object each time: autocannon writes Content-Length into the headers object it is given. */
const jsonHeaders = () => ({ 'content-type': 'application/json' });

// ---------- the server ----------

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

/** The child's resident memory in MB, from /proc (Linux). */
function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}


async function call<T>(origin: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${origin}${path}`, { method, headers: jsonHeaders(), body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

// ---------- data ----------

/** Clustered unit vectors (real embeddings are neither uniform nor centred), 4 decimals in JSON. */
function vectorSource(dimension: number, seed: number) {
  const random = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const centreRandom = rng(42);
  const centreGauss = () => Math.sqrt(-2 * Math.log(centreRandom() + 1e-12)) * Math.cos(2 * Math.PI * centreRandom());
  const centres = Array.from({ length: 1000 }, () => Float64Array.from({ length: dimension }, () => centreGauss()));
  return (): number[] => {
    const centre = centres[Math.floor(random() * centres.length)]!;
    const v = Array.from(centre, (x) => x + gauss() * 0.8);
    const norm = Math.hypot(...v);
    return v.map((x) => Math.round((x / norm) * 1e4) / 1e4);
  };
}

const CATEGORIES = ['dresses', 'shoes', 'bags', 'hats', 'tops', 'eyewear', 'jackets', 'accessories'];

function vectorItem(id: number, next: () => number[]) {
  return { id: `item-${id}`, vector: next(), category: CATEGORIES[id % CATEGORIES.length] };
}

/** Varied queries the emoji model knows: colour × garment. */
function textQueries(): string[] {
  const colours = ['red', 'blue', 'green', 'black', 'white', 'yellow', 'pink', 'striped'];
  const things = ['dress', 'shoe', 'handbag', 'hat', 't-shirt', 'glasses', 'coat', 'scarf', 'watch', 'running shoe', 'boot', 'necktie', 'kimono', 'bikini', 'socks', 'gloves'];
  const queries = colours.flatMap((colour) => things.map((thing) => `${colour} ${thing}`));
  const random = rng(7);
  for (let i = queries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [queries[i], queries[j]] = [queries[j]!, queries[i]!];
  }
  return queries;
}

/** Small distinct JPEGs (96×96 gradients with a box), as data URIs. */
async function smallJpegs(count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, k) => {
      const size = 96;
      const pixels = Buffer.alloc(size * size * 3);
      for (let i = 0; i < size * size; i++) {
        const x = i % size;
        const y = Math.floor(i / size);
        pixels[i * 3] = (x * 255) / size + k * 37;
        pixels[i * 3 + 1] = (y * 255) / size + k * 91;
        pixels[i * 3 + 2] = ((x + y + k * 13) * 7) % 256;
      }
      const box = await sharp({ create: { width: 24 + k, height: 30, channels: 3, background: { r: (k * 53) % 256, g: 40, b: 200 } } }).png().toBuffer();
      const jpeg = await sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
        .composite([{ input: box, left: (k * 5) % 60, top: (k * 3) % 60 }])
        .jpeg({ quality: 85 })
        .toBuffer();
      return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
    }),
  );
}

/** Upserts `count` items, two requests in flight (the next body is built while one is served). */
async function buildIndex(origin: string, dimension: number): Promise<number> {
  await call(origin, 'POST', '/v1/indexes', { name: INDEX });
  const next = vectorSource(dimension, 1);
  const started = performance.now();
  let start = 0;
  let reported = 0;
  const worker = async () => {
    while (start < itemCount) {
      const first = start;
      start = Math.min(itemCount, start + batchSize);
      const items = Array.from({ length: start - first }, (_, i) => vectorItem(first + i, next));
      const result = await call<{ failed: number; results: unknown[] }>(origin, 'POST', `/v1/indexes/${INDEX}/items`, { items });
      if (result.failed > 0) throw new Error(`upsert failed: ${JSON.stringify(result.results.slice(0, 2))}`);
      if (start - reported >= 10_000) {
        reported = start;
        process.stderr.write(`  indexed ${start} / ${itemCount}\n`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  return itemCount / ((performance.now() - started) / 1000);
}

// ---------- graph saves ----------

/** The index's graph state file, once the first save (2 s after the first write) has written it. */
async function graphStateFile(dataDir: string): Promise<string> {
  const root = join(dataDir, 'indexes');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const dir = readdirSync(root).find((name) => {
      try {
        return statSync(join(root, name, 'graph.json')).isFile();
      } catch {
        return false;
      }
    });
    if (dir) return join(root, dir, 'graph.json');
    if (Date.now() > deadline) throw new Error(`no saved graph under ${root} after 15 s`);
    await sleep(250);
  }
}

/** Counts saves of the graph: each rewrites (renames over) its state file. */
function watchSaves(file: string) {
  let last = statSync(file).mtimeMs;
  let saves = 0;
  const timer = setInterval(() => {
    try {
      const mtime = statSync(file).mtimeMs;
      if (mtime !== last) {
        saves++;
        last = mtime;
      }
    } catch {
      // between the rename's two halves
    }
  }, 50);
  return {
    stop: () => {
      clearInterval(timer);
      return saves;
    },
  };
}

/** Waits until the graph has not been saved for 3 s (a save follows the last write by 2 s). */
async function graphSettled(file: string): Promise<void> {
  let last = statSync(file).mtimeMs;
  let quietSince = Date.now();
  while (Date.now() - quietSince < 3_000) {
    await sleep(250);
    const mtime = statSync(file).mtimeMs;
    if (mtime !== last) {
      last = mtime;
      quietSince = Date.now();
    }
  }
}

/** Replaces `batch` random existing items every `everyMs` until stopped, so the index stays at its size. */
function startWriter(origin: string, dimension: number, batch: number, everyMs: number) {
  const next = vectorSource(dimension, 99);
  const random = rng(5);
  let running = true;
  let items = 0;
  let failures = 0;
  const started = performance.now();
  const loop = (async () => {
    while (running) {
      const body = { items: Array.from({ length: batch }, () => vectorItem(Math.floor(random() * itemCount), next)) };
      try {
        await call(origin, 'POST', `/v1/indexes/${INDEX}/items`, body);
        items += batch;
      } catch (error) {
        failures++;
        if (failures <= 3) process.stderr.write(`  writer: ${String(error)}\n`);
      }
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { items, failures, itemsPerSecond: items / ((performance.now() - started) / 1000) };
    },
  };
}

// ---------- load ----------

interface Target {
  path: string;
  method: 'GET' | 'POST';
  body?: string;
}

/** One autocannon run; requests rotate through `targets` across all connections. */
async function hammer(origin: string, targets: readonly Target[], seconds: number): Promise<autocannon.Result> {
  let next = 0;
  return autocannon({
    url: origin,
    connections,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: targets[0]!.method,
        setupRequest: (request) => {
          const target = targets[next++ % targets.length]!;
          return { ...request, method: target.method, path: target.path, body: target.body ?? '', headers: target.body ? jsonHeaders() : {} };
        },
      },
    ],
  });
}

/**
 * A few requests of the row through fetch first, so a wrong request fails loudly instead of as a
 * non-2xx count; returns the search strategy the service reports (graph or exact), if any.
 */
async function probe(origin: string, targets: readonly Target[]): Promise<string | undefined> {
  let strategy: string | undefined;
  for (const target of targets.slice(0, 3)) {
    const response = await fetch(`${origin}${target.path}`, { method: target.method, headers: target.body ? jsonHeaders() : {}, body: target.body });
    const text = await response.text();
    if (!response.ok) throw new Error(`${target.method} ${target.path} → ${response.status}: ${text.slice(0, 500)}`);
    strategy = (JSON.parse(text) as { strategy?: string }).strategy;
  }
  return strategy;
}

interface Row {
  name: string;
  result: autocannon.Result;
  note?: string;
}

const rate = (result: autocannon.Result) => result.requests.total / result.duration;

async function main() {
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}`;
  const loadBefore = loadavg()[0]!;
  const server = await startService({ model: values.model!, logLevel: values['log-level']!, name: 'load' });
  try {
    const health = await call<{ default_model: string; models: { id: string; version: string; dimension: number }[] }>(server.origin, 'GET', '/healthz');
    const model = health.models.find((entry) => entry.id === health.default_model)!;
    process.stderr.write(`service ready at ${server.origin} (${model.id} ${model.version}, ${model.dimension}-d); indexing ${itemCount} vectors, ${batchSize} a request…\n`);
    const buildRate = await buildIndex(server.origin, model.dimension);
    const stateFile = await graphStateFile(server.dataDir);
    await graphSettled(stateFile);
    const rssAfterBuild = rssMb(server.child.pid!);
    process.stderr.write(`indexed at ${buildRate.toFixed(0)} items/s; server RSS ${rssAfterBuild.toFixed(0)} MB\n`);

    const search = `/v1/indexes/${INDEX}/search`;
    const texts = textQueries().map((text): Target => ({ method: 'POST', path: search, body: JSON.stringify({ query: { text }, limit: 10 }) }));
    const queryVector = vectorSource(model.dimension, 2024);
    const vectors = Array.from({ length: 256 }, (): Target => ({ method: 'POST', path: search, body: JSON.stringify({ query: { vector: queryVector() }, limit: 10 }) }));
    const images = (await smallJpegs(16)).map((image): Target => ({ method: 'POST', path: '/v1/embeddings', body: JSON.stringify({ input: [{ image }] }) }));
    const healthz: Target[] = [{ method: 'GET', path: '/healthz' }];

    const rows: Row[] = [];
    const measure = async (name: string, targets: readonly Target[], during?: () => { stop: () => Promise<string> }) => {
      const strategy = await probe(server.origin, targets);
      if (warmupSeconds > 0) await hammer(server.origin, targets, warmupSeconds);
      const side = during?.();
      const result = await hammer(server.origin, targets, rowSeconds);
      const note = [strategy && `search strategy ${strategy}`, side && (await side.stop())].filter(Boolean).join('; ');
      rows.push({ name, result, ...(note && { note }) });
      process.stderr.write(`${name}: ${rate(result).toFixed(1)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, errors ${result.errors}, non-2xx ${result.non2xx}${note ? `; ${note}` : ''}\n`);
    };

    await measure('GET /healthz (ceiling)', healthz);
    await measure('text search', texts);
    await measure('vector search', vectors);
    await measure('image embedding (96×96 JPEG, data URI)', images);
    await graphSettled(stateFile);
    await measure('vector search during graph saves', vectors, () => {
      const saves = watchSaves(stateFile);
      const writer = startWriter(server.origin, model.dimension, 64, 200);
      return {
        stop: async () => {
          const written = await writer.stop();
          return `${saves.stop()} graph saves; writer replaced ${written.items} items (${written.itemsPerSecond.toFixed(0)}/s, 64 a request every 200 ms)${written.failures ? `, ${written.failures} failed requests` : ''}`;
        },
      };
    });

    // ---------- soak ----------
    let soak: { minutes: { minute: number; rps: number; p99: number; errors: number; non2xx: number; rss: number }[]; samples: { t: number; rss: number }[]; saves: number; written: number; writerFailures: number } | undefined;
    if (soakMinutes > 0) {
      await graphSettled(stateFile);
      const total = soakMinutes * 60;
      process.stderr.write(`soak: ${soakMinutes} min of text and vector searches and image embeddings in turn, 16 items replaced every second…\n`);
      const mixed: Target[] = [];
      for (let i = 0; i < 64; i++) mixed.push(texts[i % texts.length]!, vectors[i % vectors.length]!, texts[(i + 64) % texts.length]!, images[i % images.length]!);
      const sampleEvery = Math.max(1, Math.min(5, total / 20));
      const started = performance.now();
      const samples = [{ t: 0, rss: rssMb(server.child.pid!) }];
      const sampler = setInterval(() => samples.push({ t: (performance.now() - started) / 1000, rss: rssMb(server.child.pid!) }), sampleEvery * 1000);
      const saves = watchSaves(stateFile);
      const writer = startWriter(server.origin, model.dimension, 16, 1000);
      const minutes = [];
      for (let minute = 0; minute * 60 < total; minute++) {
        const result = await hammer(server.origin, mixed, Math.min(60, total - minute * 60));
        const row = { minute: minute + 1, rps: rate(result), p99: result.latency.p99, errors: result.errors, non2xx: result.non2xx, rss: rssMb(server.child.pid!) };
        minutes.push(row);
        process.stderr.write(`  minute ${row.minute}: ${row.rps.toFixed(1)} req/s, p99 ${row.p99} ms, errors ${row.errors}, non-2xx ${row.non2xx}, RSS ${row.rss.toFixed(0)} MB\n`);
      }
      clearInterval(sampler);
      samples.push({ t: (performance.now() - started) / 1000, rss: rssMb(server.child.pid!) });
      const written = await writer.stop();
      soak = { minutes, samples, saves: saves.stop(), written: written.items, writerFailures: written.failures };
    }

    // ---------- report ----------
    const ceiling = rate(rows[0]!.result);
    console.log(`\n## bench:load — ${new Date().toISOString()}`);
    console.log(`\nMachine: ${machine}; 1-min load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after (the load generator shares these cores).`);
    console.log(`Service: ${model.id} ${model.version} (${model.dimension}-d), CPU, log level ${values['log-level']}, jobs off; index of ${itemCount} clustered random vectors (built at ${buildRate.toFixed(0)} items/s, ${batchSize} a request); server RSS after the build ${rssAfterBuild.toFixed(0)} MB.`);
    console.log(`Load: autocannon, ${connections} connections, ${rowSeconds} s a row after ${warmupSeconds} s of warm-up.\n`);
    console.log('| row | req/s | p50 ms | p99 ms | max ms | errors | non-2xx | vs healthz |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const { name, result } of rows) {
      console.log(`| ${name} | ${rate(result).toFixed(1)} | ${result.latency.p50} | ${result.latency.p99} | ${result.latency.max} | ${result.errors} | ${result.non2xx} | ${((100 * rate(result)) / ceiling).toFixed(1)} % |`);
    }
    for (const { name, note } of rows) if (note) console.log(`\n${name}: ${note}.`);

    if (soak) {
      const second = soak.samples.filter((sample) => sample.t >= (soakMinutes * 60) / 2);
      const slope = leastSquaresSlope(second.map((s) => s.t / 3600), second.map((s) => s.rss));
      const first = soak.samples[0]!;
      const last = soak.samples.at(-1)!;
      console.log(`\nSoak: ${soakMinutes} min, text search, vector search, text search, image embedding in turn over ${connections} connections, 16 items replaced every second (${soak.written} in all${soak.writerFailures ? `, ${soak.writerFailures} failed requests` : ''}), ${soak.saves} graph saves.`);
      console.log(`Server RSS ${first.rss.toFixed(1)} MB at the start, ${last.rss.toFixed(1)} MB at the end; slope over the second half ${slope.toFixed(1)} MB/hour (${second.length} samples, one every ${soak.samples[1] ? (soak.samples[1].t - first.t).toFixed(0) : '?'} s).\n`);
      console.log('| minute | req/s | p99 ms | errors | non-2xx | RSS MB (end) |');
      console.log('| --- | --- | --- | --- | --- | --- |');
      for (const row of soak.minutes) console.log(`| ${row.minute} | ${row.rps.toFixed(1)} | ${row.p99} | ${row.errors} | ${row.non2xx} | ${row.rss.toFixed(0)} |`);
    }
  } catch (error) {
    process.stderr.write(`the service's last log lines (${server.log}):\n${readFileSync(server.log, 'utf8').slice(-3000)}\n`);
    throw error;
  } finally {
    await stopService(server);
  }
  process.exit(0);
}

/** Slope of y on x by ordinary least squares (NaN with fewer than two distinct x). */
function leastSquaresSlope(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const meanX = x.reduce((a, b) => a + b, 0) / n;
  const meanY = y.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (x[i]! - meanX) * (y[i]! - meanY);
    den += (x[i]! - meanX) ** 2;
  }
  return num / den;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
