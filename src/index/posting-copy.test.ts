import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hamming, packSignBits } from './binary-codes.js';
import { CodeStore } from './code-store.js';
import { PostingCopy } from './posting-copy.js';
import { rng } from '../util/random.js';

describe('PostingCopy', () => {
  for (const dimension of [8, 100, 512]) {
    it(`answers what a scan through the posting list answers (${dimension} dimensions)`, () => {
      const random = rng(dimension + 1);
      const store = new CodeStore(join(mkdtempSync(join(tmpdir(), 'copy-')), 'codes.b1'), dimension);
      const vectors: Float32Array[] = [];
      for (let slot = 0; slot < 2000; slot++) {
        // Few distinct codes at 8 dimensions: many ties, broken by slot.
        const vector = Float32Array.from({ length: dimension }, () => random() - 0.5);
        store.write(slot, vector);
        store.setLive(slot, true);
        vectors.push(vector);
      }
      // Counts of every remainder: the copy's buffers stay aligned whatever the count.
      for (const count of [597, 598, 599, 600, 1, 3]) {
        const slots = Uint32Array.from({ length: 2000 }, (_, slot) => slot)
          .filter(() => random() < 0.5)
          .subarray(0, count);
        expect(slots).toHaveLength(count);
        const copy = PostingCopy.of(dimension, slots, (list, target, at) => store.copyCodes(list, target, at));
        expect(copy.memoryBytes).toBeGreaterThanOrEqual(slots.length * (Math.ceil(dimension / 64) * 8 + 4));
        expect(PostingCopy.memoryFor(dimension, slots.length)).toBe(copy.memoryBytes);
        const query = Float32Array.from({ length: dimension }, () => random() - 0.5);
        expect(copy.scan(query, 10)).toEqual(store.scanSlots(query, slots, 10));
      }
      const slots = Uint32Array.from({ length: 2000 }, (_, slot) => slot).filter(() => random() < 0.3);
      const copy = PostingCopy.of(dimension, slots, (list, target, at) => store.copyCodes(list, target, at));
      for (let q = 0; q < 5; q++) {
        const query = Float32Array.from({ length: dimension }, () => random() - 0.5);
        for (const k of [1, 10, 100, slots.length]) {
          const found = copy.scan(query, k);
          expect(found).toEqual(store.scanSlots(query, slots, k));
          expect(found).toHaveLength(k);
          const code = packSignBits(query);
          for (const { slot, hamming: distance } of found) expect(distance).toBe(hamming(code, packSignBits(vectors[slot]!)));
        }
      }
    });
  }

  it('is filled a range at a time, and is scanned only once full', () => {
    const random = rng(7);
    const dimension = 100;
    const store = new CodeStore(join(mkdtempSync(join(tmpdir(), 'copy-')), 'codes.b1'), dimension);
    for (let slot = 0; slot < 3000; slot++) {
      store.write(slot, Float32Array.from({ length: dimension }, () => random() - 0.5));
      store.setLive(slot, true);
    }
    const slots = Uint32Array.from({ length: 3000 }, (_, slot) => slot).filter(() => random() < 0.4);
    const gather = (list: Uint32Array, target: Uint8Array, at: number) => store.copyCodes(list, target, at);
    const query = Float32Array.from({ length: dimension }, () => random() - 0.5);
    for (const step of [1, 97, 500, slots.length]) {
      const copy = new PostingCopy(dimension, slots);
      let fills = 0;
      while (!copy.fill(gather, step)) {
        fills++;
        expect(() => copy.scan(query, 10)).toThrow(/filled/);
      }
      expect(fills + 1).toBe(Math.ceil(slots.length / step));
      expect(copy.scan(query, 50)).toEqual(store.scanSlots(query, slots, 50));
    }
  });

  it('scans an empty list', () => {
    const copy = PostingCopy.of(64, new Uint32Array(0), () => {});
    expect(copy.scan(new Float32Array(64).fill(1), 10)).toEqual([]);
  });
});
