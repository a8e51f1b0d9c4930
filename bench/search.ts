/**
 * bench/search — vector search at 100k and 1M items, side by side in one run:
 *   - float HNSW (USearch, cosine, f32 and f16), the usual baseline;
 *   - Lookbook's index: b1 Hamming HNSW + rescoring with float vectors read from disk, at several
 *     oversampling values (the whole product path: SQLite catalog, vector file, codes);
 *   - exact float scan (USearch exactSearch), which also gives the ground truth.
 * Each configuration is built in a child process that streams the vectors from a file, so its
 * resident memory (RSS) growth is the index's own. Reports build rate, RSS and disk per item,
 * single-query and batched QPS, and recall@10 against exact float search.
 *
 *   npm run bench:search -- [--sizes 100000,1000000] [--queries 500] [--dim 512] [--threads 2] [--configs f32,f16,b1]
 *   npm run bench:search -- --emoji models/lookbook-emoji/bench-emoji.f32   (real embeddings, see README)
 */
import { execFileSync, fork } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exactSearch, Index, MetricKind, ScalarKind } from 'usearch';
import { VectorIndex, DEFAULT_INDEX_SETTINGS } from '../src/index/vector-index.js';
import { rng } from '../src/util/random.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    queries: { type: 'string', default: '500' },
    dim: { type: 'string', default: '512' },
    threads: { type: 'string', default: '2' },
    oversampling: { type: 'string', default: '2,4,8,16' },
    'float-ef': { type: 'string', default: '64,128,256' },
    emoji: { type: 'string' },
    configs: { type: 'string', default: 'f32,f16,b1' },
    child: { type: 'string' },
    work: { type: 'string' },
  },
});

const threads = Number(values.threads);

// ---------- data ----------

/**
 * Clustered unit vectors in two levels (topics, then products within a topic) with a shared
 * offset, since real embeddings are neither uniform nor centred. The same generator (same seed
 * for the centres) makes data and queries; the bench prints the resulting nearest-neighbour cosine.
 */
function writeClustered(path: string, count: number, dim: number, seed: number, centreSeed = 42, centresFor = count): void {
  const centreRandom = rng(centreSeed);
  const gaussWith = (random: () => number) => () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const centreGauss = gaussWith(centreRandom);
  const topics = Array.from({ length: 256 }, () => Float32Array.from({ length: dim }, () => centreGauss()));
  const clusters = Math.max(64, Math.round(centresFor / 20));
  const mean = Float32Array.from({ length: dim }, () => centreGauss() * 0.5);
  const centres = Array.from({ length: clusters }, () => {
    const topic = topics[Math.floor(centreRandom() * topics.length)]!;
    return Float32Array.from({ length: dim }, (_, i) => mean[i]! + topic[i]! + centreGauss() * 0.7);
  });
  const random = rng(seed);
  const gauss = gaussWith(random);
  const fd = openSync(path, 'w');
  const chunk = 10_000;
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const buffer = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) {
      const centre = centres[Math.floor(random() * clusters)]!;
      let norm = 0;
      for (let i = 0; i < dim; i++) {
        const x = centre[i]! + gauss() * 0.6;
        buffer[r * dim + i] = x;
        norm += x * x;
      }
      norm = Math.sqrt(norm);
      for (let i = 0; i < dim; i++) buffer[r * dim + i] = buffer[r * dim + i]! / norm;
    }
    writeFileSync(fd, Buffer.from(buffer.buffer));
  }
  closeSync(fd);
}

function* readChunks(path: string, dim: number, chunk = 10_000): Generator<{ start: number; vectors: Float32Array }> {
  const fd = openSync(path, 'r');
  const total = statSync(path).size / (dim * 4);
  for (let start = 0; start < total; start += chunk) {
    const n = Math.min(chunk, total - start);
    const bytes = Buffer.alloc(n * dim * 4);
    readSync(fd, bytes, 0, bytes.length, start * dim * 4);
    yield { start, vectors: new Float32Array(bytes.buffer, bytes.byteOffset, n * dim) };
  }
  closeSync(fd);
}

function readAll(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

function dirBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => sum + (entry.isFile() ? statSync(join(dir, entry.name)).size : dirBytes(join(dir, entry.name))), 0);
}

// ---------- child: build one configuration and measure it ----------

interface ChildResult {
  rows: { config: string; recall: number; qps1: number; qpsBatch: number | null }[];
  buildSeconds: number;
  rssPerItem: number;
  diskPerItem: number;
}

function recallOf(found: number[][], truth: Uint32Array, k = 10): number {
  let hits = 0;
  found.forEach((ids, q) => {
    const expected = new Set(truth.subarray(q * k, (q + 1) * k));
    hits += ids.slice(0, k).filter((id) => expected.has(id)).length;
  });
  return hits / (found.length * k);
}

function timeQueries(count: number, run: () => void): number {
  const started = performance.now();
  run();
  return count / ((performance.now() - started) / 1000);
}

