import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hamming, packSignBits } from './binary-codes.js';
import { CodeStore } from './code-store.js';
import { PostingCopy, prefixWords } from './posting-copy.js';
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

  it('takes items that join and leave while it is being filled, as the list it copies would', () => {
    const random = rng(11);
    const dimension = 100;
    const store = new CodeStore(join(mkdtempSync(join(tmpdir(), 'copy-')), 'codes.b1'), dimension);
    for (let slot = 0; slot < 3000; slot++) {
      store.write(slot, Float32Array.from({ length: dimension }, () => random() - 0.5));
      store.setLive(slot, true);
    }
    const slots = Uint32Array.from({ length: 2000 }, (_, slot) => slot).filter(() => random() < 0.5);
    const gather = (list: Uint32Array, target: Uint8Array, at: number) => store.copyCodes(list, target, at);
    const copy = new PostingCopy(dimension, slots, undefined, 100);
    const members = new Set(slots);
    const step = 97;
    let turn = 0;
    do {
      // Between two fills: an item not filled yet leaves, one filled leaves, a new one joins, one joins and leaves.
      const listed = [...members].filter((slot) => slot < 2000);
      const unfilled = listed[listed.length - 1 - turn]!;
      const filled = listed[turn]!;
      for (const slot of [unfilled, filled]) {
        expect(copy.remove(slot)).toBe(true);
        members.delete(slot);
      }
      expect(copy.remove(unfilled)).toBe(false);
      expect(copy.append(2000 + 2 * turn, gather)).toBe(true);
      members.add(2000 + 2 * turn);
      expect(copy.append(2001 + 2 * turn, gather)).toBe(true);
      expect(copy.remove(2001 + 2 * turn)).toBe(true);
      turn++;
    } while (!copy.fill(gather, step));
    expect(turn).toBe(Math.ceil(slots.length / step));
    expect(copy.size).toBe(members.size);
    const live = Uint32Array.from(members);
    for (let q = 0; q < 5; q++) {
      const query = Float32Array.from({ length: dimension }, () => random() - 0.5);
      for (const k of [10, live.length]) expect(copy.scan(query, k)).toEqual(store.scanSlots(query, live, k));
    }
  });

  it('holds three eighths of a code, at least two words, and whole codes of two words or fewer', () => {
    expect([8, 64, 100, 128, 192, 256, 512, 768, 1024].map(prefixWords)).toEqual([1, 1, 2, 2, 2, 2, 3, 5, 6]);
  });

  it('re-ranks the shortlist of its code prefixes by the whole codes', () => {
    const random = rng(5);
    const dimension = 512;
    const store = new CodeStore(join(mkdtempSync(join(tmpdir(), 'copy-')), 'codes.b1'), dimension);
    // Items around 20 centres, each at its own distance from it, so that a query near a centre has neighbours nearer than the rest.
    const centres = Array.from({ length: 20 }, () => Float32Array.from({ length: dimension }, () => random() - 0.5));
    const vectors: Float32Array[] = [];
    for (let slot = 0; slot < 4000; slot++) {
      const centre = centres[slot % 20]!;
      const spread = 0.05 + random();
      const vector = centre.map((x) => x + spread * (random() - 0.5));
      store.write(slot, vector);
      store.setLive(slot, true);
      vectors.push(vector);
    }
    const slots = Uint32Array.from({ length: 4000 }, (_, slot) => slot).filter(() => random() < 0.5);
    const gather = (list: Uint32Array, target: Uint8Array, at: number, words: number) => store.copyCodes(list, target, at, words);
    const rerank = (query: ArrayLike<number>, list: Uint32Array, k: number) => store.scanSlots(query, list, k);
    const copy = PostingCopy.of(dimension, slots, gather, rerank);
    expect(copy.prefixed).toBe(true);
    const whole = PostingCopy.of(dimension, slots, gather);
    expect(whole.prefixed).toBe(false);
    // 24 of 64 bytes a code: the copy is about half the whole copy's memory.
    expect(PostingCopy.memoryFor(dimension, slots.length, true)).toBe(copy.memoryBytes);
    expect(copy.memoryBytes).toBeLessThan(0.65 * whole.memoryBytes);
    const codes = vectors.map((vector) => packSignBits(vector));
    let overlap = 0;
    for (let q = 0; q < 20; q++) {
      const query = centres[q]!.map((x) => x + 0.05 * (random() - 0.5));
      const code = packSignBits(query);
      // The prefix shortlist (the first 24 bytes, 192 bits; 2k, at least 256), ties by slot, then the whole codes' top k of it.
      const prefixOf = (slot: number) => hamming(code.subarray(0, 24), codes[slot]!.subarray(0, 24));
      const byPrefix = [...slots].sort((a, b) => prefixOf(a) - prefixOf(b) || a - b);
      for (const k of [10, 200]) {
        const expected = store.scanSlots(query, Uint32Array.from(byPrefix.slice(0, Math.max(2 * k, 256))), k);
        const found = copy.scan(query, k);
        expect(found).toEqual(expected);
        for (const { slot, hamming: distance } of found) expect(distance).toBe(hamming(code, codes[slot]!));
        if (k > 10) continue;
        const exact = new Set(whole.scan(query, k).map((candidate) => candidate.slot));
        overlap += found.filter((candidate) => exact.has(candidate.slot)).length / k;
      }
    }
    // Near the exact top 10 by the whole codes.
    expect(overlap / 20).toBeGreaterThan(0.9);
    // Items appended after the copy was made sit after the copied ones, out of slot order: the shortlist's ties at its last distance still go by slot.
    const first = slots.filter((_, i) => i % 3 !== 0);
    const later = slots.filter((_, i) => i % 3 === 0).reverse();
    const grown = PostingCopy.of(dimension, first, gather, rerank, later.length);
    for (const slot of later) expect(grown.append(slot, gather)).toBe(true);
    for (let q = 0; q < 10; q++) {
      const query = centres[q]!.map((x) => x + 0.05 * (random() - 0.5));
      const code = packSignBits(query);
      const prefixOf = (slot: number) => hamming(code.subarray(0, 24), codes[slot]!.subarray(0, 24));
      const byPrefix = [...slots].sort((a, b) => prefixOf(a) - prefixOf(b) || a - b);
      for (const k of [10, 200, 700]) expect(grown.scan(query, k)).toEqual(store.scanSlots(query, Uint32Array.from(byPrefix.slice(0, Math.max(2 * k, 256))), k));
    }
    // A code of two words is copied whole, re-ranking or not: it answers exactly.
    const small = new CodeStore(join(mkdtempSync(join(tmpdir(), 'copy-')), 'codes.b1'), 100);
    for (let slot = 0; slot < 500; slot++) {
      small.write(slot, Float32Array.from({ length: 100 }, () => random() - 0.5));
      small.setLive(slot, true);
    }
    const list = Uint32Array.from({ length: 500 }, (_, slot) => slot).filter(() => random() < 0.5);
    const copied = PostingCopy.of(100, list, (l, t, at, w) => small.copyCodes(l, t, at, w), (query, l, k) => small.scanSlots(query, l, k));
    expect(copied.prefixed).toBe(false);
    const query = Float32Array.from({ length: 100 }, () => random() - 0.5);
    expect(copied.scan(query, 25)).toEqual(small.scanSlots(query, list, 25));
  });

  it('takes items that join and leave the filter after it is made, up to its spare entries', () => {
    const random = rng(11);
    const dimension = 100;
    const store = new CodeStore(join(mkdtempSync(join(tmpdir(), 'copy-')), 'codes.b1'), dimension);
    const write = (slot: number) => {
      store.write(slot, Float32Array.from({ length: dimension }, () => random() - 0.5));
      store.setLive(slot, true);
    };
    for (let slot = 0; slot < 1000; slot++) write(slot);
    const gather = (list: Uint32Array, target: Uint8Array, at: number, words: number) => store.copyCodes(list, target, at, words);
    // Slots in no particular order, as a posting list holds them after removals.
    const held = new Set([...Uint32Array.from({ length: 1000 }, (_, slot) => slot).filter(() => random() < 0.4)].sort(() => random() - 0.5));
    const copy = PostingCopy.of(dimension, Uint32Array.from(held), gather, undefined, 5);
    expect(PostingCopy.memoryFor(dimension, held.size, false, 5)).toBe(copy.memoryBytes);
    const query = Float32Array.from({ length: dimension }, () => random() - 0.5);
    const check = () => {
      expect(copy.size).toBe(held.size);
      for (const k of [1, 10, held.size]) expect(copy.scan(query, k)).toEqual(store.scanSlots(query, Uint32Array.from(held), k));
    };
    check();
    // Leaving: the nearest few, and one the copy never held.
    const leaving = copy.scan(query, 3).map((candidate) => candidate.slot);
    for (const slot of leaving) {
      expect(copy.remove(slot)).toBe(true);
      expect(copy.remove(slot)).toBe(false);
      held.delete(slot);
    }
    const outside = [...Array(1000).keys()].find((slot) => !held.has(slot) && !leaving.includes(slot))!;
    expect(copy.remove(outside)).toBe(false);
    expect(copy.dead).toBe(3);
    check();
    // Joining: a slot freed and written again (its new code), and others, up to the five spare entries.
    write(leaving[0]!);
    for (const slot of [leaving[0]!, outside, 1000, 1001, 1002]) {
      if (slot >= 1000) write(slot);
      expect(copy.append(slot, gather)).toBe(true);
      held.add(slot);
    }
    check();
    write(1003);
    expect(copy.append(1003, gather)).toBe(false);
    // The slot used again leaves once more: its live entry goes, not the dead one.
    expect(copy.remove(leaving[0]!)).toBe(true);
    held.delete(leaving[0]!);
    expect(copy.dead).toBe(4);
    check();
  });

  it('scans an empty list', () => {
    const copy = PostingCopy.of(64, new Uint32Array(0), () => {});
    expect(copy.scan(new Float32Array(64).fill(1), 10)).toEqual([]);
  });
});
