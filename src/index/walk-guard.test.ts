import { describe, expect, it } from 'vitest';
import { hamming, packSignBits } from './binary-codes.js';
import { WalkGuard } from './walk-guard.js';
import { rng } from '../util/random.js';

const randomVector = (random: () => number, dimension: number) => Float32Array.from({ length: dimension }, () => random() - 0.5);

describe('WalkGuard', () => {
  it("counts how many of the sampled codes nearest to the query a filter passes: its share of the query's neighbourhood", () => {
    const random = rng(8);
    // Odd capacities: the scratch buffers stay aligned whatever the room.
    for (const [dimension, capacity] of [
      [512, 16_384],
      [100, 3001],
    ] as const) {
      const guard = new WalkGuard(dimension, capacity);
      const centres = [randomVector(random, dimension), randomVector(random, dimension)];
      const codes: Uint8Array[] = [];
      // Two clusters, the even slots around the first centre; a third of the sample retired.
      for (let slot = 0; slot < 6000; slot++) {
        const centre = centres[slot % 2]!;
        const code = packSignBits(centre.map((x) => x + (random() - 0.5) * 0.3));
        codes[slot] = code;
        guard.offer(slot, () => code);
      }
      for (let slot = 0; slot < 6000; slot += 3) guard.retire(slot);
      const even = (slot: number) => slot % 2 === 0;
      // Checked against the exact nearest 32 live sampled codes (by distance, then order does not matter at the cut).
      const sampled = [...(guard as unknown as { entryOf: Map<number, number> }).entryOf.keys()];
      for (const centre of centres) {
        const code = packSignBits(centre);
        const distances = sampled.map((slot) => hamming(code, codes[slot]!)).sort((a, b) => a - b);
        const cut = distances[31]!;
        const within = sampled.filter((slot) => hamming(code, codes[slot]!) < cut);
        const { passing, of, slots } = guard.nearPassing(centre, 6000, 32, even);
        expect(of).toBe(32);
        // The codes looked at, sampled and live, nearest first: where a filtered walk may start.
        expect(slots).toHaveLength(32);
        expect(slots.filter(even)).toHaveLength(passing);
        expect(slots.every((slot) => sampled.includes(slot))).toBe(true);
        const near = slots.map((slot) => hamming(code, codes[slot]!));
        expect(near).toEqual([...near].sort((a, b) => a - b));
        expect(passing).toBeGreaterThanOrEqual(within.filter(even).length);
        expect(passing).toBeLessThanOrEqual(within.filter(even).length + (32 - within.length));
        expect(passing).toBe(centre === centres[0] ? 32 : 0);
      }
      expect(guard.nearPassing(centres[0]!, 6000, 32, () => true)).toMatchObject({ passing: 32, of: 32 });
      // A sample smaller than asked for: all of it.
      const small = new WalkGuard(dimension, 10);
      for (let slot = 0; slot < 5; slot++) small.offer(slot, () => codes[slot]!);
      const few = small.nearPassing(centres[0]!, 5, 32, even);
      expect(few).toMatchObject({ passing: 3, of: 5 });
      expect(new Set(few.slots)).toEqual(new Set([0, 1, 2, 3, 4]));
      expect(new WalkGuard(dimension).nearPassing(centres[0]!, 0, 32, even)).toEqual({ passing: 0, of: 0, slots: [] });
    }
  });

  it('gives the exact nearest Hamming distance over the sampled codes, without the retired ones', () => {
    const random = rng(21);
    for (const dimension of [100, 512]) {
      const guard = new WalkGuard(dimension, 5000);
      const codes = new Map<number, Uint8Array>();
      // Past the first room (1024 entries), so the live flags move as the memory grows.
      for (let slot = 0; slot < 3000; slot++) {
        const code = packSignBits(randomVector(random, dimension));
        codes.set(slot, code);
        guard.offer(slot, () => code);
      }
      for (let slot = 0; slot < 3000; slot += 3) {
        guard.retire(slot);
        codes.delete(slot);
      }
      // Offered again with another code: the new one counts, once.
      const replaced = packSignBits(randomVector(random, dimension));
      guard.offer(1, () => replaced);
      codes.set(1, replaced);
      expect(guard.size).toBe(codes.size);
      for (let q = 0; q < 5; q++) {
        const query = randomVector(random, dimension);
        const code = packSignBits(query);
        expect(guard.nearest(query)).toBe(Math.min(...[...codes.values()].map((other) => hamming(code, other))));
        // The sampled items nearest to the query among the first look's entries (the first 1,024 of the sample at these
        // sizes), nearest first: their distances are the exact 8 smallest there.
        const seeds = guard.nearestSlots(query, codes.size, 8);
        expect(seeds).toHaveLength(8);
        const looked = (guard as unknown as { slots: number[] }).slots.slice(0, 1024).filter((slot) => codes.has(slot));
        expect(seeds.every((slot) => looked.includes(slot))).toBe(true);
        const exact = looked.map((slot) => hamming(code, codes.get(slot)!)).sort((a, b) => a - b);
        expect(seeds.map((slot) => hamming(code, codes.get(slot)!))).toEqual(exact.slice(0, 8));
      }
      // A retired item's own code is no longer found at distance 0; a live one's is.
      const query = Float32Array.from({ length: dimension }, (_, i) => ((codes.get(1)![i >> 3]! >> (7 - (i & 7))) & 1 ? 1 : -1));
      expect(guard.nearest(query)).toBe(0);
      guard.retire(1);
      expect(guard.nearest(query)).toBeGreaterThan(0);
      expect(guard.fellShort(query, 0, codes.size)).toBe(false);
    }
  });

  it('keeps a sample of at most its capacity, drawn from every part of what it was offered', () => {
    const guard = new WalkGuard(64, 200);
    const random = rng(4);
    const code = packSignBits(randomVector(random, 64));
    for (let slot = 0; slot < 20_000; slot++) guard.offer(slot, () => code);
    expect(guard.size).toBe(200);
    const sampled = [...(guard as unknown as { entryOf: Map<number, number> }).entryOf.keys()];
    // A reservoir: each tenth of the slots holds about a tenth of the sample (binomial, n 200, p 0.1: 20 ± 4.2).
    for (let tenth = 0; tenth < 10; tenth++) {
      const inside = sampled.filter((slot) => Math.floor(slot / 2000) === tenth).length;
      expect(inside).toBeGreaterThan(5);
      expect(inside).toBeLessThan(40);
    }
    // Retired entries are the next arrivals'.
    for (const slot of sampled.slice(0, 50)) guard.retire(slot);
    expect(guard.size).toBe(150);
    for (let slot = 20_000; slot < 20_050; slot++) guard.offer(slot, () => code);
    expect(guard.size).toBe(200);
  });

  it('keeps its entries in random order: the first ones are a uniform sample of the items, whatever their order of arrival', () => {
    const dimension = 64;
    const guard = new WalkGuard(dimension, 4000);
    // Items far from a query in arrival order, the near ones last: a sample of the first arrivals would hold none of them.
    const far = packSignBits(Float32Array.from({ length: dimension }, () => -1));
    const near = packSignBits(Float32Array.from({ length: dimension }, () => 1));
    for (let slot = 0; slot < 3000; slot++) guard.offer(slot, () => (slot < 2500 ? far : near));
    const query = Float32Array.from({ length: dimension }, () => 1);
    // 1,024 entries of 3,000 items, a sixth of them near: none near would be a chance of (5/6)^1024.
    expect(guard.nearest(query, 1024)).toBe(0);
    const sampled = (guard as unknown as { slots: number[] }).slots.slice(0, 1024);
    const late = sampled.filter((slot) => slot >= 2500).length;
    // A sixth of 1,024, binomial: 171 ± 12.
    expect(late).toBeGreaterThan(120);
    expect(late).toBeLessThan(230);
    // A walk over 3,000 items that found only far codes fell short; one that found a near one did not.
    expect(guard.fellShort(query, dimension, 3000)).toBe(true);
    expect(guard.fellShort(query, 0, 3000)).toBe(false);
  });

  it('has nothing to compare with when empty', () => {
    const guard = new WalkGuard(512);
    const query = randomVector(rng(1), 512);
    expect(guard.nearest(query)).toBe(Infinity);
    expect(guard.fellShort(query, 512, 0)).toBe(false);
  });

  it('looks at the rest of its sample only when the first look comes within its margin of the walk', () => {
    const dimension = 64;
    const guard = new WalkGuard(dimension, 20_000);
    const far = packSignBits(Float32Array.from({ length: dimension }, () => -1));
    const near = packSignBits(Float32Array.from({ length: dimension }, () => 1));
    for (let slot = 0; slot < 20_000; slot++) guard.offer(slot, () => far);
    const query = Float32Array.from({ length: dimension }, () => 1);
    // For 1,280,000 items the first look takes 2,500 entries, the whole look 20,000.
    const items = 1_280_000;
    const entryOf = (guard as unknown as { entryOf: Map<number, number> }).entryOf;
    const late = [...entryOf].find(([, entry]) => entry >= 2_500)![0];
    const early = [...entryOf].find(([, entry]) => entry < 2_500)![0];
    // Only far codes (64 bits from the query): a walk that found one at 50 did not fall short.
    expect(guard.fellShort(query, 50, items)).toBe(false);
    // A near code past the first look (offered again, it keeps its entry).
    guard.offer(late, () => near);
    expect(entryOf.get(late)).toBeGreaterThanOrEqual(2_500);
    expect(guard.nearest(query)).toBe(0);
    // The first look's nearest (64) within 16 bits of the walk's (50): the rest is scanned and finds it.
    expect(guard.fellShort(query, 50, items)).toBe(true);
    // Not within them (a walk that found a code at 40): the rest is left unread.
    expect(guard.fellShort(query, 40, items)).toBe(false);
    // Up to 65,536 items the first look is the whole look, 1,024 entries, which the near code is not among.
    expect(guard.fellShort(query, 50, 60_000)).toBe(false);
    // A large filter's look before its walk: over the whole sample, the near code first; over the first look, not among them.
    expect(guard.nearPassing(query, items, 8, () => true).slots[0]).toBe(late);
    const firstLook = guard.nearPassing(query, items, 8, () => true, true);
    expect(firstLook).toMatchObject({ passing: 8, of: 8 });
    expect(firstLook.slots.every((slot) => entryOf.get(slot)! < 2_500)).toBe(true);
    // Where a walk starts: the first look's 8 nearest codes (all far, so any 8 of its entries) and their distance, which the
    // check after the walk takes as its first look; the rest is read as without, another query's scan between.
    const start = guard.start(query, items, 8);
    expect(start.nearest).toBe(dimension);
    expect(start.slots).toHaveLength(8);
    expect(start.slots.every((slot) => entryOf.get(slot)! < 2_500)).toBe(true);
    guard.start(Float32Array.from({ length: dimension }, () => -1), items, 8);
    expect(guard.fellShort(query, 50, items, start.nearest)).toBe(true);
    expect(guard.fellShort(query, 40, items, start.nearest)).toBe(false);
    // A first look nearer than the walk's nearest: short, whatever the rest holds.
    expect(guard.fellShort(query, dimension + 1, items, start.nearest)).toBe(true);
    // A near code inside the first look is found there, whatever the walk's distance, and is where the next walk starts.
    guard.offer(early, () => near);
    expect(guard.fellShort(query, 1, items)).toBe(true);
    expect(guard.start(query, items, 8)).toMatchObject({ nearest: 0 });
    expect(guard.start(query, items, 8).slots[0]).toBe(early);
    expect(new WalkGuard(dimension).start(query, items, 8)).toEqual({ slots: [], nearest: Infinity });
  });
});
