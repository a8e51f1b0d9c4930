import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXPANSION_LADDER, MIN_QUERIES, REMEASURE_AFTER_MS, SAMPLE_EVERY, SAMPLE_SIZE, QuerySample, measureExpansion, runSteps, type ExpansionMeasurement, type ExpansionProbe } from './expansion-meter.js';
import { DEFAULT_INDEX_SETTINGS, VectorIndex, type IndexSettings } from './vector-index.js';
import { rng } from '../util/random.js';

const DIMENSION = 64;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Groups of `group` unit vectors around random centres, `spread` apart, and queries near random items of them. */
function dataset(count: number, group: number, spread: number, seed: number) {
  const random = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const unit = (v: Float32Array) => {
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  let centre = new Float32Array(DIMENSION);
  const vectors = Array.from({ length: count }, (_, i) => {
    if (i % group === 0) centre = Float32Array.from({ length: DIMENSION }, gauss);
    return unit(Float32Array.from(centre, (x) => x + gauss() * spread));
  });
  const queries = (n: number) => Array.from({ length: n }, () => unit(Float32Array.from(vectors[Math.floor(random() * count)]!, (x) => x + gauss() * spread * 1.5)));
  return { vectors, queries };
}

function indexOf(vectors: readonly Float32Array[], settings: Partial<IndexSettings> = {}): VectorIndex {
  const dir = mkdtempSync(join(tmpdir(), 'meter-'));
  dirs.push(dir);
  // exactThreshold 0: unfiltered searches walk the graph at any size.
  const index = VectorIndex.create(dir, 'meter', { id: 'm', version: '1', dimension: DIMENSION }, { ...DEFAULT_INDEX_SETTINGS, exactThreshold: 0, ...settings });
  for (let start = 0; start < vectors.length; start += 1000) {
    index.upsert(vectors.slice(start, start + 1000).map((vector, i) => ({ fields: { id: String(start + i) }, vector })));
  }
  return index;
}

/** Recall@10 of the index's searches at `expansion` (its own: undefined) against the exact float top 10 over every vector. */
function floatRecall(index: VectorIndex, vectors: readonly Float32Array[], queries: readonly Float32Array[], expansion?: number): number {
  let hits = 0;
  for (const query of queries) {
    const scores = vectors.map((vector, i) => ({ i, score: vector.reduce((sum, x, d) => sum + x * query[d]!, 0) }));
    const truth = new Set(scores.sort((a, b) => b.score - a.score).slice(0, 10).map((entry) => String(entry.i)));
    hits += index.search(query, { limit: 10, oversampling: 4, rescore: true, expansion }).hits.filter((hit) => truth.has(hit.item.id)).length;
  }
  return hits / (10 * queries.length);
}


describe('measureExpansion', () => {
  /** The first `n` of the 10 true slots, and others. */
  const finding = (n: number) => Array.from({ length: 10 }, (_, i) => (i < n ? i : 100 + i));
  /**
   * A probe whose answer at each ef finds `found[ef]` of the 10 true slots for every query, in
   * `walkMs`; whose scan finds `scanFound` at once; and whose answer over every code takes `truthMs`:
   * times on the measurement's clock, which only the probe moves (the machine's own load aside).
   */
  const probe = (found: Record<number, number>, clock: { ms: number }, { scanFound = 10, walkMs = 0, truthMs = 0 } = {}): ExpansionProbe => ({
    // eslint-disable-next-line require-yield
    truth: function* () {
      clock.ms += truthMs;
      return finding(10);
    },
    answer: (_, expansion) => {
      clock.ms += walkMs;
      return finding(found[expansion]!);
    },
    scan: () => finding(scanFound),
  });
  const run = (found: Record<number, number>, target = 0.9, times: Parameters<typeof probe>[2] = {}) => {
    const clock = { ms: 0 };
    return runSteps(measureExpansion([new Float32Array(4), new Float32Array(4)], probe(found, clock, times), target, 1000, EXPANSION_LADDER, () => clock.ms));
  };
  const efs = (measured: ExpansionMeasurement) => measured.recallByExpansion.map(({ expansion, recall }) => ({ expansion, recall }));
  const full = (values: number[]) => Object.fromEntries(EXPANSION_LADDER.map((ef, i) => [ef, values[i]!]));

  it('takes the smallest ef that reaches the target, and tries none above it', () => {
    const measured = run(full([5, 7, 9, 10, 10, 10, 10, 10, 10]));
    expect(measured.expansion).toBe(128);
    expect(measured.recall).toBe(0.9);
    expect(efs(measured)).toEqual([
      { expansion: 64, recall: 0.5 },
      { expansion: 96, recall: 0.7 },
      { expansion: 128, recall: 0.9 },
    ]);
    expect(measured).toMatchObject({ target: 0.9, queries: 2, items: 1000 });
  });

  it('stops where two steps up add next to nothing, at the smallest ef near the best recall', () => {
    // 0.8 at 96 and 128 and 192: the codes' limit, not the graph's.
    const plateau = run(full([6, 8, 8, 8, 9, 9, 9, 9, 9]));
    expect(plateau.expansion).toBe(96);
    expect(plateau.recallByExpansion.map((step) => step.expansion)).toEqual([64, 96, 128, 192]);
    // A pause of one step is not a plateau.
    expect(run(full([6, 8, 8, 9, 9, 9, 9, 9, 9])).expansion).toBe(192);
  });

  it('scans every code instead where that is as good and no slower, or reaches the target where no walk does; tries no scan far slower than the walks', () => {
    const walkMs = 0.3;
    // The walks reach 0.8 at most (what no ef finds), the scan everything at once.
    const unreached = run(full([6, 8, 8, 8, 8, 8, 8, 8, 8]), 0.9, { walkMs, scanFound: 10 });
    expect(unreached).toMatchObject({ expansion: 96, recall: 0.8, scan: true, scanned: { recall: 1 } });
    expect(unreached.scanned!.ms).toBeLessThan(walkMs);
    // As good as the walks and no slower.
    expect(run(full([6, 9, 10, 10, 10, 10, 10, 10, 10]), 0.9, { walkMs, scanFound: 9 })).toMatchObject({ expansion: 96, scan: true });
    // Faster but worse than the walk that reached the target.
    expect(run(full([6, 9, 10, 10, 10, 10, 10, 10, 10]), 0.9, { walkMs, scanFound: 5 })).toMatchObject({ expansion: 96, scan: false, scanned: { recall: 0.5 } });
    // The answer over every code (a scan and more) took over 16 times the walks: no scan tried.
    expect(run(full([6, 8, 8, 8, 8, 8, 8, 8, 8]), 0.9, { truthMs: 20 * 0.05, walkMs: 0.05 })).toMatchObject({ expansion: 96, scan: false, scanned: null });
  });

  it('takes the largest ef when recall still grows at the top of the ladder', () => {
    const measured = run(full([1, 2, 3, 4, 5, 6, 7, 8, 8.5].map(Math.floor)));
    expect(measured.expansion).toBe(1024);
    expect(measured.recallByExpansion).toHaveLength(EXPANSION_LADDER.length);
  });
});

describe('QuerySample', () => {
  it('keeps a copy of every fourth query, the last ones, and is due once it holds enough', () => {
    const sample = new QuerySample();
    const query = new Float32Array([1, 2]);
    for (let i = 0; i < (MIN_QUERIES - 1) * SAMPLE_EVERY; i++) sample.offer(query);
    expect(sample.count).toBe(MIN_QUERIES - 1);
    expect(sample.due(50_000, undefined)).toBe(false);
    sample.offer(query);
    expect(sample.due(50_000, undefined)).toBe(true);
    query[0] = 9;
    expect(sample.take()[0]![0]).toBe(1);
    for (let i = 0; i < 10 * SAMPLE_SIZE * SAMPLE_EVERY; i++) sample.offer(Float32Array.of(i, 0));
    expect(sample.count).toBe(SAMPLE_SIZE);
    // The last SAMPLE_SIZE sampled: every fourth of the last offered.
    const kept = sample
      .take()
      .map((q) => q[0]!)
      .sort((a, b) => a - b);
    expect(kept.at(-1)).toBeGreaterThan(10 * SAMPLE_SIZE * SAMPLE_EVERY - 1 - SAMPLE_EVERY);
    expect(kept.slice(1).map((value, i) => value - kept[i]!)).toEqual(Array(SAMPLE_SIZE - 1).fill(SAMPLE_EVERY));
  });

  it('is due again when the items change by a tenth, or once a whole new sample is older than the last measurement by 10 minutes', () => {
    const sample = new QuerySample();
    for (let i = 0; i < SAMPLE_SIZE * SAMPLE_EVERY; i++) sample.offer(new Float32Array(2));
    const measuredAt = Date.parse('2026-12-03T12:00:00Z');
    const last = { items: 100_000, measuredAt: new Date(measuredAt).toISOString() } as ExpansionMeasurement;
    sample.take();
    expect(sample.due(105_000, last, measuredAt + 1000)).toBe(false);
    expect(sample.due(110_000, last, measuredAt + 1000)).toBe(true);
    expect(sample.due(90_000, last, measuredAt + 1000)).toBe(true);
    // Ten minutes on, but no new queries since the last measurement took them.
    expect(sample.due(100_000, last, measuredAt + REMEASURE_AFTER_MS)).toBe(false);
    for (let i = 0; i < SAMPLE_SIZE * SAMPLE_EVERY; i++) sample.offer(new Float32Array(2));
    expect(sample.due(100_000, last, measuredAt + REMEASURE_AFTER_MS - 1)).toBe(false);
    expect(sample.due(100_000, last, measuredAt + REMEASURE_AFTER_MS)).toBe(true);
  });
});

describe('VectorIndex: the ef measured on its queries', () => {
  it('raises the ef where the graph misses neighbours, and keeps the smallest where it finds them', () => {
    // Wide groups of 20 in 64 dimensions: a walk at ef 64 finds little of the float top 10.
    const hard = dataset(6000, 20, 0.25, 1);
    const index = indexOf(hard.vectors);
    const measured = index.measureExpansionNow(hard.queries(48));
    expect(measured.expansion).toBeGreaterThanOrEqual(192);
    expect(index.expansionFor(40)).toBe(measured.expansion);
    expect(index.expansionReport()).toMatchObject({ expansion: measured.expansion, source: 'measured', targetRecall: 0.99 });
    // Checked on other queries against the exact float answer: the measured ef finds more of it than the least one.
    const held = hard.queries(40);
    const least = floatRecall(index, hard.vectors, held, 64);
    expect(floatRecall(index, hard.vectors, held, measured.expansion)).toBeGreaterThan(least + 0.1);
    // Its searches: walks at that ef, or scans of every code where the measurement found them no slower.
    expect(index.search(held[0]!, { limit: 10, oversampling: 4, rescore: true }).strategy).toBe(measured.scan ? 'exact' : 'hnsw');
    expect(index.expansionReport().scan).toBe(measured.scan);
    expect(floatRecall(index, hard.vectors, held)).toBeGreaterThan(least + 0.1);

    // Tight groups of near-duplicates: ef 64 finds them all.
    const easy = dataset(6000, 10, 0.02, 2);
    const second = indexOf(easy.vectors);
    const found = second.measureExpansionNow(easy.queries(48));
    expect(found.expansion).toBe(64);
    expect(found.recallByExpansion[0]!.recall).toBeGreaterThanOrEqual(0.95);
    expect(floatRecall(second, easy.vectors, easy.queries(40), found.expansion)).toBeGreaterThanOrEqual(0.95);
    index.close();
    second.close();
  });

  it("measures in the background from its own searches, keeps the measurement across a restart, and leaves a set ef alone", async () => {
    const hard = dataset(4000, 20, 0.25, 3);
    const index = indexOf(hard.vectors);
    expect(index.expansionReport()).toMatchObject({ expansion: 64, source: 'size', measured: null });
    // The first of every four searches sampled: the 32nd sampled is the 125th search.
    const queries = hard.queries((MIN_QUERIES - 1) * SAMPLE_EVERY + 1);
    for (const query of queries.slice(0, -1)) index.search(query, { limit: 10, oversampling: 4, rescore: true });
    expect(await index.expansionMeasured()).toBeUndefined();
    index.search(queries.at(-1)!, { limit: 10, oversampling: 4, rescore: true });
    const measured = await index.expansionMeasured();
    expect(measured).toBeDefined();
    expect(measured!.queries).toBe(MIN_QUERIES);
    expect(measured!.items).toBe(4000);
    expect(measured!.expansion).toBeGreaterThan(64);
    expect(index.expansionReport()).toMatchObject({ expansion: measured!.expansion, source: 'measured' });
    // Searches ask for the measured ef.
    expect(index.expansionFor(40)).toBe(measured!.expansion);
    const dir = index.dir;
    index.close();
    const reopened = VectorIndex.open(dir);
    expect(reopened.expansionReport()).toEqual({ expansion: measured!.expansion, scan: measured!.scan, source: 'measured', targetRecall: 0.99, measured });
    // Measuring off: the ef grows with the index again.
    reopened.tuning = { ...reopened.tuning, targetRecall: 0 };
    expect(reopened.expansionReport()).toMatchObject({ expansion: 64, scan: false, source: 'size' });
    // Forgotten (bench/search's --measure-queries 0): gone from the catalog too.
    reopened.forgetExpansion();
    reopened.close();
    const forgot = VectorIndex.open(dir);
    expect(forgot.expansionReport()).toMatchObject({ expansion: 64, source: 'size', measured: null });
    forgot.close();

    // An ef in the settings: no measuring.
    const set = indexOf(hard.vectors.slice(0, 2000), { expansionSearch: 100 });
    for (const query of queries) set.search(query, { limit: 10, oversampling: 4, rescore: true });
    expect(await set.expansionMeasured()).toBeUndefined();
    expect(set.expansionReport()).toMatchObject({ expansion: 100, source: 'setting', measured: null });
    set.close();
    // No more items than the exact threshold: searches scan, nothing to measure.
    const small = indexOf(hard.vectors.slice(0, 2000), { exactThreshold: 2000 });
    for (const query of queries) small.search(query, { limit: 10, oversampling: 4, rescore: true });
    expect(await small.expansionMeasured()).toBeUndefined();
    expect(small.expansionReport()).toMatchObject({ scan: true, source: 'size', measured: null });
    small.close();
  });

  it('measures on given queries in the background when asked (bench/search times searches meanwhile)', async () => {
    const hard = dataset(3000, 20, 0.25, 6);
    const index = indexOf(hard.vectors);
    const measured = await index.measureExpansionInBackground(hard.queries(40));
    expect(measured).toMatchObject({ queries: 40, items: 3000, target: 0.99 });
    expect(index.expansionReport()).toMatchObject({ source: 'measured', expansion: measured!.expansion, measured });
    index.close();
  });

  it('ends a measurement that fails, reporting the error, and measures again later', async () => {
    const hard = dataset(3000, 20, 0.25, 5);
    const index = indexOf(hard.vectors);
    const errors: unknown[] = [];
    index.onExpansionMeasureFailed = (error) => errors.push(error);
    const queries = hard.queries((MIN_QUERIES - 1) * SAMPLE_EVERY + 1);
    for (const query of queries) index.search(query, { limit: 10, oversampling: 4, rescore: true });
    // A fault in the searches it makes (a disk read, say): the timer's slice must not throw.
    const searchSlots = vi.spyOn(index, 'searchSlots').mockImplementation(() => {
      throw new Error('disk gone');
    });
    expect(await index.expansionMeasured()).toBeUndefined();
    expect(errors.map((error) => (error as Error).message)).toEqual(['disk gone']);
    expect(index.expansionReport().source).toBe('size');
    searchSlots.mockRestore();
    // Still due: the next sampled search starts another.
    for (const query of queries.slice(0, SAMPLE_EVERY)) index.search(query, { limit: 10, oversampling: 4, rescore: true });
    expect((await index.expansionMeasured())?.expansion).toBeGreaterThan(64);
    index.close();
  });

  it('ends a measurement under way when the index closes', async () => {
    const hard = dataset(3000, 20, 0.25, 4);
    const index = indexOf(hard.vectors);
    for (const query of hard.queries(MIN_QUERIES * SAMPLE_EVERY)) index.search(query, { limit: 10, oversampling: 4, rescore: true });
    const measuring = index.expansionMeasured();
    // One at a time: asked for another, the one under way.
    expect(index.measureExpansionInBackground(hard.queries(8))).toBe(measuring);
    index.close();
    expect(await measuring).toBeUndefined();
    expect(await index.expansionMeasured()).toBeUndefined();
  });
});
