import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BinaryHnsw } from './binary-hnsw.js';
import { DEFAULT_FILTERED_SEARCH_TUNING, DEFAULT_INDEX_SETTINGS, VectorIndex, overfetchAt, shareBounds } from './vector-index.js';
import { sampleKey } from './filter-index.js';
import { rng } from '../util/random.js';

const unit = (dimension: number, seed: number) => {
  const v = Float32Array.from({ length: dimension }, (_, i) => Math.sin(seed * 7 + i * (seed % 5 + 1)));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe('shareBounds', () => {
  it("gives Wilson's interval (z = 2) for a share seen in a few draws, inside 0…1", () => {
    const close = (actual: { low: number; high: number }, low: number, high: number) => {
      expect(actual.low).toBeCloseTo(low, 3);
      expect(actual.high).toBeCloseTo(high, 3);
    };
    close(shareBounds(8, 32), 0.1308, 0.4248);
    close(shareBounds(0, 32), 0, 1 / 9);
    close(shareBounds(32, 32), 8 / 9, 1);
    close(shareBounds(16, 32), 1 / 3, 2 / 3);
    close(shareBounds(0, 0), 0, 1);
    // Every interval holds its share, and narrows with more draws.
    for (const [passing, of] of [
      [1, 3],
      [7, 10],
      [30, 32],
    ]) {
      const { low, high } = shareBounds(passing!, of!);
      expect(low).toBeLessThan(passing! / of!);
      expect(high).toBeGreaterThan(passing! / of!);
      const more = shareBounds(passing! * 10, of! * 10);
      expect(more.high - more.low).toBeLessThan(high - low);
    }
  });
});

describe('VectorIndex.searchBase', () => {
  it('ranks an alignment-head index by the base embeddings, within the filter (a small one exactly)', () => {
    const d = 8;
    const index = VectorIndex.create(mkdtempSync(join(tmpdir(), 'vi-')), 'aligned', { id: 'm', version: '1+align.1', dimension: d, base: '1' }, DEFAULT_INDEX_SETTINGS);
    // Projected vectors that disagree with the base ones: item i's projected vector is item (n-1-i)'s base.
    const n = 40;
    const bases = Array.from({ length: n }, (_, i) => unit(d, i + 1));
    index.upsert(bases.map((base, i) => ({ fields: { id: `p${i}`, category: i % 2 === 0 ? 'even' : 'odd' }, vector: bases[n - 1 - i]!, base })));
    const query = Float32Array.from(unit(d, 100), (x) => 3 * x); // not unit length: a compatibility query
    const expected = bases
      .map((base, i) => ({ id: `p${i}`, score: base.reduce((sum, x, j) => sum + x * query[j]!, 0) }))
      .filter((_, i) => i % 2 === 1)
      .sort((a, b) => b.score - a.score);
    const hits = index.searchBase(query, { limit: 5, filter: { category: ['odd'] }, excludeIds: [expected[0]!.id] });
    expect(hits.map((hit) => hit.item.id)).toEqual(expected.slice(1, 6).map((entry) => entry.id));
    hits.forEach((hit, i) => expect(hit.score).toBeCloseTo(expected[i + 1]!.score, 5));
    // The usual search ranks by the projected vectors: a different order.
    const projected = index.search(query, { limit: 5, oversampling: 4, rescore: true, exact: true, filter: { category: ['odd'] } }).hits.map((hit) => hit.item.id);
    expect(projected).not.toEqual(expected.slice(0, 5).map((entry) => entry.id));
    index.close();
  });

  it('shortlists a large filter of an alignment-head index by its base codes, through compaction and a reopen that rebuilds them', async () => {
    const d = 64;
    const random = rng(29);
    const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
    const normalize = (v: Float32Array) => {
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    };
    // Clusters of 20, each item its cluster's centre plus noise; the projected vectors are unrelated noise, so only the base codes can find the neighbours.
    const centres = Array.from({ length: 150 }, () => Float32Array.from({ length: d }, gauss));
    const near = (c: number) => normalize(Float32Array.from({ length: d }, (_, i) => centres[c]![i]! + 0.6 * gauss()));
    const n = 3000;
    const bases = Array.from({ length: n }, (_, i) => near(i % centres.length));
    const dir = mkdtempSync(join(tmpdir(), 'vi-'));
    const index = VectorIndex.create(dir, 'aligned', { id: 'm', version: '1+align.1', dimension: d, base: '1' }, DEFAULT_INDEX_SETTINGS);
    index.upsert(bases.map((base, i) => ({ fields: { id: `p${i}`, category: i % 2 === 0 ? 'even' : 'odd' }, vector: normalize(Float32Array.from({ length: d }, gauss)), base })));
    // Half the odd items deleted, then compacted: the live ones move down with their base codes.
    await index.deleteAsync(Array.from({ length: n / 4 }, (_, i) => `p${4 * i + 1}`));
    const report = await index.compact();
    expect(report.movedItems).toBeGreaterThan(0);
    const live = (i: number) => i % 2 === 1 && i % 4 !== 1;
    const queries = Array.from({ length: 20 }, (_, q) => near((q * 7) % centres.length));
    const exactTop = (query: Float32Array) =>
      bases
        .map((base, i) => ({ id: `p${i}`, i, score: base.reduce((sum, x, j) => sum + x * query[j]!, 0) }))
        .filter((entry) => live(entry.i))
        .sort((a, b) => b.score - a.score)
        .slice(0, 10)
        .map((entry) => entry.id);
    // 750 odd items: more than the shortlist for 10 (320), so the Hamming scan, the two-bit narrowing and the rescoring all act.
    const recall = (target: VectorIndex) => {
      let found = 0;
      for (const query of queries) {
        const hits = target.searchBase(query, { limit: 10, filter: { category: ['odd'] } }).map((hit) => hit.item.id);
        expect(hits).toHaveLength(10);
        const truth = new Set(exactTop(query));
        found += hits.filter((id) => truth.has(id)).length;
      }
      return found / (10 * queries.length);
    };
    const before = recall(index);
    expect(before).toBeGreaterThanOrEqual(0.95);
    const answers = queries.map((query) => index.searchBase(query, { limit: 10, filter: { category: ['odd'] } }).map((hit) => [hit.item.id, hit.score]));
    index.close();
    // An index from before base codes were kept: they are made from the base embeddings when it opens.
    rmSync(join(dir, 'base.b1'));
    rmSync(join(dir, 'base.m1'));
    const reopened = VectorIndex.open(dir);
    expect(statSync(join(dir, 'base.b1')).size).toBeGreaterThanOrEqual((n - n / 4) * (d / 8));
    expect(queries.map((query) => reopened.searchBase(query, { limit: 10, filter: { category: ['odd'] } }).map((hit) => [hit.item.id, hit.score]))).toEqual(answers);
    reopened.close();
  });

  it('searches a base-version index as search does', () => {
    const d = 8;
    const index = VectorIndex.create(mkdtempSync(join(tmpdir(), 'vi-')), 'plain', { id: 'm', version: '1', dimension: d }, DEFAULT_INDEX_SETTINGS);
    index.upsert(Array.from({ length: 30 }, (_, i) => ({ fields: { id: `p${i}`, category: 'all' }, vector: unit(d, i + 1) })));
    const query = unit(d, 77);
    const plain = index.search(query, { limit: 4, oversampling: 4, rescore: true, filter: { category: ['all'] } }).hits.map((hit) => [hit.item.id, hit.score]);
    expect(index.searchBase(query, { limit: 4, filter: { category: ['all'] } }).map((hit) => [hit.item.id, hit.score])).toEqual(plain);
    index.close();
  });
});

describe('VectorIndex.categoryImages', () => {
  it('samples a category’s kept images from memory exactly as the catalog’s SQL does, through writes, deletes, compaction and a reopen', async () => {
    const d = 16;
    const random = rng(5);
    const dir = mkdtempSync(join(tmpdir(), 'vi-'));
    const index = VectorIndex.create(dir, 'images', { id: 'm', version: '1', dimension: d }, DEFAULT_INDEX_SETTINGS);
    const categories = ['shoes', 'bags', 'hats', 'c'.repeat(300)];
    const write = (from: number, to: number) =>
      index.upsertAsync(
        Array.from({ length: to - from }, (_, j) => ({
          fields: { id: `p${(from + j) % 700}`, category: categories[Math.floor(random() * categories.length)]!, sourceBlob: random() < 0.6 ? `blob-${from + j}` : null },
          vector: unit(d, from + j + 1),
        })),
      );
    const catalog = (target: VectorIndex) => (target as unknown as { catalog: { categoryImages(category: string, limit: number): { blob: string }[] } }).catalog;
    const agree = (target: VectorIndex) => {
      for (const category of [...categories, 'none']) {
        for (const limit of [1, 6, 32, 1000]) {
          const expected = catalog(target).categoryImages(category, limit).map(({ blob }) => blob);
          expect(target.categoryImages(category, limit).map(({ blob }) => blob), `${category.slice(0, 8)} ${limit}`).toEqual(expected);
        }
      }
    };
    await write(0, 500);
    // Replacements (ids repeat past 700), with and without an image now.
    await write(500, 1000);
    await index.deleteAsync(Array.from({ length: 150 }, (_, i) => `p${4 * i}`));
    agree(index);
    expect(index.categoryImages('shoes', 32)).toHaveLength(32);
    expect((await index.compact()).movedItems).toBeGreaterThan(0);
    agree(index);
    index.close();
    const reopened = VectorIndex.open(dir);
    agree(reopened);
    reopened.close();
  });

  it('orders slots by the catalog’s key computed exactly past a double’s range', () => {
    const random = rng(3);
    for (let i = 0; i < 2000; i++) {
      const slot = i < 1000 ? i : Math.floor(random() * 2 ** 31);
      expect(sampleKey(slot)).toBe(Number((BigInt(slot) * 2654435761n) % 4294967291n));
    }
  });
});

describe('VectorIndex magnitude codes', () => {
  it('gives an index made before them its magnitude codes when it opens, and searches it as before', () => {
    const d = 24;
    const dir = mkdtempSync(join(tmpdir(), 'vi-'));
    const index = VectorIndex.create(dir, 'old', { id: 'm', version: '1', dimension: d }, { ...DEFAULT_INDEX_SETTINGS, exactThreshold: 0 });
    const n = 300;
    index.upsert(Array.from({ length: n }, (_, i) => ({ fields: { id: `p${i}`, category: i % 3 === 0 ? 'three' : 'other' }, vector: unit(d, i + 1) })));
    const queries = [unit(d, 1001), unit(d, 1002), unit(d, 1003)];
    const searches = (target: VectorIndex) =>
      queries.flatMap((query) => [
        target.search(query, { limit: 8, oversampling: 2, rescore: true }).hits.map((hit) => [hit.item.id, hit.score]),
        target.search(query, { limit: 8, oversampling: 2, rescore: true, filter: { category: ['three'] } }).hits.map((hit) => [hit.item.id, hit.score]),
      ]);
    const before = searches(index);
    index.close();
    rmSync(join(dir, 'codes.m1'));
    const reopened = VectorIndex.open(dir);
    expect(statSync(join(dir, 'codes.m1')).size).toBe(n * (d / 8 + 4));
    expect(searches(reopened)).toEqual(before);
    reopened.close();
  });
});

/** An index of 1,000 random unit vectors of 64 dimensions, walked by the graph whatever its size (no exact threshold). */
function walkedIndex(name: string, seed: number): { index: VectorIndex; vectors: Float32Array[] } {
  const d = 64;
  const random = rng(seed);
  const vectors = Array.from({ length: 1000 }, () => {
    const v = Float32Array.from({ length: d }, () => random() - 0.5);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
  const index = VectorIndex.create(mkdtempSync(join(tmpdir(), 'vi-')), name, { id: 'm', version: '1', dimension: d }, { ...DEFAULT_INDEX_SETTINGS, exactThreshold: 0 });
  index.upsert(vectors.map((vector, i) => ({ fields: { id: `p${i}` }, vector })));
  return { index, vectors };
}

describe('VectorIndex graph walks', () => {
  it('scans every code when the sample of codes holds one nearer to the query than the walk found', () => {
    // Fewer than the 1,024 codes the guard scans at least: every item is in what it scans.
    const { index, vectors } = walkedIndex('walks', 17);
    const options = { limit: 5, oversampling: 4, rescore: true };
    // Item p123 out of the graph, as if no walk reached it; still live in the catalog and the codes.
    (index as unknown as { graph: BinaryHnsw }).graph.remove(123);
    index.guardWalks = false;
    const unguarded = index.search(vectors[123]!, options);
    expect(unguarded.strategy).toBe('hnsw');
    expect(unguarded.hits.map((hit) => hit.item.id)).not.toContain('p123');
    index.guardWalks = true;
    const guarded = index.search(vectors[123]!, options);
    expect(guarded.strategy).toBe('exact-after-hnsw');
    expect(guarded.hits[0]!.item.id).toBe('p123');
    expect(guarded.hits[0]!.score).toBeCloseTo(1, 5);
    expect(index.searchMany([vectors[123]!], options)[0]![0]!.item.id).toBe('p123');
    // A walk that reaches the query's neighbourhood is left as it is.
    const reached = index.search(vectors[7]!, options);
    expect(reached.strategy).toBe('hnsw');
    expect(reached.hits[0]!.item.id).toBe('p7');
    // A deleted item leaves the sample too: its code no longer tells the walk it fell short.
    index.delete(['p7']);
    const afterDelete = index.search(vectors[7]!, options);
    expect(afterDelete.strategy).toBe('hnsw');
    expect(afterDelete.hits.map((hit) => hit.item.id)).not.toContain('p7');
    index.close();
  });

  it('walks a dense filter from the sample with at least the unfiltered walk’s ef in its list, and hands over the pool × seededWalkFactor of it', () => {
    const d = 128;
    const random = rng(43);
    // Clusters, so that a walk has a neighbourhood to find; 85 % of the items in the filter, drawn independently of the vectors (the
    // sample's 32 codes nearest to each query hold well over half the share: a dense filter there).
    const centres = Array.from({ length: 40 }, () => Float32Array.from({ length: d }, () => random() - 0.5));
    const vectors = Array.from({ length: 10_000 }, (_, i) => {
      const v = Float32Array.from(centres[i % 40]!, (x) => x + (random() - 0.5));
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });
    const inFilter = vectors.map(() => random() < 0.85);
    const queries = Array.from({ length: 20 }, (_, q) => {
      const v = Float32Array.from(centres[(q * 7) % 40]!, (x) => x + (random() - 0.5));
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });
    for (const expansionSearch of [0, 150]) {
      // Scans on (the sample's look needs them), but not of the filter's ~8,500 codes: the planner walks, as it does a 50 % filter at 1M.
      const index = VectorIndex.create(mkdtempSync(join(tmpdir(), 'vi-')), 'dense-walk', { id: 'm', version: '1', dimension: d }, { ...DEFAULT_INDEX_SETTINGS, expansionSearch, exactThreshold: 1000 });
      const walks = { ...DEFAULT_FILTERED_SEARCH_TUNING, graphStepInCodes: 10 };
      index.tuning = walks;
      index.upsert(vectors.map((vector, i) => ({ fields: { id: `p${i}`, category: inFilter[i] ? 'in' : 'out' }, vector })));
      const graph = (index as unknown as { graph: BinaryHnsw }).graph;
      if (graph.engine !== 'native') return index.close(); // USearch's binding walks unfiltered (graphSearchWithin)
      const asked: { k: number; seeded: boolean; found: number }[] = [];
      const walk = graph.searchFiltered.bind(graph);
      graph.searchFiltered = (query, k, ...rest) => {
        const found = walk(query, k, ...rest);
        asked.push({ k, seeded: rest[2] !== undefined, found: found?.slots.length ?? 0 });
        return found;
      };
      // And how many candidates the rescoring reads.
      const file = (index as unknown as { vectors: { dotMany(slots: ArrayLike<number>, ...rest: unknown[]): void } }).vectors;
      const dotMany = file.dotMany.bind(file);
      let rescored = 0;
      file.dotMany = (slots, ...rest) => {
        rescored = slots.length;
        dotMany(slots, ...rest);
      };
      const options = { limit: 10, oversampling: 4, rescore: true, filter: { category: ['in'] } };
      // k 40: the pool is 40 × 1.5 (~8,500 items want no more), the hand-over 60 × seededWalkFactor (at least k); the list the unfiltered ef.
      const ef = index.expansionFor(40);
      expect(ef).toBe(expansionSearch || 64);
      let hits = 0;
      for (const query of queries) {
        asked.length = 0;
        const found = index.search(query, options);
        expect(found.strategy).toBe('filtered-hnsw');
        expect(asked).toEqual([{ k: ef, seeded: true, found: ef }]);
        expect(rescored).toBe(Math.max(40, Math.ceil(60 * DEFAULT_FILTERED_SEARCH_TUNING.seededWalkFactor)));
        expect(found.hits.every((hit) => inFilter[Number(hit.item.id.slice(1))])).toBe(true);
        // Against the float top 10 of the filter's items.
        const dots = vectors.map((vector) => vector.reduce((sum, x, j) => sum + x * query[j]!, 0));
        const exact = vectors.map((_, i) => i).filter((i) => inFilter[i]).sort((a, b) => dots[b]! - dots[a]!).slice(0, 10).map((i) => `p${i}`);
        hits += found.hits.filter((hit) => exact.includes(hit.item.id)).length;
      }
      expect(hits / (10 * queries.length)).toBeGreaterThanOrEqual(0.9);
      // A walk that asks for more than the ef (the far filters' factor): its own ask, all of it handed over.
      index.tuning = { ...walks, seededWalkFactor: 4 };
      asked.length = 0;
      index.search(queries[0]!, options);
      expect(asked).toEqual([{ k: Math.max(ef, 240), seeded: true, found: Math.max(ef, 240) }]);
      expect(rescored).toBe(60); // the pool
      index.close();
    }
  });

  it('scans the filter’s codes when a filtered walk finds fewer than it asked for while the filter holds more, even on an index that never scans', () => {
    const d = 64;
    const random = rng(41);
    const vectors = Array.from({ length: 1000 }, () => {
      const v = Float32Array.from({ length: d }, () => random() - 0.5);
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });
    const index = VectorIndex.create(mkdtempSync(join(tmpdir(), 'vi-')), 'short-filtered', { id: 'm', version: '1', dimension: d }, { ...DEFAULT_INDEX_SETTINGS, exactThreshold: 0 });
    index.upsert(vectors.map((vector, i) => ({ fields: { id: `p${i}`, category: `c${i % 2}` }, vector })));
    const graph = (index as unknown as { graph: BinaryHnsw }).graph;
    if (graph.engine !== 'native') return index.close(); // USearch's binding walks unfiltered (graphSearchWithin)
    // Item p124 out of the graph, as an item no link leads to (a graph can leave some so); still live in the catalog, the codes
    // and the filter.
    graph.remove(124);
    // A search that asks for more candidates than the filter's 500 items: a walk that reached them all would return them all.
    const options = { limit: 5, oversampling: 100, rescore: true, filter: { category: ['c0'] } };
    const found = index.search(vectors[124]!, options);
    expect(found.strategy).toBe('filtered-exact-after-hnsw');
    expect(found.hits[0]!.item.id).toBe('p124');
    expect(found.hits[0]!.score).toBeCloseTo(1, 5);
    expect(found.hits.every((hit) => hit.item.category === 'c0')).toBe(true);
    // One that asks for fewer fills its list, and its walk stands.
    expect(index.search(vectors[7]!, { limit: 5, oversampling: 4, rescore: true, filter: { category: ['c1'] } }).strategy).toBe('filtered-hnsw');
    index.close();
  });

  it('walks from the sample’s nearest codes, again from the top when that falls short, then at four times the ef, and scans only when all fall short', () => {
    const { index, vectors } = walkedIndex('rewalks', 29);
    const options = { limit: 5, oversampling: 4, rescore: true };
    const ef = index.expansionFor(20);
    // The graph's walks end among the items farthest from the query (those nearest to its opposite), as a walk stuck in the
    // wrong part of the graph does: those from the top up to `stuckUpTo`, those from the sample's codes while `stuckFrom`.
    const graph = (index as unknown as { graph: BinaryHnsw }).graph;
    const native = graph.engine === 'native';
    const walk = graph.search.bind(graph);
    const walkFrom = graph.searchFrom.bind(graph);
    const asked: (number | string)[] = [];
    let stuckUpTo = ef;
    let stuckFrom = false;
    graph.search = (query: Float32Array, k: number) => {
      asked.push(k);
      return k <= stuckUpTo ? walk(query.map((x) => -x), k) : walk(query, k);
    };
    graph.searchFrom = (query: Float32Array, k: number, from: readonly number[]) => {
      asked.push(`from ${from.length}`);
      expect(k).toBe(ef);
      return walkFrom(stuckFrom ? query.map((x) => -x) : query, k, from);
    };
    const p42 = (outcome: { hits: { item: { id: string }; score: number }[] }) => {
      expect(outcome.hits[0]!.item.id).toBe('p42');
      expect(outcome.hits[0]!.score).toBeCloseTo(1, 5);
    };
    if (native) {
      // The native graph walks from the 8 sampled codes nearest to the query: one walk, whatever the top would have done.
      const fromSample = index.search(vectors[42]!, options);
      expect(fromSample.strategy).toBe('hnsw');
      expect(asked).toEqual(['from 8']);
      p42(fromSample);
      // That walk stuck: again from the top, at the same ef.
      asked.length = 0;
      stuckFrom = true;
      stuckUpTo = 0;
      const fromTop = index.search(vectors[42]!, options);
      expect(fromTop.strategy).toBe('hnsw-from-top');
      expect(asked).toEqual(['from 8', ef]);
      p42(fromTop);
      // Both stuck: from the top at four times the ef.
      asked.length = 0;
      stuckUpTo = ef;
      const widened = index.search(vectors[42]!, options);
      expect(widened.strategy).toBe('hnsw-widened');
      expect(asked).toEqual(['from 8', ef, 4 * ef]);
      p42(widened);
      // Walks from the top first where the tuning asks for it (as until 2026-12-03): the sample's codes second.
      index.tuning = { ...DEFAULT_FILTERED_SEARCH_TUNING, walkFromSample: false };
      stuckFrom = false;
      asked.length = 0;
      const seeded = index.search(vectors[42]!, options);
      expect(seeded.strategy).toBe('hnsw-seeded');
      expect(asked).toEqual([ef, 'from 8']);
      p42(seeded);
      index.tuning = DEFAULT_FILTERED_SEARCH_TUNING;
      stuckFrom = true;
    } else {
      // USearch's binding walks from the top; the walk from the seeds is asked for and answers nothing.
      const widened = index.search(vectors[42]!, options);
      expect(widened.strategy).toBe('hnsw-widened');
      expect(asked).toEqual([ef, 'from 8', 4 * ef]);
      p42(widened);
    }
    // Batched searches start their walks as single ones do (here stuck, from the sample's codes or the top) and check them the same way.
    const walkMany = graph.searchMany.bind(graph);
    const startedMany: (number | undefined)[] = [];
    graph.searchMany = (queries: Float32Array, count: number, k: number, threads: number, seeds?: readonly (readonly number[])[]) => {
      startedMany.push(seeds?.[0]?.length);
      return walkMany(queries.map((x) => -x), count, k, threads, seeds);
    };
    asked.length = 0;
    expect(index.searchMany([vectors[42]!], options)[0]![0]!.item.id).toBe('p42');
    expect(startedMany).toEqual([native ? 8 : undefined]);
    expect(asked).toEqual(native ? [ef, 4 * ef] : ['from 8', 4 * ef]);
    // Stuck at four times the ef too: every code is scanned.
    stuckUpTo = 4 * ef;
    asked.length = 0;
    const scanned = index.search(vectors[42]!, options);
    expect(scanned.strategy).toBe('exact-after-hnsw');
    expect(asked).toEqual(native ? ['from 8', ef, 4 * ef] : [ef, 'from 8', 4 * ef]);
    expect(scanned.hits[0]!.item.id).toBe('p42');
    index.close();
  });
});

describe('overfetchAt', () => {
  it('keeps the overfetch up to a quarter of the items, then lowers it to 1 at the end share', () => {
    expect(overfetchAt(1.5, 0.5, 0.375)).toBeCloseTo(1.25, 12);
    expect(overfetchAt(1.5, 0.5, 0.5)).toBe(1);
    expect(overfetchAt(1.5, 0.75, 0.01)).toBe(1.5);
    expect(overfetchAt(1.5, 0.75, 0.25)).toBe(1.5);
    expect(overfetchAt(1.5, 0.75, 0.5)).toBeCloseTo(1.25, 12);
    expect(overfetchAt(1.5, 0.75, 0.75)).toBe(1);
    expect(overfetchAt(1.5, 0.75, 0.95)).toBe(1);
    // No end share (or one at or below a quarter): the same overfetch at every share.
    expect(overfetchAt(1.5, Number.POSITIVE_INFINITY, 0.6)).toBe(1.5);
    expect(overfetchAt(2, 0.2, 0.6)).toBe(2);
  });
});