async function child(config: string, work: string): Promise<ChildResult> {
  const meta = JSON.parse(readFileSync(join(work, 'meta.json'), 'utf8')) as { dim: number; count: number; queries: number };
  const { dim, count } = meta;
  const queries = readAll(join(work, 'queries.f32'));
  const truthBytes = readFileSync(join(work, 'truth.u32'));
  const truth = new Uint32Array(truthBytes.buffer, truthBytes.byteOffset, truthBytes.length / 4);
  const queryList = Array.from({ length: meta.queries }, (_, q) => queries.slice(q * dim, (q + 1) * dim));
  const started = performance.now();
  const rows: ChildResult['rows'] = [];
  const dir = mkdtempSync(join(work, `${config}-`));

  if (config === 'b1') {
    const built = VectorIndex.create(join(dir, 'idx'), 'bench', { id: 'bench', version: '1', dimension: dim }, { ...DEFAULT_INDEX_SETTINGS, connectivity: 32, expansionSearch: 64, exactThreshold: 0 });
    for (const { start, vectors } of readChunks(join(work, 'data.f32'), dim)) {
      const n = vectors.length / dim;
      built.upsert(Array.from({ length: n }, (_, r) => ({ fields: { id: String(start + r) }, vector: vectors.subarray(r * dim, (r + 1) * dim) })));
    }
    built.close();
    const buildSeconds = (performance.now() - started) / 1000;
    // Serving memory: what opening the saved index costs a fresh process.
    const rssPerItem = await serveRss('b1', join(dir, 'idx'), dim, count);
    const index = VectorIndex.open(join(dir, 'idx'));
    for (const oversampling of values.oversampling!.split(',').map(Number)) {
      const options = { limit: 10, oversampling, rescore: true };
      let found: number[][] = [];
      const qps1 = timeQueries(queryList.length, () => {
        found = queryList.map((q) => index.search(q, options).hits.map((hit) => Number(hit.item.id)));
      });
      const qpsBatch = timeQueries(queryList.length, () => index.searchMany(queryList, options, threads));
      rows.push({ config: `b1 HNSW M32 ef64 + f32 rescore, top ${10 * oversampling}`, recall: recallOf(found, truth), qps1, qpsBatch });
    }
    {
      let found: number[][] = [];
      const qps1 = timeQueries(queryList.length, () => {
        found = queryList.map((q) => index.search(q, { limit: 10, oversampling: 1, rescore: false }).hits.map((hit) => Number(hit.item.id)));
      });
      rows.push({ config: 'b1 HNSW M32 ef64, Hamming only', recall: recallOf(found, truth), qps1, qpsBatch: NaN });
    }
    const disk = dirBytes(dir);
    index.close();
    rmSync(dir, { recursive: true, force: true });
    return { rows, buildSeconds, rssPerItem, diskPerItem: disk / count };
  }

  const quantization = config === 'f16' ? ScalarKind.F16 : ScalarKind.F32;
  const make = (ef: number) =>
    new Index({ dimensions: dim, metric: MetricKind.Cos, quantization, connectivity: 16, expansion_add: 128, expansion_search: ef, multi: false });
  const index = make(64);
  for (const { start, vectors } of readChunks(join(work, 'data.f32'), dim)) {
    const n = vectors.length / dim;
    index.add(BigUint64Array.from({ length: n }, (_, r) => BigInt(start + r)), vectors.slice(), threads);
  }
  const buildSeconds = (performance.now() - started) / 1000;
  const file = join(dir, 'index.usearch');
  index.save(file);
  const rssPerItem = await serveRss(config === 'f16' ? 'f16' : 'f32', file, dim, count);
  for (const ef of values['float-ef']!.split(',').map(Number)) {
    const viewed = make(ef);
    viewed.view(file);
    let found: number[][] = [];
    const qps1 = timeQueries(queryList.length, () => {
      found = queryList.map((q) => Array.from(viewed.search(q, 10, 1).keys, Number));
    });
    const qpsBatch = timeQueries(queryList.length, () => viewed.search(queries, 10, threads));
    rows.push({ config: `${config} cosine HNSW M16 ef${ef}`, recall: recallOf(found, truth), qps1, qpsBatch });
  }
  const disk = statSync(file).size;
  rmSync(dir, { recursive: true, force: true });
  return { rows, buildSeconds, rssPerItem, diskPerItem: disk / count };
}

/**
 * Resident memory per item of an index opened the way a server opens it, measured in a fresh
 * process (the building process's heap is full of build garbage): RSS after opening minus before.
 */
function serveRss(kind: 'b1' | 'f32' | 'f16', path: string, dim: number, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), ['--child', `serve-${kind}`, '--work', path, '--dim', String(dim)], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    proc.once('message', (message) => resolve((message as { rss: number }).rss / count));
    proc.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`serve child exited with ${code}`))));
  });
}

async function serveChild(kind: string, path: string, dim: number): Promise<{ rss: number }> {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let held: unknown;
  if (kind === 'serve-b1') held = VectorIndex.open(path);
  else {
    const index = new Index({ dimensions: dim, metric: MetricKind.Cos, quantization: kind === 'serve-f16' ? ScalarKind.F16 : ScalarKind.F32, connectivity: 16, expansion_add: 128, expansion_search: 64, multi: false });
    index.load(path);
    held = index;
  }
  global.gc?.();
  const rss = process.memoryUsage().rss - before;
  void held;
  return { rss };
}

