/**
 * bench/search — vector search at 100k and 1M items, side by side in one run:
 *   - float HNSW (USearch, cosine, f32 and f16), the usual baseline;
 *   - Lookbook's index: b1 Hamming HNSW + rescoring with float vectors read from disk, at several
 *     oversampling values (the whole product path: SQLite catalog, vector file, codes);
 *   - exact float scan (USearch exactSearch), which also gives the ground truth;
 *   - filtered search (a category, then an attribute, matching 1 %, 10 %, 25 % and 50 % of the
 *     items, independent of the vectors; then an attribute that follows the vectors, each query
 *     filtered to its own quarter of the items and to the opposite one): recall@10 against the
 *     exact filtered answer and latency against unfiltered search in passes of the same queries;
 *   - exact Hamming scans of every code, at each --exact-sizes, and of a tenth of them by a list:
 *     the service's (the addon's scans where it is built) beside the WebAssembly kernel's.
 * Each configuration is built in a child process that streams the vectors from a file, so its
 * resident memory (RSS) growth is the index's own. Reports build rate, RSS and disk per item,
 * single-query and batched QPS, and recall@10 against exact float search.
 *
 *   npm run bench:search -- [--sizes 100000,1000000] [--queries 500] [--dim 512] [--threads 2] [--configs f32,f16,b1]
 *   npm run bench:search -- --emoji models/lookbook-emoji/bench-emoji.f32   (real embeddings, see README)
 *   npm run bench:search -- --sizes 100000 --configs b1 --oversampling 4,8 --filter-queries 200 --exact-sizes 100000
 *   npm run bench:search -- --sizes 100000 --configs b1 --http   (the filtered rows again through the service's HTTP API; after
 *     a warm-up pass it waits for the copies and graphs of filters the service builds, as its index's description reports them)
 *   npm run bench:search -- --sizes 1000000 --configs b1 --http --http-ef 64   (… on an index created with expansion_search 64)
 *   npm run bench:search -- --sizes 1000000 --configs b1 --oversampling 4 --ef 256,384,512   (unfiltered rows at other efs than the default)
 *   npm run bench:search -- --sizes 1000000 --configs b1 --measure-queries 0   (the default ef grown with the index, as before it was measured on queries;
 *     a --http service measures its index's ef on its own searches, in the background, from its 125th)
 *   npm run bench:search -- --sizes 1000000 --configs b1 --oversampling 4 --walk-guard on,off   (with and without the walk guard)
 */
import { execFileSync, fork } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exactSearch, Index, MetricKind, ScalarKind } from 'usearch';
import { CodeStore } from '../src/index/code-store.js';
import type { ItemFilter } from '../src/index/catalog.js';
import type { ExpansionMeasurement } from '../src/index/expansion-meter.js';
import { VectorIndex, CHECKPOINT_SPACING, DEFAULT_INDEX_SETTINGS, DEFAULT_FILTERED_SEARCH_TUNING, type FilteredSearchTuning, type SearchOutcome, type IndexSettings } from '../src/index/vector-index.js';
import { rng } from '../src/util/random.js';
import { percentile } from './percentile.js';
import { startService, stopService } from './service.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    queries: { type: 'string', default: '500' },
    dim: { type: 'string', default: '512' },
    threads: { type: 'string', default: '2' },
    oversampling: { type: 'string', default: '2,4,8,16' },
    'float-ef': { type: 'string', default: '64,128,256' },
    /** Unfiltered b1 rows with the check of each graph walk against a sample of the codes (the service's way) and without it: on, off or both. */
    'walk-guard': { type: 'string', default: 'on' },
    /**
     * Unfiltered b1 rows walked by the service's default (`default`: from the walk guard's sampled codes nearest to the query), from the
     * graph's top (`from-top`, tuning `walkFromSample: false`, as until 2026-12-03), or with every native walk by the two-bit estimate
     * (`two-bit`, tuning `estimateWalks: 'all'`, from the top); any of them, comma-separated.
     */
    'unfiltered-walks': { type: 'string', default: 'default' },
    /**
     * Graph engines of the unfiltered b1 rows, in turns (`native`: native/graph.cpp, `usearch`: USearch's binding; both open
     * the same files), each with its own serving RSS; empty: the service's choice (LOOKBOOK_GRAPH). The later rows use the first.
     */
    graph: { type: 'string', default: '' },
    /** Rounds of the unfiltered rows (each engine in turn in each round, so the machine's drift falls on all). */
    'graph-passes': { type: 'string', default: '1' },
    /** Unfiltered ef of the b1 rows (0: the index's default: measured on --measure-queries queries, or grown with its size). */
    ef: { type: 'string', default: '0' },
    /**
     * Queries (fresh ones, not the timed ones) the b1 index measures its unfiltered ef on before the rows, as the service does on
     * a sample of its searches (src/index/expansion-meter.ts); 0: none, the default ef grows with the index (256 at 1M).
     */
    'measure-queries': { type: 'string', default: '64' },
    emoji: { type: 'string' },
    configs: { type: 'string', default: 'f32,f16,b1' },
    /** Queries per filtered row (each needs its own exact filtered ground truth). */
    'filter-queries': { type: 'string', default: '200' },
    /** Timed rounds of each filtered row (a pass unfiltered, then one filtered, per variant); the row gives the medians, its ratio the median of the rounds' ratios. */
    'filter-rounds': { type: 'string', default: '3' },
    /** Candidates = 10 × this for the filtered rows and their unfiltered baseline. */
    'filter-oversampling': { type: 'string', default: '4' },
    /** The index's ef (its expansion_search) for the filtered rows, the unfiltered searches beside them included; 0: the index's default (see --measure-queries). */
    'filter-ef': { type: 'string', default: '0' },
    /** HNSW connectivity (M) of the b1 index (the service's default). */
    connectivity: { type: 'string', default: String(DEFAULT_INDEX_SETTINGS.connectivity) },
    /** Filtered-search variants timed side by side in each filtered row (see FILTER_VARIANTS; `two-bit` is the service's path). */
    'filter-variants': { type: 'string', default: 'two-bit,sign' },
    /** Memory for copies of filters' codes, bytes per item, in every variant but `no-copies` and in the service (--http); empty for the default. */
    'copy-budget': { type: 'string', default: '' },
    /** Code counts for the exact-scan rows; empty for none. */
    'exact-sizes': { type: 'string', default: '100000,1000000' },
    /** Search latency while the graph is saved: on the event loop's thread, and by the checkpoint worker; and while the ef is measured in the background (seconds of queries each; 0 for none). */
    'save-seconds': { type: 'string', default: '3' },
    /**
     * Search latency while an item is re-upserted every second and a 25 % filter searched after each write, with and without copies; then a
     * filter not copied yet searched under a write every 100 ms, under the old and the new rule for making copies (seconds each; 0 for none).
     */
    'copy-churn-seconds': { type: 'string', default: '0' },
    /** Unfiltered search latency while an item is re-upserted every 100 ms, with the graph's saves back to back and spaced (seconds a row, four rows; 0 for none). */
    'write-seconds': { type: 'string', default: '0' },
    /** Also time filtered and unfiltered searches through POST /v1/indexes/{name}/search of the service, started as a child process. */
    http: { type: 'boolean', default: false },
    /** The ef the --http index is created with (its expansion_search; 0: the service's default, which grows with the index). */
    'http-ef': { type: 'string', default: '0' },
    /** The model the service loads for --http (its dimension must be --dim). */
    model: { type: 'string', default: 'models/lookbook-emoji' },
    /**
     * A directory kept between runs: the dataset, its ground truth and each built index are written
     * there once and reused by later runs with the same size, dimension and query count (a 1M build
     * takes tens of minutes). Build rates are not measured on a reused index.
     */
    keep: { type: 'string' },
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
  try {
    const total = statSync(path).size / (dim * 4);
    for (let start = 0; start < total; start += chunk) {
      const n = Math.min(chunk, total - start);
      const bytes = Buffer.alloc(n * dim * 4);
      readSync(fd, bytes, 0, bytes.length, start * dim * 4);
      yield { start, vectors: new Float32Array(bytes.buffer, bytes.byteOffset, n * dim) };
    }
  } finally {
    // Also when the caller stops early (quarterModel reads the first chunk only).
    closeSync(fd);
  }
}

