import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hamming, magnitudeBitsSet, packSignBits } from './binary-codes.js';
import { CodeStore } from './code-store.js';
import { rng } from '../util/random.js';

const randomVector = (random: () => number, dimension: number) => Float32Array.from({ length: dimension }, () => random() - 0.5);

/** The top k by (Hamming, slot), computed the plain way. */
function reference(query: Float32Array, vectors: Map<number, Float32Array>, k: number) {
  const code = packSignBits(query);
  return [...vectors]
    .map(([slot, vector]) => ({ slot, hamming: hamming(code, packSignBits(vector)) }))
    .sort((a, b) => a.hamming - b.hamming || a.slot - b.slot)
    .slice(0, k);
}

describe('CodeStore scans', () => {
  for (const dimension of [8, 100, 512]) {
    it(`finds the exact Hamming top-k over live slots and over a list (${dimension} dimensions)`, () => {
      const random = rng(dimension);
      const store = new CodeStore(join(mkdtempSync(join(tmpdir(), 'codes-')), 'codes.b1'), dimension);
      const vectors = new Map<number, Float32Array>();
      // Past the first capacity (1024), so the live flags move as the memory grows.
      for (let slot = 0; slot < 3000; slot++) {
        const vector = randomVector(random, dimension);
        store.write(slot, vector);
        if (slot % 7 !== 3) {
          store.setLive(slot, true);
          vectors.set(slot, vector);
        }
      }
      for (let q = 0; q < 5; q++) {
        const query = randomVector(random, dimension);
        expect(store.scanAll(query, 25)).toEqual(reference(query, vectors, 25));
        const subset = new Map([...vectors].filter(([slot]) => slot % 5 === q));
        expect(store.scanSlots(query, Uint32Array.from(subset.keys()), 10)).toEqual(reference(query, subset, 10));
        // A range of slots (as the ef's measurement scans every code, in parts), past the end too.
        for (const [from, to] of [
          [0, 1024],
          [1024, 2560],
          [2560, 9000],
        ] as const) {
          const range = new Map([...vectors].filter(([slot]) => slot >= from && slot < to));
          expect(store.scanRange(query, 25, from, to)).toEqual(reference(query, range, 25));
        }
      }
      expect(() => store.scanRange(randomVector(random, dimension), 5, 100, 200)).toThrow('multiple of 64');
      expect(store.liveSlots()).toEqual([...vectors.keys()]);
      store.close();
    });
  }

  it('scans lists of any length, shorter and longer than its look-ahead, in any order, at any look-ahead', () => {
    const random = rng(11);
    const dir = mkdtempSync(join(tmpdir(), 'codes-'));
    const vectors = new Map(Array.from({ length: 200 }, (_, slot) => [slot, randomVector(random, 512)] as const));
    const writer = new CodeStore(join(dir, 'codes.b1'), 512);
    for (const [slot, vector] of vectors) writer.write(slot, vector);
    writer.sync();
    writer.close();
    for (const lookahead of [0, 1, 8, 64]) {
      const store = new CodeStore(join(dir, 'codes.b1'), 512, undefined, lookahead);
      for (const slot of vectors.keys()) store.setLive(slot, true);
      for (let length = 0; length <= 20; length++) {
        // Unsorted and spread out: slots drawn without repeats.
        const list = [...vectors.keys()].sort(() => random() - 0.5).slice(0, length);
        const query = randomVector(random, 512);
        const subset = new Map(list.map((slot) => [slot, vectors.get(slot)!]));
        expect(store.scanSlots(query, Uint32Array.from(list), 5)).toEqual(reference(query, subset, 5));
        // The scan's own word after the histogram leaves the next scan's counts alone.
        expect(store.scanAll(query, 7)).toEqual(reference(query, vectors, 7));
      }
      store.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the file layout of 32-bit words per code, and reads it back', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'codes-')), 'codes.b1');
    const random = rng(3);
    const store = new CodeStore(path, 8);
    const vectors = new Map(Array.from({ length: 50 }, (_, slot) => [slot, randomVector(random, 8)] as const));
    for (const [slot, vector] of vectors) store.write(slot, vector);
    store.sync();
    store.close();
    expect(statSync(path).size).toBe(50 * 4);
    const reopened = new CodeStore(path, 8);
    expect(reopened.slots).toBe(50);
    for (const slot of vectors.keys()) reopened.setLive(slot, true);
    const query = randomVector(random, 8);
    expect(reopened.scanAll(query, 50)).toEqual(reference(query, vectors, 50));
    reopened.close();
  });

  it('returns fewer than k when fewer slots are live', () => {
    const store = new CodeStore(join(mkdtempSync(join(tmpdir(), 'codes-')), 'codes.b1'), 64);
    const random = rng(5);
    for (let slot = 0; slot < 10; slot++) store.write(slot, randomVector(random, 64));
    store.setLive(2, true);
    store.setLive(8, true);
    expect(store.scanAll(randomVector(random, 64), 10).map((hit) => hit.slot).sort()).toEqual([2, 8]);
    store.close();
  });

  it('gives each slot the dot product of the query with its sign vector, for any dimension', () => {
    for (const dimension of [64, 37, 512]) {
      const store = new CodeStore(join(mkdtempSync(join(tmpdir(), 'codes-')), 'codes.b1'), dimension);
      const random = rng(dimension);
      const vectors = Array.from({ length: 20 }, () => randomVector(random, dimension));
      vectors.forEach((vector, slot) => store.write(slot, vector));
      const query = randomVector(random, dimension);
      const slots = [7, 3, 19, 3, 0];
      const out = new Float64Array(slots.length);
      store.signedDots(query, slots, out);
      const expected = slots.map((slot) => vectors[slot]!.reduce((sum, x, i) => sum + (x > 0 ? 1 : -1) * query[i]!, 0));
      // The per-byte sums are kept in single precision.
      out.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
      store.close();
    }
  });

  /** The two-bit vector of `vector`, the plain way: its third of largest magnitudes at their mean, the rest at theirs, unit length. */
  function twoBit(vector: Float32Array): Float32Array {
    const n = vector.length;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.abs(vector[b]!) - Math.abs(vector[a]!) || a - b);
    const high = new Set(order.slice(0, magnitudeBitsSet(n)));
    const mean = (of: number[]) => of.reduce((sum, i) => sum + Math.abs(vector[i]!), 0) / Math.max(1, of.length);
    const highLevel = mean([...high]);
    const lowLevel = mean(order.filter((i) => !high.has(i)));
    const out = Float32Array.from(vector, (x, i) => (x > 0 ? 1 : -1) * (high.has(i) ? highLevel : lowLevel));
    const norm = Math.hypot(...out);
    return out.map((x) => x / norm);
  }

  it('gives each slot the dot product of the query with its two-bit vector, for any dimension, after a reopen too', () => {
    for (const dimension of [64, 37, 512]) {
      const path = join(mkdtempSync(join(tmpdir(), 'codes-')), 'codes.b1');
      const store = new CodeStore(path, dimension);
      const random = rng(dimension + 1);
      const vectors = Array.from({ length: 20 }, () => randomVector(random, dimension));
      vectors.forEach((vector, slot) => store.write(slot, vector));
      const query = randomVector(random, dimension);
      const slots = [7, 3, 19, 3, 0];
      const expected = slots.map((slot) => twoBit(vectors[slot]!).reduce((sum, x, i) => sum + x * query[i]!, 0));
      const out = new Float64Array(slots.length);
      store.estimateDots(query, slots, out);
      out.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
      store.sync();
      store.close();
      expect(statSync(join(path, '..', 'codes.m1')).size).toBe(20 * (Math.ceil(dimension / 8) + 4));
      const reopened = new CodeStore(path, dimension);
      expect(reopened.magnitudeSlots).toBe(20);
      reopened.estimateDots(query, slots, out);
      out.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
      // Cut, then written again past the cut.
      reopened.truncate(10);
      expect(statSync(join(path, '..', 'codes.m1')).size).toBe(10 * (Math.ceil(dimension / 8) + 4));
      reopened.close();
    }
  });

  it('has no magnitude codes for an index made before them', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'codes-')), 'codes.b1');
    const store = new CodeStore(path, 16);
    store.write(0, randomVector(rng(1), 16));
    store.close();
    rmSync(join(path, '..', 'codes.m1'));
    const reopened = new CodeStore(path, 16);
    expect([reopened.slots, reopened.magnitudeSlots]).toEqual([1, 0]);
    // Nothing for a walk by the two-bit estimate to read (its walks go by Hamming distance), until every slot has one.
    expect(reopened.estimateQuery(randomVector(rng(2), 16))).toBeUndefined();
    reopened.write(0, randomVector(rng(1), 16));
    const query = randomVector(rng(2), 16);
    const estimate = reopened.estimateQuery(query)!;
    expect(estimate.norm).toBeCloseTo(Math.hypot(...query), 6);
    expect(estimate.total).toBeCloseTo(query.reduce((sum, x) => sum + x, 0), 6);
    expect([estimate.planeBytes, estimate.highCount, estimate.lowCount]).toEqual([2, 6, 10]);
    reopened.close();
  });

  it('ranks the float neighbours of a query better with the two-bit vectors than with the signs alone', () => {
    const dimension = 256;
    const store = new CodeStore(join(mkdtempSync(join(tmpdir(), 'codes-')), 'codes.b1'), dimension);
    const random = rng(11);
    const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
    const query = Float32Array.from({ length: dimension }, gauss);
    // Items around the query at various distances, as a graph search's candidates are.
    const vectors = Array.from({ length: 2000 }, (_, slot) => {
      const spread = 1 + (slot % 7);
      return Float32Array.from(query, (x) => x + spread * gauss());
    });
    vectors.forEach((vector, slot) => store.write(slot, vector));
    const slots = vectors.map((_, slot) => slot);
    const exact = vectors.map((vector) => vector.reduce((sum, x, i) => sum + x * query[i]!, 0) / Math.hypot(...vector));
    const truth = new Set(slots.sort((a, b) => exact[b]! - exact[a]!).slice(0, 10));
    const found = (estimate: (query: Float32Array, slots: number[], out: Float64Array) => void) => {
      const ids = vectors.map((_, slot) => slot);
      const out = new Float64Array(ids.length);
      estimate(query, ids, out);
      return ids.sort((a, b) => out[b]! - out[a]!).slice(0, 20).filter((slot) => truth.has(slot)).length;
    };
    const twoBitFound = found((q, s, out) => store.estimateDots(q, s, out));
    const signFound = found((q, s, out) => store.signedDots(q, s, out));
    expect(twoBitFound).toBeGreaterThanOrEqual(9);
    expect(twoBitFound).toBeGreaterThan(signFound);
    store.close();
  });
});