// ---------- parent ----------

function runChild(config: string, work: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), ['--child', config, '--work', work, '--threads', String(threads), '--oversampling', values.oversampling!, '--float-ef', values['float-ef']!], {
      execArgv: ['--expose-gc', '--max-old-space-size=16384'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    proc.once('message', (message) => resolve(message as ChildResult));
    proc.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`${config} child exited with ${code}`))));
  });
}

async function parent() {
  const dim = Number(values.dim);
  const queryCount = Number(values.queries);
  const machine = `${execFileSync('nproc').toString().trim()} cores, Node ${process.version}`;
  const datasets: { label: string; build: (work: string) => number }[] = values.emoji
    ? [{ label: `emoji embeddings (${values.emoji})`, build: (work) => copyEmoji(values.emoji!, work, dim) }]
    : values.sizes!.split(',').map((size) => ({
        label: `${Number(size).toLocaleString('en')} clustered synthetic ${dim}-d unit vectors`,
        build: (work) => {
          writeClustered(join(work, 'data.f32'), Number(size), dim, 42);
          return Number(size);
        },
      }));
  console.log(`# bench/search — ${machine}, ${threads} threads for batched queries and builds, ${queryCount} queries`);
  for (const dataset of datasets) {
    const work = mkdtempSync(join(tmpdir(), 'lookbook-bench-search-'));
    try {
      const count = dataset.build(work);
      // Queries: fresh points from the same distribution (different seed), unless the dataset brought its own.
      if (!values.emoji) writeClustered(join(work, 'queries.f32'), queryCount, dim, 7, 42, count);
      const data = readAll(join(work, 'data.f32'));
      const queries = readAll(join(work, 'queries.f32'));
      const truth = new Uint32Array(queryCount * 10);
      let nearestCosine = 0;
      const started = performance.now();
      const batch = 8; // exactSearch allocates 16 bytes per (row × query): keep batches small at 1M.
      for (let q = 0; q < queryCount; q += batch) {
        const n = Math.min(batch, queryCount - q);
        const result = exactSearch(data, queries.slice(q * dim, (q + n) * dim), dim, 10, MetricKind.IP, threads);
        for (let i = 0; i < n; i++) {
          const matches = n === 1 ? (result as { keys: BigUint64Array; distances: Float32Array }) : (result as unknown as { get(i: number): { keys: BigUint64Array; distances: Float32Array } }).get(i);
          truth.set(Array.from(matches.keys, Number), (q + i) * 10);
          nearestCosine += 1 - matches.distances[0]!;
        }
      }
      const exactQps = queryCount / ((performance.now() - started) / 1000);
      writeFileSync(join(work, 'truth.u32'), Buffer.from(truth.buffer));
      writeFileSync(join(work, 'meta.json'), JSON.stringify({ dim, count, queries: queryCount }));

      console.log(`\n## ${dataset.label} (query → nearest item cosine, mean: ${(nearestCosine / queryCount).toFixed(3)})\n`);
      console.log('| configuration | recall@10 | QPS, 1 query at a time | QPS, batched | build items/s | RSS bytes/item | disk bytes/item |');
      console.log('| --- | --- | --- | --- | --- | --- | --- |');
      console.log(`| exact float scan (usearch exactSearch, inner product) | 1.000 | — | ${exactQps.toFixed(1)} | — | ${(dim * 4).toFixed(0)} (the floats) | ${(dim * 4).toFixed(0)} |`);
      for (const config of values.configs!.split(',')) {
        const result = await runChild(config, work);
        for (const row of result.rows) {
          console.log(
            `| ${row.config} | ${row.recall.toFixed(3)} | ${row.qps1.toFixed(0)} | ${row.qpsBatch === null || Number.isNaN(row.qpsBatch) ? '—' : row.qpsBatch.toFixed(0)} | ${(count / result.buildSeconds).toFixed(0)} | ${result.rssPerItem.toFixed(0)} | ${result.diskPerItem.toFixed(0)} |`,
          );
        }
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

/**
 * Real embeddings: a float32 file of unit vectors (e.g. the default model's embeddings of the
 * emoji corpus, in a shuffled order). The first `--queries` rows are the queries, the rest the data.
 */
function copyEmoji(path: string, work: string, dim: number): number {
  const bytes = readFileSync(path);
  const queryBytes = Number(values.queries) * dim * 4;
  writeFileSync(join(work, 'queries.f32'), bytes.subarray(0, queryBytes));
  writeFileSync(join(work, 'data.f32'), bytes.subarray(queryBytes));
  return (bytes.length - queryBytes) / (dim * 4);
}

if (values.child?.startsWith('serve-')) {
  serveChild(values.child, values.work!, Number(values.dim)).then(
    (result) => process.send!(result, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else if (values.child) {
  child(values.child, values.work!).then(
    (result) => {
      process.send!(result, () => process.exit(0));
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  parent().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