function readAll(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

function dirBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => sum + (entry.isFile() ? statSync(join(dir, entry.name)).size : dirBytes(join(dir, entry.name))), 0);
}

// ---------- child: build one configuration and measure it ----------

interface FilterRow {
  filter: string;
  variant: string;
  share: number;
  recall: number;
  filteredMs: number;
  unfilteredMs: number;
  /** The median of the rounds' filtered ÷ unfiltered. */
  ratio: number;
  /** The lowest and highest of the rounds' ratios. */
  ratios: [number, number];
  strategies: string;
}

/** The median by nearest rank (percentile 50; `values` are left as they are). */
const median = (values: readonly number[]) => percentile([...values].sort((a, b) => a - b), 50);

/**
 * Ways to run a search, timed against each other query by query (the unfiltered baseline of each
 * row runs with the variant's narrowing too): `hamming` is the first path (the Hamming top k of the
 * matching codes rescored), `sign` the one before two-bit codes, `two-bit` the service's,
 * `scan-only` the service's with every filter scanned.
 */
const FILTER_VARIANTS: Record<string, FilteredSearchTuning> = {
  hamming: { ...DEFAULT_FILTERED_SEARCH_TUNING, poolFactor: 1, sparsePoolFactor: 1, shortlistFactor: 1, denseShortlistFactor: 1, narrowGain: 1 },
  /** The service's path: candidates narrowed by their two-bit codes. */
  'two-bit': DEFAULT_FILTERED_SEARCH_TUNING,
  /** The path before two-bit codes: narrowed by the signed dot products of the sign codes, with the pools that needed. */
  sign: { ...DEFAULT_FILTERED_SEARCH_TUNING, narrowBy: 'sign', narrowGain: 1 },
  /** The defaults, but the filtered walk by Hamming distance (as until 2026-12-02), not by the two-bit estimate. */
  'hamming-walk': { ...DEFAULT_FILTERED_SEARCH_TUNING, estimateWalks: 'none' },
  /** The defaults, and the unfiltered walk by the two-bit estimate too (its ef as the index's). */
  'estimate-all': { ...DEFAULT_FILTERED_SEARCH_TUNING, estimateWalks: 'all' },
  /** The defaults, but every filter scanned (no graph path). */
  'scan-only': { ...DEFAULT_FILTERED_SEARCH_TUNING, graphStepInCodes: Number.MAX_SAFE_INTEGER },
  /** The defaults, but the graph for every filter past the exact threshold that half the index does not match: is the planner's scan the better choice on this machine? */
  'graph-first': { ...DEFAULT_FILTERED_SEARCH_TUNING, graphStepInCodes: 0 },
  /** The defaults, but the graph's overfetch the same at every share (it was before it fell past 25 %). */
  'flat-overfetch': { ...DEFAULT_FILTERED_SEARCH_TUNING, graphOverfetchEndShare: Number.POSITIVE_INFINITY },
  /** The defaults without copies of filters' codes (see PostingCopy): scans through the posting lists, and the graph for the filters it answers without a copy. */
  'no-copies': { ...DEFAULT_FILTERED_SEARCH_TUNING, copyBytesPerItem: 0 },
  /** The defaults, but graph walks unfiltered, keeping their matching candidates (as until 2026-12-02, and on USearch's binding). */
  'post-filter': { ...DEFAULT_FILTERED_SEARCH_TUNING, filteredWalk: false },
  /** The filtered walks as until the eighth session of 2026-12-02: from where the graph's upper levels lead, asking for the pool × 1.2 (`estimateWalkFactor`). */
  'top-walks': { ...DEFAULT_FILTERED_SEARCH_TUNING, walkSeeds: false },
  /** The defaults without the look at the filter's share near the query before a graph walk (as until 2026-12-02). */
  'no-near': { ...DEFAULT_FILTERED_SEARCH_TUNING, nearSample: 0 },
};

interface ChildResult {
  /** `rss`: this row's serving RSS per item where it differs from the configuration's (another graph engine). */
  /** `qpsIndex`: one query at a time without the catalog's lookup of the hits (VectorIndex.searchSlots: the walk, the narrowing and the rescoring). */
  rows: { config: string; recall: number; qps1: number; qpsIndex?: number; qpsBatch: number | null; rss?: number }[];
  filterRows?: FilterRow[];
  saveRows?: SaveRow[];
  churnRows?: ChurnRow[];
  steadyRows?: SteadyRow[];
  checkpointRows?: CheckpointRow[];
  /** The ef the index measured on --measure-queries queries of its own (see expansion-meter.ts), which its default rows use. */
  measured?: ExpansionMeasurement;
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
  const kept = values.keep ? join(work, `${config}-M${values.connectivity}`) : undefined;
  const dir = kept ?? mkdtempSync(join(work, `${config}-`));
  mkdirSync(dir, { recursive: true });

