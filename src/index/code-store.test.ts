import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hamming, packSignBits } from './binary-codes.js';
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
      }
      expect(store.liveSlots()).toEqual([...vectors.keys()]);
      store.close();
    });
  }

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
});