  const reused = config === 'b1' && kept !== undefined && existsSync(join(kept, 'idx', 'catalog.sqlite'));
  if (reused) console.error(`# reusing the index built in ${kept}`);
  else if (config === 'b1') {
    const built = VectorIndex.create(join(dir, 'idx'), 'bench', { id: 'bench', version: '1', dimension: dim }, {
      ...DEFAULT_INDEX_SETTINGS,
      connectivity: Number(values.connectivity),
      // The graph for unfiltered queries even on a small dataset; past the default, the default (filtered searches choose by cost).
      exactThreshold: count > DEFAULT_INDEX_SETTINGS.exactThreshold ? DEFAULT_INDEX_SETTINGS.exactThreshold : 0,
    });
    const quarterOf = quarterModel(work, dim);
    for (const { start, vectors } of readChunks(join(work, 'data.f32'), dim)) {
      const n = vectors.length / dim;
      built.upsert(
        Array.from({ length: n }, (_, r) => ({
          fields: { id: String(start + r), category: bandOf(start + r, 0), attributes: { tier: bandOf(start + r, 1), quarter: quarterOf(vectors.subarray(r * dim, (r + 1) * dim)) } },
          vector: vectors.subarray(r * dim, (r + 1) * dim),
        })),
      );
    }
    built.close();
  }
  let measured: ExpansionMeasurement | undefined;
  if (config === 'b1') {
    // The ef measured on queries of the index's own (the service samples its searches), or none: a reused index forgets the last.
    const index = VectorIndex.open(join(dir, 'idx'));
    const measureQueries = Number(values['measure-queries']);
    if (measureQueries > 0) {
      // Fresh queries from the queries' distribution (another seed); an emoji run measures on its own queries.
      const fresh = join(work, `measure-${measureQueries}.f32`);
      if (!values.emoji && !existsSync(fresh)) writeClustered(fresh, measureQueries, dim, 13, 42, count);
      const pool = values.emoji ? queries : readAll(fresh);
      const list = Array.from({ length: Math.min(measureQueries, pool.length / dim) }, (_, q) => pool.slice(q * dim, (q + 1) * dim));
      const started = performance.now();
      measured = index.measureExpansionNow(list);
      console.error(`# measured ef ${measured.expansion} in ${((performance.now() - started) / 1000).toFixed(1)} s: ${measured.recallByExpansion.map((step) => `${step.expansion} → ${step.recall.toFixed(3)}`).join(', ')}`);
    } else index.forgetExpansion();
    index.close();
  }
  if (config === 'b1') {
    // 0: not measured (the index was reused); NaN would not survive the message to the parent.
    const buildSeconds = reused ? 0 : (performance.now() - started) / 1000;
    function unfilteredRows(index: VectorIndex, label: string, rss: number): void {
      // 0: the index's own ef.
      const expansions = values.ef!.split(',').map(Number);
      for (const [guard, walks] of values['walk-guard']!.split(',').flatMap((guard) => values['unfiltered-walks']!.split(',').map((walks) => [guard, walks] as const))) {
        index.guardWalks = guard === 'on';
        if (walks !== 'default' && walks !== 'two-bit' && walks !== 'from-top') throw new Error(`--unfiltered-walks takes default, from-top and two-bit, not ${walks}`);
        index.tuning =
          walks === 'two-bit' ? { ...DEFAULT_FILTERED_SEARCH_TUNING, estimateWalks: 'all' } : walks === 'from-top' ? { ...DEFAULT_FILTERED_SEARCH_TUNING, walkFromSample: false } : DEFAULT_FILTERED_SEARCH_TUNING;
        for (const expansion of expansions) {
          for (const oversampling of values.oversampling!.split(',').map(Number)) {
            const options = { limit: 10, oversampling, rescore: true, expansion };
            let found: number[][] = [];
            let scanned = 0;
            let widened = 0;
            let seeded = 0;
            let fromTop = 0;
            const qps1 = timeQueries(queryList.length, () => {
              scanned = 0;
              widened = 0;
              seeded = 0;
              fromTop = 0;
              found = queryList.map((q) => {
                const outcome = index.search(q, options);
                if (outcome.strategy === 'exact-after-hnsw') scanned++;
                if (outcome.strategy === 'hnsw-widened') widened++;
                if (outcome.strategy === 'hnsw-seeded') seeded++;
                if (outcome.strategy === 'hnsw-from-top') fromTop++;
                return outcome.hits.map((hit) => Number(hit.item.id));
              });
            });
            const qpsIndex = timeQueries(queryList.length, () => {
              for (const q of queryList) index.searchSlots(q, options);
            });
            const qpsBatch = timeQueries(queryList.length, () => index.searchMany(queryList, options, threads));
            const ef = `ef${index.expansionFor(10 * oversampling, expansion)}${expansion ? '' : ' (default)'}`;
            const start = index.tuning.walkFromSample && walks !== 'two-bit' ? 'from its sample' : 'from the top';
            const again = walks === 'two-bit' || !index.tuning.walkFromSample ? `${seeded} walked again from its sample` : `${fromTop} walked again from the top`;
            const guarded = index.guardWalks ? `, walk guard (walks ${start}; of ${queryList.length}: ${again}, ${widened} at four times the ef, ${scanned} scanned)` : ', no walk guard';
            const walked = walks === 'two-bit' ? ', walked by the two-bit estimate' : '';
            rows.push({ rss, config: `${label}b1 HNSW M${values.connectivity} ${ef}${walked} + f32 rescore, top ${10 * oversampling}${guarded}`, recall: recallOf(found, truth), qps1, qpsIndex, qpsBatch });
          }
        }
      }
      index.tuning = DEFAULT_FILTERED_SEARCH_TUNING;
    }
    const engines = values.graph ? values.graph.split(',') : [''];
    // Serving memory: what opening the saved index costs a fresh process, per engine.
    const engineRss = new Map<string, number>();
    for (let pass = 0; pass < Number(values['graph-passes']); pass++) {
      for (const engine of engines) {
        if (engine) process.env.LOOKBOOK_GRAPH = engine;
        if (!engineRss.has(engine)) engineRss.set(engine, await serveRss('b1', join(dir, 'idx'), dim, count));
        const index = VectorIndex.open(join(dir, 'idx'));
        index.measureInBackground = false;
        const label = engine ? `${engine} graph${Number(values['graph-passes']) > 1 ? `, round ${pass + 1}` : ''}: ` : '';
        unfilteredRows(index, label, engineRss.get(engine)!);
        index.close();
      }
    }
    if (engines[0]) process.env.LOOKBOOK_GRAPH = engines[0];
    const rssPerItem = engineRss.get(engines[0]!)!;
    const index = VectorIndex.open(join(dir, 'idx'));
    index.measureInBackground = false;
    index.guardWalks = true;
    {
      let found: number[][] = [];
      const qps1 = timeQueries(queryList.length, () => {
        found = queryList.map((q) => index.search(q, { limit: 10, oversampling: 1, rescore: false }).hits.map((hit) => Number(hit.item.id)));
      });
      rows.push({ config: `b1 HNSW M${values.connectivity} ef${index.expansionFor(10)}, no float rescoring`, recall: recallOf(found, truth), qps1, qpsBatch: NaN });
    }
    // --filter-queries 0: no filtered rows (nor their ground truth).
    // --filter-ef: the index as though created with that expansion_search (the service's indexes take it at creation).
    if (Number(values['filter-ef']) > 0) (index as unknown as { settings: IndexSettings }).settings = { ...index.settings, expansionSearch: Number(values['filter-ef']) };
    const filterRows = Number(values['filter-queries']) > 0 ? await filteredRows(index, work, dim, count, queries) : [];
    const saveRows = Number(values['save-seconds']) > 0 ? await savingRows(index, queryList, Number(values['save-seconds']) * 1000) : [];
    const churnRows = Number(values['copy-churn-seconds']) > 0 ? await copyChurnRows(index, queryList, Number(values['copy-churn-seconds'])) : [];
    const steadyRows = Number(values['copy-churn-seconds']) > 0 ? await steadyWriteRows(index, queryList, Number(values['copy-churn-seconds'])) : [];
    const checkpointRowsFound = Number(values['write-seconds']) > 0 ? await checkpointRows(index, queryList, Number(values['write-seconds'])) : [];
    const disk = dirBytes(dir);
    index.close();
    if (!kept) rmSync(dir, { recursive: true, force: true });
    return { rows, filterRows, saveRows, churnRows, steadyRows, checkpointRows: checkpointRowsFound, measured, buildSeconds, rssPerItem, diskPerItem: disk / count };
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

// ---------- filtered search ----------

/** The selectivity bands: a value matching 1 %, 10 %, 25 % and 50 % of the items (the rest: 14 %). */
const BANDS = [
  { value: 's01', share: 0.01 },
  { value: 's10', share: 0.1 },
  { value: 's25', share: 0.25 },
  { value: 's50', share: 0.5 },
];

/** A well-mixed hash of (item, field), so the category and the attribute are independent of each other and of the vectors. */
function mix(i: number, field: number): number {
  let h = Math.imul(i ^ Math.imul(field + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

function bandOf(i: number, field: number): string {
  const u = mix(i, field);
  let upTo = 0;
  for (const band of BANDS) {
    upTo += band.share;
    if (u < upTo) return band.value;
  }
  return 'rest';
}

/**
 * A field that follows the vectors, as real catalogs' categories do: the quarter of the items an
 * item falls in by its projection on a fixed random direction (cuts at the quartiles of the first
 * 10,000 items). A query's neighbours mostly share its quarter; the opposite quarter (the bottom
 * one for a query in the upper half, the top one otherwise) holds few of them, as a category unlike
 * the query's does (Complete the Look's searches, "red dress" in shoes).
 */
function quarterModel(work: string, dim: number): (vector: Float32Array) => string {
  const random = rng(1234);
  const direction = Float64Array.from({ length: dim }, () => random() - 0.5);
  const project = (vector: Float32Array) => {
    let dot = 0;
    for (let i = 0; i < dim; i++) dot += vector[i]! * direction[i]!;
    return dot;
  };
  const chunks = readChunks(join(work, 'data.f32'), dim);
  const first = chunks.next().value!.vectors;
  chunks.return(undefined);
  const projections = Float64Array.from({ length: first.length / dim }, (_, r) => project(first.subarray(r * dim, (r + 1) * dim))).sort();
  const cuts = [0.25, 0.5, 0.75].map((q) => projections[Math.floor(q * projections.length)]!);
  return (vector) => {
    const p = project(vector);
    return `q${cuts.filter((cut) => p >= cut).length}`;
  };
}

/** A query's quarter's opposite: q0 for a query in q2 or q3, q3 for one in q0 or q1. */
const oppositeQuarter = (quarter: string) => (quarter >= 'q2' ? 'q0' : 'q3');

/** Each query's exact float top 10 among `members` (item numbers). */
function truthAmong(data: Float32Array, dim: number, members: readonly number[], queries: Float32Array, queryCount: number): Uint32Array {
  const subset = new Float32Array(members.length * dim);
  members.forEach((item, j) => subset.set(data.subarray(item * dim, (item + 1) * dim), j * dim));
  const truth = new Uint32Array(queryCount * 10);
  for (let q = 0; q < queryCount; q += 8) {
    const n = Math.min(8, queryCount - q);
    const result = exactSearch(subset, queries.slice(q * dim, (q + n) * dim), dim, 10, MetricKind.IP, threads);
    for (let i = 0; i < n; i++) {
      const matches = n === 1 ? (result as { keys: BigUint64Array }) : (result as unknown as { get(i: number): { keys: BigUint64Array } }).get(i);
      truth.set(Array.from(matches.keys, (key) => members[Number(key)]!), (q + i) * 10);
    }
  }
  return truth;
}

/**
 * The filtered cases every filtered row runs: a category, then an attribute, at each band's
 * selectivity (independent of the vectors); then an attribute that follows them (see
 * {@link quarterModel}): each query filtered to its own quarter, and to the opposite one.
 * `filters[q]` is query q's filter, `truth` its exact float top 10 within it.
 */
function* filterCases(work: string, data: Float32Array, dim: number, count: number, queries: Float32Array, queryCount: number) {
  for (const [field, label] of [
    [0, 'category'],
    [1, 'attribute'],
  ] as const) {
    for (const band of BANDS) {
      const members: number[] = [];
      for (let i = 0; i < count; i++) if (bandOf(i, field) === band.value) members.push(i);
      const filter = field === 0 ? { category: [band.value] } : { attributes: { tier: band.value } };
      yield { name: `${label} = ${band.value}`, share: members.length / count, truth: truthAmong(data, dim, members, queries, queryCount), filters: Array.from({ length: queryCount }, () => filter) };
    }
  }
  const quarterOf = quarterModel(work, dim);
  const members = new Map<string, number[]>();
  for (let i = 0; i < count; i++) {
    const quarter = quarterOf(data.subarray(i * dim, (i + 1) * dim));
    if (!members.has(quarter)) members.set(quarter, []);
    members.get(quarter)!.push(i);
  }
  const truths = new Map([...members].map(([quarter, items]) => [quarter, truthAmong(data, dim, items, queries, queryCount)]));
  const queryQuarters = Array.from({ length: queryCount }, (_, q) => quarterOf(queries.subarray(q * dim, (q + 1) * dim)));
  for (const [name, quarterFor] of [
    ['quarter with the query', (quarter: string) => quarter],
    ['quarter against the query', oppositeQuarter],
  ] as const) {
    const chosen = queryQuarters.map(quarterFor);
    const truth = new Uint32Array(queryCount * 10);
    chosen.forEach((quarter, q) => truth.set(truths.get(quarter)?.subarray(q * 10, (q + 1) * 10) ?? [], q * 10));
    const share = chosen.reduce((sum, quarter) => sum + (members.get(quarter)?.length ?? 0), 0) / queryCount / count;
    yield { name, share, truth, filters: chosen.map((quarter) => ({ attributes: { quarter } })) };
  }
}

/** The search paths a row's queries took: one name, or each with its count. */
const strategyList = (strategies: Map<string, number>) => [...strategies].map(([name, n]) => (strategies.size === 1 ? name : `${name} ${n}`)).join(', ');

/**
 * For each band, as a category filter and as an attribute filter: recall@10 against exact float
 * search over the matching items, and the mean latency of the filtered search against the same
 * queries unfiltered, timed in alternate passes so both see the same machine.
 */
async function filteredRows(index: VectorIndex, work: string, dim: number, count: number, queries: Float32Array): Promise<FilterRow[]> {
  const data = readAll(join(work, 'data.f32'));
  const queryCount = Math.min(Number(values['filter-queries']), queries.length / dim);
  const queryList = Array.from({ length: queryCount }, (_, q) => queries.slice(q * dim, (q + 1) * dim));
  const options = { limit: 10, oversampling: Number(values['filter-oversampling']), rescore: true };
  const rows: FilterRow[] = [];
  for (const { name, share, truth, filters } of filterCases(work, data, dim, count, queries, queryCount)) {
    const variants = values['filter-variants']!.split(',').map((name) => {
      // `overfetch=X`: the service's path with a graph overfetch of X; `<setting>=X` (+ more, joined by `+`): with those numeric settings.
      const overfetch = /^overfetch=([\d.]+)$/.exec(name);
      const settings = /^[a-zA-Z]+=[\d.]+(\+[a-zA-Z]+=[\d.]+)*$/.test(name) && !overfetch ? Object.fromEntries(name.split('+').map((pair) => pair.split('=')).map(([key, value]) => [key!, Number(value)])) : undefined;
      if (settings && Object.keys(settings).some((key) => typeof (DEFAULT_FILTERED_SEARCH_TUNING as unknown as Record<string, unknown>)[key] !== 'number')) throw new Error(`not a numeric filtered-search setting: ${name}`);
      const named = overfetch ? { ...DEFAULT_FILTERED_SEARCH_TUNING, graphOverfetch: Number(overfetch[1]) } : settings ? { ...DEFAULT_FILTERED_SEARCH_TUNING, ...settings } : FILTER_VARIANTS[name];
      if (!named) throw new Error(`unknown filter variant ${name}: ${Object.keys(FILTER_VARIANTS).join(', ')}, overfetch=X, <setting>=X`);
      const tuning = values['copy-budget'] && name !== 'no-copies' ? { ...named, copyBytesPerItem: Number(values['copy-budget']) } : named;
      return { name, tuning, strategies: new Map<string, number>(), found: [] as number[][], filteredMs: [] as number[], unfilteredMs: [] as number[] };
    });
    // A warm-up round, then the timed ones; in each, per variant, every query unfiltered and every query filtered, in
    // blocks of ten that alternate: unfiltered block b, then filtered block b + half (other queries: a search right after
    // the same query's other search finds its graph nodes and vectors in the CPU caches, which at 1M halved its time).
    // Blocks of ~10–20 ms side by side see the same machine (passes of 100 queries a few seconds apart differed by a
    // third), and each variant's ratio is the median of the rounds'.
    const rounds = Math.max(1, Number(values['filter-rounds']));
    const block = 10;
    const blocks = Math.ceil(queryCount / block);
    const blockOf = (b: number) => Array.from({ length: Math.min(block, queryCount - b * block) }, (_, i) => b * block + i);
    for (const [round, timed] of [false, ...Array.from({ length: rounds }, () => true)].entries()) {
      for (const variant of variants) {
        index.tuning = variant.tuning;
        // The bench's own garbage (ground truths, data) is not the search's: collect it before each round.
        global.gc?.();
        let unfilteredMs = 0;
        let filteredMs = 0;
        const outcomes: SearchOutcome[] = [];
        for (let b = 0; b < blocks; b++) {
          const t0 = performance.now();
          for (const q of blockOf(b)) index.search(queryList[q]!, options);
          const t1 = performance.now();
          for (const q of blockOf((b + (blocks >> 1)) % blocks)) outcomes[q] = index.search(queryList[q]!, { ...options, filter: filters[q] });
          const t2 = performance.now();
          unfilteredMs += t1 - t0;
          filteredMs += t2 - t1;
        }
        if (!timed) continue;
        variant.unfilteredMs.push(unfilteredMs);
        variant.filteredMs.push(filteredMs);
        if (round > 1) continue;
        for (const outcome of outcomes) {
          variant.found.push(outcome.hits.map((hit) => Number(hit.item.id)));
          variant.strategies.set(outcome.strategy, (variant.strategies.get(outcome.strategy) ?? 0) + 1);
        }
      }
      // Copies of filters' codes that the warm-up's searches asked for are filled between turns of the event loop, as between a service's requests.
      await index.copiesBuilt();
    }
    index.tuning = DEFAULT_FILTERED_SEARCH_TUNING;
    const copies = index.postingCopies;
    const graphs = index.filterGraphStats;
    process.stderr.write(`filtered ${name}: copies of filters held ${copies.filters}, ${(copies.bytes / count).toFixed(1)} bytes/item; filters' graphs ${graphs.filters}, ${(graphs.bytes / count).toFixed(1)} bytes/item\n`);
    for (const variant of variants) {
      rows.push({
        filter: name,
        variant: variant.name,
        share,
        recall: recallOf(variant.found, truth),
        filteredMs: median(variant.filteredMs) / queryCount,
        unfilteredMs: median(variant.unfilteredMs) / queryCount,
        ratio: median(variant.filteredMs.map((ms, i) => ms / variant.unfilteredMs[i]!)),
        ratios: [Math.min(...variant.filteredMs.map((ms, i) => ms / variant.unfilteredMs[i]!)), Math.max(...variant.filteredMs.map((ms, i) => ms / variant.unfilteredMs[i]!))],
        strategies: strategyList(variant.strategies),
      });
    }
  }
  return rows;
}

// ---------- searches during a save ----------

interface SaveRow {
  save: string;
  /** How long the save took (its call on this thread, or the worker's whole checkpoint). */
  saveMs: number;
  queries: number;
  p50: number;
  p99: number;
  max: number;
}

/** Re-upserts the first live item as it is: a write that changes nothing but the index's own state (a save is due, copies drop). */
function touch(index: VectorIndex): void {
  const item = index.liveItems(-1, 1)[0]!;
  index.upsert([{ fields: { id: item.id, category: item.category, attributes: item.attributes }, vector: index.vectorOf(item) }]);
}

/** Waits until request `i` of an open loop at `rate` a second from `started` is due (at once if it is late); when it was due. */
async function dueAt(started: number, i: number, rate: number): Promise<number> {
  const due = started + (i * 1000) / rate;
  const wait = due - performance.now();
  await (wait > 1 ? sleep(wait) : new Promise((resolve) => setImmediate(resolve)));
  return due;
}

/**
 * Unfiltered searches arriving at a fixed rate (an open loop, as requests reach a server), each
 * timed from when it was due, so a stalled event loop counts in full: with nothing else running,
 * with the graph saved on this thread part-way through (`save()`, what the service did before the
 * checkpoint worker), and with a checkpoint by the worker thread (what the service does: the
 * worker loads the last saved graph, replays the changes since and saves it). One item is
 * re-upserted before each save so that there is something to save.
 */
async function savingRows(index: VectorIndex, queries: Float32Array[], ms: number): Promise<SaveRow[]> {
  const rate = 200;
  const options = { limit: 10, oversampling: 4, rescore: true };
  const run = async (save: string, during?: () => Promise<number>): Promise<SaveRow> => {
    const latencies: number[] = [];
    let saveMs = 0;
    let saving: Promise<void> | undefined;
    const started = performance.now();
    for (let i = 0; ; i++) {
      const due = await dueAt(started, i, rate);
      if (during && !saving && performance.now() - started > ms / 4) saving = during().then((took) => void (saveMs = took));
      index.search(queries[i % queries.length]!, options);
      latencies.push(performance.now() - due);
      if (performance.now() - started > ms && (!saving || saveMs > 0)) break;
    }
    latencies.sort((a, b) => a - b);
    return { save, saveMs, queries: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1)! };
  };
  const rows = [await run('none')];
  await index.checkpoint();
  touch(index);
  rows.push(
    await run('graph saved on the event loop thread (before)', () => {
      const t0 = performance.now();
      index.save();
      return Promise.resolve(performance.now() - t0);
    }),
  );
  touch(index);
  rows.push(
    await run('checkpoint in the worker thread (now)', async () => {
      const t0 = performance.now();
      await index.checkpoint();
      return performance.now() - t0;
    }),
  );
  // The ef's measurement, as a due one runs in the service (slices of steps, searches between); none where the ef is set (--filter-ef).
  if (index.expansionReport().source !== 'setting') {
    rows.push(
      await run(`the ef measured in the background (${Math.min(64, queries.length)} queries; ms: until it ended)`, async () => {
        const t0 = performance.now();
        await index.measureExpansionInBackground(queries.slice(0, 64));
        return performance.now() - t0;
      }),
    );
  }
  return rows;
}

// ---------- copies of filters' codes made again and again ----------

interface ChurnRow {
  copies: string;
  queries: number;
  p50: number;
  p99: number;
  max: number;
  /** The slowest of the writes (an upsert fsyncs before it returns). */
  writeMaxMs: number;
  /** The slowest of the filtered searches right after a write (the second asks for a copy where there is none). */
  askMaxMs: number;
  /** The mean of those filtered searches. */
  filteredMs: number;
  /** Of the filtered searches after a write (`cycles` × 2), those the copy answered (a scan; without it the graph answers). */
  made: number;
  cycles: number;
}

/**
 * Unfiltered searches arriving at 100/s, each timed from when it was due, while every second one
 * item is re-upserted and the 25 % category is searched twice right after: with copies (the budget
 * of --copy-budget, the service's by default) and without (budget 0). A write keeps the copies made
 * (the replaced item leaves them, the new one joins the copy of its filter); until 2026-12-02 it
 * dropped them, and the second search asked for the copy to be made again. What copies in a
 * written index cost the other searches, and what the filtered searches after a write take. A
 * search due during the write is timed from the write's end: the write's fsync (5–305 ms on these
 * machines) would otherwise set the p99 of every row.
 */
async function copyChurnRows(index: VectorIndex, queries: Float32Array[], seconds: number): Promise<ChurnRow[]> {
  const rate = 100;
  const options = { limit: 10, oversampling: 4, rescore: true };
  const filter = { category: ['s25'] };
  const run = async (copies: string, copyBytesPerItem: number): Promise<ChurnRow> => {
    index.tuning = { ...DEFAULT_FILTERED_SEARCH_TUNING, copyBytesPerItem, copyQuietMs: 0 };
    const latencies: number[] = [];
    let writeMaxMs = 0;
    let askMaxMs = 0;
    let filteredMs = 0;
    let made = 0;
    let cycles = 0;
    let writeEnd = 0;
    const started = performance.now();
    for (let i = 0; i < seconds * rate; i++) {
      const due = await dueAt(started, i, rate);
      if (i % rate === 0) {
        cycles++;
        const t0 = performance.now();
        touch(index);
        const t1 = performance.now();
        writeEnd = t1;
        const first = index.search(queries[i % queries.length]!, { ...options, filter });
        const t2 = performance.now();
        const second = index.search(queries[(i + 1) % queries.length]!, { ...options, filter });
        const t3 = performance.now();
        made += [first, second].filter((outcome) => outcome.strategy === 'filtered-exact').length;
        writeMaxMs = Math.max(writeMaxMs, t1 - t0);
        askMaxMs = Math.max(askMaxMs, t2 - t1, t3 - t2);
        filteredMs += t3 - t1;
      }
      index.search(queries[i % queries.length]!, options);
      latencies.push(performance.now() - Math.max(due, writeEnd));
    }
    await index.copiesBuilt();
    latencies.sort((a, b) => a - b);
    return { copies, queries: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1)!, writeMaxMs, askMaxMs, filteredMs: filteredMs / (2 * cycles), made, cycles };
  };
  const budget = Number(values['copy-budget'] || DEFAULT_FILTERED_SEARCH_TUNING.copyBytesPerItem);
  const rows = [await run('none (budget 0)', 0), await run(`kept through the writes (budget ${budget})`, budget), await run('none (budget 0), again', 0)];
  index.tuning = DEFAULT_FILTERED_SEARCH_TUNING;
  return rows;
}

/** Re-upserts one item (the last) every `everyMs` through `upsertAsync`, as the service writes, until stopped; `stop` answers the writes made. */
function steadyWriter(index: VectorIndex, everyMs: number): { stop: () => Promise<number> } {
  let stopped = false;
  let writes = 0;
  const done = (async () => {
    while (!stopped) {
      const item = index.liveItems(-1, 1)[0]!;
      await index.upsertAsync([{ fields: { id: item.id, category: item.category, attributes: item.attributes }, vector: index.vectorOf(item) }]);
      writes++;
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return writes;
    },
  };
}

interface CheckpointRow {
  spacing: number;
  queries: number;
  writes: number;
  checkpoints: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Unfiltered searches at 100/s, each timed from when it was due, while one item is re-upserted
 * every 100 ms through `upsertAsync` (the service's writes) for `seconds`: the graph's background
 * saves (checkpoints) follow the writes, back to back (spacing 0, the service until 2026-12-02) or
 * spaced by 4 times the last one's length (the default), in turns, twice each.
 */
async function checkpointRows(index: VectorIndex, queries: Float32Array[], seconds: number): Promise<CheckpointRow[]> {
  const rate = 100;
  const options = { limit: 10, oversampling: 4, rescore: true };
  const run = async (spacing: number): Promise<CheckpointRow> => {
    await index.checkpoint();
    index.checkpointSpacing = spacing;
    const before = index.checkpoints;
    const writer = steadyWriter(index, 100);
    const latencies: number[] = [];
    const started = performance.now();
    for (let i = 0; i < seconds * rate; i++) {
      const due = await dueAt(started, i, rate);
      index.search(queries[i % queries.length]!, options);
      latencies.push(performance.now() - due);
    }
    const writes = await writer.stop();
    const checkpoints = index.checkpoints - before;
    latencies.sort((a, b) => a - b);
    return { spacing, queries: latencies.length, writes, checkpoints, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1)! };
  };
  const rows: CheckpointRow[] = [];
  for (let round = 0; round < 2; round++) for (const spacing of [0, CHECKPOINT_SPACING]) rows.push(await run(spacing));
  index.checkpointSpacing = CHECKPOINT_SPACING;
  await index.checkpoint();
  return rows;
}

interface SteadyRow {
  rule: string;
  filter: string;
  share: number;
  searches: number;
  writes: number;
  /** Searches answered with the copy ready, and when it was (ms after the first search; null: never). */
  copied: number;
  readyAfterMs: number | null;
  /** Mean ms of the searches before the copy was ready, and of those after (null: none; NaN would not survive the message to the parent). */
  listedMs: number | null;
  copiedMs: number | null;
}

/**
 * A filter of 11 % not copied yet, searched 20 times a second for `seconds` while one item is
 * re-upserted every 100 ms (its fsync off the event loop, as the service writes): under the rule
 * until 2026-12-02 (a copy waited for a second without writes, and a write dropped one being made:
 * `copyQuietMs` 1,000) and today's (made through the writes, which reach it: 0). A budget of 64
 * bytes an item, since the filtered rows' copies hold most of the default's. Each rule searches
 * its own filter (two values of a field), so that both start without a copy.
 */
async function steadyWriteRows(index: VectorIndex, queries: Float32Array[], seconds: number): Promise<SteadyRow[]> {
  const options = { limit: 10, oversampling: 4, rescore: true };
  const rate = 20;
  const run = async (rule: string, copyQuietMs: number, label: string, filter: ItemFilter): Promise<SteadyRow> => {
    index.tuning = { ...DEFAULT_FILTERED_SEARCH_TUNING, copyBytesPerItem: 64, copyQuietMs };
    const before = index.postingCopies.filters;
    const writer = steadyWriter(index, 100);
    const listed: number[] = [];
    const copied: number[] = [];
    let readyAfterMs: number | null = null;
    const started = performance.now();
    for (let i = 0; i < seconds * rate; i++) {
      await dueAt(started, i, rate);
      const ready = index.postingCopies.filters > before;
      const t0 = performance.now();
      index.search(queries[i % queries.length]!, { ...options, filter });
      (ready ? copied : listed).push(performance.now() - t0);
      if (ready && readyAfterMs === null) readyAfterMs = t0 - started;
    }
    const writes = await writer.stop();
    await index.copiesBuilt();
    const mean = (values: number[]) => (values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length);
    // The two bands' shares, as bandOf draws them.
    const share = BANDS.filter((band) => band.value === 's10' || band.value === 's01').reduce((sum, band) => sum + band.share, 0);
    return { rule, filter: label, share, searches: listed.length + copied.length, writes, copied: copied.length, readyAfterMs, listedMs: mean(listed), copiedMs: mean(copied) };
  };
  const rows = [
    await run('a second without writes (copyQuietMs 1000, until 2026-12-02)', 1_000, 'category = s10 or s01', { category: ['s10', 's01'] }),
    await run('through the writes (copyQuietMs 0, the default)', 0, 'attribute = s10 or s01', { attributes: { tier: ['s10', 's01'] } }),
  ];
  index.tuning = DEFAULT_FILTERED_SEARCH_TUNING;
  return rows;
}

// ---------- through HTTP ----------

interface HttpRow {
  filter: string;
  share: number;
  recall: number;
  /** Client-side time per request (send to parsed answer), filtered and unfiltered. */
  filteredMs: number;
  unfilteredMs: number;
  /** The answers' `took_ms` (the index search alone, as the service times it). */
  filteredTookMs: number;
  unfilteredTookMs: number;
  strategies: string;
}

const HTTP_INDEX = 'bench';

async function post<T>(origin: string, path: string, body: unknown): Promise<T> {
  const response = await fetch(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${path} → ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/**
 * Waits until the bench index builds no copy of a filter's codes and no graph of a filter's items
 * (`building` in its description), at most 5 minutes; the milliseconds waited, 0 when none was being built.
 */
async function backgroundBuildsDone(origin: string): Promise<number> {
  const started = performance.now();
  for (let polls = 0; ; polls++) {
    const response = await fetch(`${origin}/v1/indexes/${HTTP_INDEX}`);
    const index = (await response.json()) as { filter_copies: { building: number }; filter_graphs: { building: number } };
    if (index.filter_copies.building + index.filter_graphs.building === 0) return polls === 0 ? 0 : performance.now() - started;
    if (performance.now() - started > 300_000) throw new Error('copies and graphs of filters still being built after 5 minutes');
    await sleep(250);
  }
}

/**
 * The service as deployed (`node dist/src/main.js`, jobs off, a fresh data directory, 127.0.0.1),
 * an index built from the dataset through `POST …/items` (raw vectors, 256 a request, two in
 * flight), then each filtered row's queries through `POST …/search`, each right after the same
 * query unfiltered: client time per request and the answer's `took_ms`.
 */
async function httpRows(work: string, dim: number, count: number): Promise<HttpRow[]> {
  if (values['copy-budget']) process.env.LOOKBOOK_FILTER_COPY_BYTES_PER_ITEM = values['copy-budget'];
  const service = await startService({ model: values.model!, logLevel: 'warn', name: 'search-http' });
  const origin = service.origin;
  try {
    const ef = Number(values['http-ef']);
    await post(origin, '/v1/indexes', { name: HTTP_INDEX, connectivity: Number(values.connectivity), ...(ef > 0 ? { expansion_search: ef } : {}) });
    const data = readAll(join(work, 'data.f32'));
    const quarterOf = quarterModel(work, dim);
    let next = 0;
    const started = performance.now();
    const upload = async () => {
      while (next < count) {
        const first = next;
        next = Math.min(count, next + 256);
        const items = Array.from({ length: next - first }, (_, r) => {
          const i = first + r;
          return { id: String(i), vector: Array.from(data.subarray(i * dim, (i + 1) * dim)), category: bandOf(i, 0), attributes: { tier: bandOf(i, 1), quarter: quarterOf(data.subarray(i * dim, (i + 1) * dim)) } };
        });
        const result = await post<{ failed: number }>(origin, `/v1/indexes/${HTTP_INDEX}/items`, { items });
        if (result.failed > 0) throw new Error(`${result.failed} items failed to upsert`);
      }
    };
    await Promise.all([upload(), upload()]);
    process.stderr.write(`http: indexed ${count} items at ${(count / ((performance.now() - started) / 1000)).toFixed(0)} items/s\n`);

    const queries = readAll(join(work, 'queries.f32'));
    const queryCount = Math.min(Number(values['filter-queries']), queries.length / dim);
    const bodies = Array.from({ length: queryCount }, (_, q) => ({ query: { vector: Array.from(queries.subarray(q * dim, (q + 1) * dim)) }, limit: 10, oversampling: Number(values['filter-oversampling']) }));
    type Answer = { took_ms: number; strategy: string; data: { id: string }[] };
    const search = async (body: object) => {
      const t0 = performance.now();
      const answer = await post<Answer>(origin, `/v1/indexes/${HTTP_INDEX}/search`, body);
      return { ms: performance.now() - t0, answer };
    };
    const rows: HttpRow[] = [];
    for (const { name, share, truth, filters } of filterCases(work, data, dim, count, queries, queryCount)) {
      const sums = { filteredMs: 0, unfilteredMs: 0, filteredTookMs: 0, unfilteredTookMs: 0 };
      const strategies = new Map<string, number>();
      const found: number[][] = [];
      // As filteredRows: a pass of every query unfiltered, then one filtered, in a warm-up round and a timed one. Between them,
      // the copies of filters' codes and graphs of their items that the warm-up asked for are waited for (as a service's
      // requests a minute later find them), and the warm-up is run again where any were built.
      for (const round of ['warm-up', 'wait', 'timed'] as const) {
        if (round === 'wait') {
          const waited = await backgroundBuildsDone(origin);
          if (waited === 0) continue;
          process.stderr.write(`http ${name}: waited ${(waited / 1000).toFixed(1)} s for copies and graphs of filters\n`);
        }
        const timed = round === 'timed';
        for (const body of bodies) {
          const unfiltered = await search(body);
          if (!timed) continue;
          sums.unfilteredMs += unfiltered.ms;
          sums.unfilteredTookMs += unfiltered.answer.took_ms;
        }
        for (const [q, body] of bodies.entries()) {
          const filtered = await search({ ...body, filter: filters[q] });
          if (!timed) continue;
          sums.filteredMs += filtered.ms;
          sums.filteredTookMs += filtered.answer.took_ms;
          found.push(filtered.answer.data.map((hit) => Number(hit.id)));
          strategies.set(filtered.answer.strategy, (strategies.get(filtered.answer.strategy) ?? 0) + 1);
        }
      }
      rows.push({
        filter: name,
        share,
        recall: recallOf(found, truth),
        filteredMs: sums.filteredMs / queryCount,
        unfilteredMs: sums.unfilteredMs / queryCount,
        filteredTookMs: sums.filteredTookMs / queryCount,
        unfilteredTookMs: sums.unfilteredTookMs / queryCount,
        strategies: strategyList(strategies),
      });
    }
    return rows;
  } finally {
    await stopService(service);
  }
}

// ---------- exact Hamming scans ----------

/**
 * Median times, on this thread, of exact scans of `size` random codes (top 40) and of a posting
 * list of them (a random tenth of the slots, sorted, top 160): by the service's code store (the
 * addon's scans where it is built) and by the WebAssembly kernel's (the store as it is made without
 * the addon: LOOKBOOK_GRAPH=usearch), the two taking turns query by query so that the machine's
 * drifts fall on both alike.
 */
function exactScanMs(size: number, dim: number): { full: number; fullKernel: number; list: number; listKernel: number } {
  const dir = mkdtempSync(join(tmpdir(), 'lookbook-bench-codes-'));
  try {
    const path = join(dir, 'codes.b1');
    const writer = new CodeStore(path, dim);
    const random = rng(9);
    const vector = new Float32Array(dim);
    for (let slot = 0; slot < size; slot++) {
      for (let i = 0; i < dim; i++) vector[i] = random() - 0.5;
      writer.write(slot, vector);
    }
    writer.sync();
    writer.close();
    const store = new CodeStore(path, dim);
    const previous = process.env.LOOKBOOK_GRAPH;
    process.env.LOOKBOOK_GRAPH = 'usearch';
    const kernel = new CodeStore(path, dim);
    if (previous === undefined) delete process.env.LOOKBOOK_GRAPH;
    else process.env.LOOKBOOK_GRAPH = previous;
    for (let slot = 0; slot < size; slot++) {
      store.setLive(slot, true);
      kernel.setLive(slot, true);
    }
    const queries = Array.from({ length: 50 }, () => Float32Array.from({ length: dim }, () => random() - 0.5));
    const list = Uint32Array.from({ length: size }, (_, slot) => slot).filter(() => random() < 0.1);
    const inTurns = (scan: (by: CodeStore, query: Float32Array) => void, rounds: number): [number, number] => {
      for (const query of queries.slice(0, 10)) for (const by of [store, kernel]) scan(by, query);
      const times: [number[], number[]] = [[], []];
      for (let round = 0; round < rounds; round++) {
        queries.forEach((query, q) => {
          // Each first as often as the other.
          for (const i of (q + round) % 2 === 0 ? [0, 1] : [1, 0]) {
            const started = performance.now();
            scan(i === 0 ? store : kernel, query);
            times[i]!.push(performance.now() - started);
          }
        });
      }
      return [median(times[0]), median(times[1])];
    };
    const [full, fullKernel] = inTurns((by, query) => by.scanAll(query, 40), 1);
    const [listed, listKernel] = inTurns((by, query) => by.scanSlots(query, list, 160), 4);
    store.close();
    kernel.close();
    return { full, fullKernel, list: listed, listKernel };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
    const args = ['--child', config, '--work', work, '--threads', String(threads), '--oversampling', values.oversampling!, '--float-ef', values['float-ef']!];
    args.push('--graph', values.graph!, '--graph-passes', values['graph-passes']!);
    args.push('--filter-queries', values['filter-queries']!, '--filter-oversampling', values['filter-oversampling']!, '--filter-ef', values['filter-ef']!);
    args.push('--connectivity', values.connectivity!, '--filter-variants', values['filter-variants']!);
    args.push('--save-seconds', values['save-seconds']!, '--write-seconds', values['write-seconds']!, '--ef', values.ef!, '--walk-guard', values['walk-guard']!, '--unfiltered-walks', values['unfiltered-walks']!, '--copy-churn-seconds', values['copy-churn-seconds']!);
    if (values['copy-budget']) args.push('--copy-budget', values['copy-budget']);
    if (values.keep) args.push('--keep', values.keep);
    const proc = fork(fileURLToPath(import.meta.url), args, {
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
  const exactSizes = values['exact-sizes']!.split(',').filter(Boolean).map(Number);
  if (exactSizes.length > 0) {
    console.log(`# bench/search — exact Hamming scans (one thread, ${dim}-d codes; the service's scans, the addon's where it is built, and the WebAssembly kernel's), ${machine}\n`);
    console.log('| codes | every code, top 40: ms | the kernel: ms | ÷ | a tenth of them by a list, top 160: ms | the kernel: ms | ÷ |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const size of exactSizes) {
      const { full, fullKernel, list, listKernel } = exactScanMs(size, dim);
      console.log(
        `| ${size.toLocaleString('en')} | ${full.toFixed(2)} | ${fullKernel.toFixed(2)} | ${(full / fullKernel).toFixed(2)} | ${list.toFixed(2)} | ${listKernel.toFixed(2)} | ${(list / listKernel).toFixed(2)} |`,
      );
    }
    console.log('');
  }
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
    const work = values.keep ? join(values.keep, dataset.label.replace(/[^\w.-]+/g, '-')) : mkdtempSync(join(tmpdir(), 'lookbook-bench-search-'));
    try {
      const kept = values.keep && existsSync(join(work, 'meta.json')) ? (JSON.parse(readFileSync(join(work, 'meta.json'), 'utf8')) as { dim: number; count: number; queries: number; nearestCosine: number }) : undefined;
      if (kept && (kept.dim !== dim || kept.queries !== queryCount)) throw new Error(`${work} holds ${kept.queries} queries of ${kept.dim} dimensions: use another --keep directory`);
      mkdirSync(work, { recursive: true });
      const count = kept ? kept.count : dataset.build(work);
      // Queries: fresh points from the same distribution (different seed), unless the dataset brought its own.
      let nearestCosine = kept?.nearestCosine ?? 0;
      let exactQps = Number.NaN;
      if (!kept) {
        if (!values.emoji) writeClustered(join(work, 'queries.f32'), queryCount, dim, 7, 42, count);
        const data = readAll(join(work, 'data.f32'));
        const queries = readAll(join(work, 'queries.f32'));
        const truth = new Uint32Array(queryCount * 10);
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
        nearestCosine /= queryCount;
        exactQps = queryCount / ((performance.now() - started) / 1000);
        writeFileSync(join(work, 'truth.u32'), Buffer.from(truth.buffer));
        writeFileSync(join(work, 'meta.json'), JSON.stringify({ dim, count, queries: queryCount, nearestCosine }));
      }

      console.log(`\n## ${dataset.label} (query → nearest item cosine, mean: ${nearestCosine.toFixed(3)})\n`);
      console.log('| configuration | recall@10 | QPS, 1 query at a time | QPS without looking the items up (index search + rescoring) | QPS, batched | build items/s | RSS bytes/item | disk bytes/item |');
      console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
      console.log(`| exact float scan (usearch exactSearch, inner product) | 1.000 | — | — | ${Number.isNaN(exactQps) ? '— (reused)' : exactQps.toFixed(1)} | — | ${(dim * 4).toFixed(0)} (the floats) | ${(dim * 4).toFixed(0)} |`);
      const filterRows: FilterRow[] = [];
      const saveRows: SaveRow[] = [];
      const churnRows: ChurnRow[] = [];
      const steadyRows: SteadyRow[] = [];
      const checkpointRowsFound: CheckpointRow[] = [];
      for (const config of values.configs!.split(',')) {
        const result = await runChild(config, work);
        for (const row of result.rows) {
          console.log(
            `| ${row.config} | ${row.recall.toFixed(3)} | ${row.qps1.toFixed(0)} | ${row.qpsIndex === undefined ? '—' : row.qpsIndex.toFixed(0)} | ${row.qpsBatch === null || Number.isNaN(row.qpsBatch) ? '—' : row.qpsBatch.toFixed(0)} | ${result.buildSeconds === 0 ? '— (reused)' : (count / result.buildSeconds).toFixed(0)} | ${(row.rss ?? result.rssPerItem).toFixed(0)} | ${result.diskPerItem.toFixed(0)} |`,
          );
        }
        if (result.measured) {
          const { measured } = result;
          console.log(
            `\nThe b1 index's default ef, measured on ${measured.queries} fresh queries (recall@10 against the answer over every code, target ${measured.target}): ${measured.expansion} (${measured.recallByExpansion.map((step) => `ef ${step.expansion} ${step.recall.toFixed(3)}`).join(', ')})\n`,
          );
        }
        filterRows.push(...(result.filterRows ?? []));
        saveRows.push(...(result.saveRows ?? []));
        churnRows.push(...(result.churnRows ?? []));
        steadyRows.push(...(result.steadyRows ?? []));
        checkpointRowsFound.push(...(result.checkpointRows ?? []));
      }
      if (filterRows.length > 0) {
        console.log(
          `\n### Filtered search (b1 HNSW M${values.connectivity}, ${Number(values['filter-ef']) > 0 ? `ef ${values['filter-ef']} for the unfiltered searches beside them` : 'default expansion'}, k = ${10 * Number(values['filter-oversampling'])}; ${values['filter-queries']} queries; recall@10 against exact float search over the matching items; variants: ${values['filter-variants']})\n`,
        );
        console.log('| filter | share of items | variant | recall@10 | filtered ms/query | unfiltered ms/query | filtered ÷ unfiltered (lowest–highest) | path |');
        console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
        for (const row of filterRows) {
          console.log(
            `| ${row.filter} | ${(row.share * 100).toFixed(1)} % | ${row.variant} | ${row.recall.toFixed(3)} | ${row.filteredMs.toFixed(3)} | ${row.unfilteredMs.toFixed(3)} | ${row.ratio.toFixed(2)} (${row.ratios[0].toFixed(2)}–${row.ratios[1].toFixed(2)}) | ${row.strategies} |`,
          );
        }
      }
      if (saveRows.length > 0) {
        console.log(`\n### Unfiltered searches during a save of the graph, and during a measurement of the ef (${count.toLocaleString('en')} items; 200 queries/s, each timed from when it was due)\n`);
        console.log('| save or measurement | its ms | queries | p50 ms | p99 ms | max ms |');
        console.log('| --- | --- | --- | --- | --- | --- |');
        for (const row of saveRows) {
          console.log(`| ${row.save} | ${row.saveMs ? row.saveMs.toFixed(0) : '—'} | ${row.queries} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.max.toFixed(2)} |`);
        }
      }
      if (churnRows.length > 0) {
        console.log(
          `\n### Searches while one item is re-upserted every second and a 25 % filter searched after each write (${count.toLocaleString('en')} items; unfiltered 100 queries/s, each timed from when it was due)\n`,
        );
        console.log('| copies | unfiltered queries | p50 ms | p99 ms | max ms | slowest write ms | 25 % filter after a write: mean ms | slowest ms | of those, answered by its copy |');
        console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
        for (const row of churnRows) {
          console.log(
            `| ${row.copies} | ${row.queries} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.max.toFixed(2)} | ${row.writeMaxMs.toFixed(1)} | ${row.filteredMs.toFixed(2)} | ${row.askMaxMs.toFixed(1)} | ${row.made} of ${2 * row.cycles} |`,
          );
        }
      }
      if (steadyRows.length > 0) {
        console.log(
          `\n### A filter not copied yet, searched 20 times a second while an item is re-upserted every 100 ms (${count.toLocaleString('en')} items, ${values['copy-churn-seconds']} s a rule, copy budget 64 bytes an item)\n`,
        );
        console.log('| copies made | filter | share | searches | writes | copy ready after ms | searches answered with it | mean ms before | mean ms with it |');
        console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
        for (const row of steadyRows) {
          console.log(
            `| ${row.rule} | ${row.filter} | ${(row.share * 100).toFixed(0)} % | ${row.searches} | ${row.writes} | ${row.readyAfterMs === null ? 'never' : row.readyAfterMs.toFixed(0)} | ${row.copied} | ${row.listedMs === null ? '—' : row.listedMs.toFixed(2)} | ${row.copiedMs === null ? '—' : row.copiedMs.toFixed(2)} |`,
          );
        }
      }
      if (checkpointRowsFound.length > 0) {
        console.log(
          `\n### Unfiltered searches while an item is re-upserted every 100 ms and the graph's saves follow (${count.toLocaleString('en')} items; 100 queries/s, each timed from when it was due; ${values['write-seconds']} s a row)\n`,
        );
        console.log('| save spacing (× the last save) | queries | writes | saves | p50 ms | p99 ms | max ms |');
        console.log('| --- | --- | --- | --- | --- | --- | --- |');
        for (const row of checkpointRowsFound) {
          console.log(`| ${row.spacing === 0 ? '0 (back to back)' : row.spacing} | ${row.queries} | ${row.writes} | ${row.checkpoints} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${row.max.toFixed(2)} |`);
        }
      }
      if (values.http) {
        const rows = await httpRows(work, dim, count);
        console.log(
          `\n### Through HTTP (POST /v1/indexes/{name}/search of the service on 127.0.0.1, raw query vectors, b1 HNSW M${values.connectivity}, ${Number(values['http-ef']) > 0 ? `created with expansion_search ${values['http-ef']}` : 'default expansion'}, k = ${10 * Number(values['filter-oversampling'])}; ${values['filter-queries']} queries, in a pass unfiltered, then one filtered; client ms = request sent to answer parsed; took_ms = the answer's own)\n`,
        );
        console.log('| filter | share of items | recall@10 | filtered ms | unfiltered ms | filtered ÷ unfiltered | filtered took_ms | unfiltered took_ms | took_ms ratio | path |');
        console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
        for (const row of rows) {
          console.log(
            `| ${row.filter} | ${(row.share * 100).toFixed(1)} % | ${row.recall.toFixed(3)} | ${row.filteredMs.toFixed(3)} | ${row.unfilteredMs.toFixed(3)} | ${(row.filteredMs / row.unfilteredMs).toFixed(2)} | ${row.filteredTookMs.toFixed(3)} | ${row.unfilteredTookMs.toFixed(3)} | ${(row.filteredTookMs / row.unfilteredTookMs).toFixed(2)} | ${row.strategies} |`,
          );
        }
      }
    } finally {
      if (!values.keep) rmSync(work, { recursive: true, force: true });
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
