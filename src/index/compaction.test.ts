import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { rng } from '../util/random.js';
import { Catalog } from './catalog.js';
import { DEFAULT_INDEX_SETTINGS, VectorIndex } from './vector-index.js';

const d = 16;
const model = { id: 'm', version: '1', dimension: d };
/** Bytes per slot: the float vector, the sign code (whole 32-bit words), the magnitude code (a bit per dimension and an f32). */
const perSlot = d * 4 + 4 + (d / 8 + 4);

function unitVector(random: () => number): Float32Array {
  const v = Float32Array.from({ length: d }, () => random() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** The exact top-k ids by dot product over the expected live items. */
function truth(query: Float32Array, live: Map<string, Float32Array>, k: number): string[] {
  return [...live]
    .map(([id, v]) => ({ id, score: v.reduce((sum, x, i) => sum + x * query[i]!, 0) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map((entry) => entry.id);
}

describe('VectorIndex compaction', () => {
  it('reuses the slots of replaced and deleted items after each save, under a mixed upsert/delete load, and answers as before', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'compact-')), 'idx');
    const index = VectorIndex.create(dir, 'c', model, { ...DEFAULT_INDEX_SETTINGS, exactThreshold: 0 });
    const random = rng(21);
    const live = new Map<string, Float32Array>();
    let writes = 0;
    for (let round = 0; round < 30; round++) {
      const batch = new Map<string, Float32Array>();
      for (let i = 0; i < 20; i++) batch.set(`item-${Math.floor(random() * 60)}`, unitVector(random));
      await index.upsertAsync([...batch].map(([id, vector]) => ({ fields: { id, category: id.length % 2 === 0 ? 'even' : 'odd' }, vector })));
      for (const [id, vector] of batch) live.set(id, vector);
      writes += batch.size;
      const doomed = [...live.keys()].filter(() => random() < 0.1);
      expect((await index.deleteAsync(doomed)).sort()).toEqual([...doomed].sort());
      for (const id of doomed) live.delete(id);
      if (round % 5 === 4) await index.checkpoint();
      const query = unitVector(random);
      const exact = index.search(query, { limit: 10, oversampling: 100, rescore: true, exact: true }).hits.map((hit) => hit.item.id);
      expect(exact).toEqual(truth(query, live, 10));
      const filtered = index.search(query, { limit: 5, oversampling: 100, rescore: true, filter: { category: ['even'] } }).hits.map((hit) => hit.item.id);
      expect(filtered).toEqual(truth(query, new Map([...live].filter(([id]) => id.length % 2 === 0)), 5));
    }
    expect(index.count).toBe(live.size);
    const report = index.compaction();
    expect(report.reclaimedSlots).toBeGreaterThan(0);
    expect(report.reclaimedBytes).toBe(report.reclaimedSlots * perSlot);
    // Without reuse every write takes a new slot; with it the files stay near the live items plus a save's worth of writes.
    const slots = statSync(join(dir, 'vectors.f32')).size / (d * 4);
    expect(slots).toBeLessThan(writes / 2);
    const query = unitVector(random);
    const before = index.search(query, { limit: 10, oversampling: 100, rescore: true }).hits.map((hit) => hit.item.id);
    expect(before).toEqual(truth(query, live, 10));
    index.close();

    const reopened = VectorIndex.open(dir);
    expect(reopened.count).toBe(live.size);
    expect(reopened.recovery).toBe('loaded');
    expect(reopened.search(query, { limit: 10, oversampling: 100, rescore: true }).hits.map((hit) => hit.item.id)).toEqual(before);
    expect(reopened.search(query, { limit: 10, oversampling: 100, rescore: true, exact: true }).hits.map((hit) => hit.item.id)).toEqual(before);
    reopened.close();
  });

  it('makes a checkpoint’s released slots durable off the event loop before the next writes take them', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'compact-')), 'idx');
    const index = VectorIndex.create(dir, 'c', model, DEFAULT_INDEX_SETTINGS);
    const random = rng(8);
    await index.upsertAsync(Array.from({ length: 12 }, (_, i) => ({ fields: { id: `q${i}` }, vector: unitVector(random) })));
    await index.checkpoint();
    await index.deleteAsync(['q3', 'q4']);
    const blocking = vi.spyOn(Catalog.prototype, 'sync');
    const offLoop = vi.spyOn(Catalog.prototype, 'syncAsync');
    try {
      await index.checkpoint();
      expect(blocking).not.toHaveBeenCalled();
      expect(offLoop).toHaveBeenCalled();
    } finally {
      blocking.mockRestore();
      offLoop.mockRestore();
    }
    expect(index.compaction()).toMatchObject({ reclaimedSlots: 2, freeSlots: 2 });
    // The next write takes a released slot: the vector file does not grow.
    const before = statSync(join(dir, 'vectors.f32')).size;
    await index.upsertAsync([{ fields: { id: 'r' }, vector: unitVector(random) }]);
    expect(statSync(join(dir, 'vectors.f32')).size).toBe(before);
    expect(index.compaction().freeSlots).toBe(1);
    index.close();
  });

  it('cuts free slots off the end of the files once their deletions are saved', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'compact-')), 'idx');
    const index = VectorIndex.create(dir, 'c', model, DEFAULT_INDEX_SETTINGS);
    const random = rng(4);
    await index.upsertAsync(Array.from({ length: 40 }, (_, i) => ({ fields: { id: `p${i}` }, vector: unitVector(random) })));
    await index.checkpoint();
    await index.deleteAsync(Array.from({ length: 30 }, (_, i) => `p${i + 10}`));
    await index.checkpoint();
    expect(statSync(join(dir, 'vectors.f32')).size).toBe(10 * d * 4);
    expect(statSync(join(dir, 'codes.b1')).size).toBe(10 * 4);
    expect(statSync(join(dir, 'codes.m1')).size).toBe(10 * (d / 8 + 4));
    expect(index.compaction()).toMatchObject({ reclaimedSlots: 30, truncatedBytes: 30 * perSlot, freeSlots: 0 });
    // The saved graph reflects the catalog: reopening replays nothing.
    expect(JSON.parse(readFileSync(join(dir, 'graph.json'), 'utf8'))).toMatchObject({ size: 10 });
    index.close();
    const reopened = VectorIndex.open(dir);
    expect(reopened).toMatchObject({ count: 10, recovery: 'loaded' });
    await reopened.upsertAsync([{ fields: { id: 'new' }, vector: unitVector(random) }]);
    expect(statSync(join(dir, 'vectors.f32')).size).toBe(11 * d * 4);
    reopened.close();
  });

  it('moves live items off the end of the files into free slots, online under a mixed upsert/delete load, so the files shrink and results stay exact', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'compact-')), 'idx');
    const index = VectorIndex.create(dir, 'c', model, { ...DEFAULT_INDEX_SETTINGS, exactThreshold: 0 });
    const random = rng(33);
    const live = new Map<string, Float32Array>();
    const upsert = async (ids: string[]) => {
      const entries = ids.map((id) => ({ id, vector: unitVector(random) }));
      await index.upsertAsync(entries.map(({ id, vector }) => ({ fields: { id, category: Number(id.slice(1)) % 3 === 0 ? 'three' : 'other' }, vector })));
      for (const { id, vector } of entries) live.set(id, vector);
    };
    const remove = async (ids: string[]) => {
      await index.deleteAsync(ids);
      for (const id of ids) live.delete(id);
    };
    const check = () => {
      const query = unitVector(random);
      expect(index.search(query, { limit: 10, oversampling: 100, rescore: true, exact: true }).hits.map((hit) => hit.item.id)).toEqual(truth(query, live, 10));
      const threes = new Map([...live].filter(([id]) => Number(id.slice(1)) % 3 === 0));
      expect(index.search(query, { limit: 5, oversampling: 100, rescore: true, filter: { category: ['three'] } }).hits.map((hit) => hit.item.id)).toEqual(truth(query, threes, 5));
    };
    await upsert(Array.from({ length: 600 }, (_, i) => `p${i}`));
    await index.checkpoint();
    // Most of the early items go: their slots are free, the live ones sit at the end of the files.
    await remove(Array.from({ length: 450 }, (_, i) => `p${i}`));
    await upsert(Array.from({ length: 50 }, (_, i) => `p${500 + i}`));
    const before = statSync(join(dir, 'vectors.f32')).size;
    // Writes, deletes and searches while the compaction runs (it yields between its batches of 16).
    const compaction = index.compact(16);
    const load = (async () => {
      for (let round = 0; round < 12; round++) {
        await upsert([`p${550 + round}`, `p${460 + round}`]);
        await remove([`p${590 - round}`]);
        check();
      }
    })();
    const [report] = await Promise.all([compaction, load]);
    check();
    expect(report.movedItems).toBeGreaterThan(0);
    expect(report.fileBytesAfter).toBeLessThan(report.fileBytesBefore);
    expect(report.truncatedBytes).toBeGreaterThan(0);
    await index.compact();
    const after = statSync(join(dir, 'vectors.f32')).size;
    expect(after).toBeLessThan(before / 2);
    // The files hold the live items and few free slots.
    expect(after / (d * 4)).toBeLessThanOrEqual(live.size + index.compaction().freeSlots);
    expect(index.count).toBe(live.size);
    check();
    index.close();
    const reopened = VectorIndex.open(dir);
    expect(reopened).toMatchObject({ count: live.size, recovery: 'loaded' });
    const query = unitVector(random);
    expect(reopened.search(query, { limit: 10, oversampling: 100, rescore: true }).hits.map((hit) => hit.item.id)).toEqual(truth(query, live, 10));
    reopened.close();
  });

  it('refuses a second compaction while one runs (409), and gives the slots of a batch the catalog refused to the next writes', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'compact-')), 'idx');
    const index = VectorIndex.create(dir, 'c', model, { ...DEFAULT_INDEX_SETTINGS, exactThreshold: 0 });
    const random = rng(5);
    index.upsert(Array.from({ length: 40 }, (_, i) => ({ fields: { id: `item-${i}` }, vector: unitVector(random) })));
    index.delete(Array.from({ length: 20 }, (_, i) => `item-${i}`));
    const first = index.compact();
    await expect(index.compact()).rejects.toMatchObject({ status: 409, code: 'compaction_running' });
    expect((await first).movedItems).toBeGreaterThan(0);
    const bytes = index.stats().bytes.vectors;
    // Metadata that cannot be written (a cycle): the batch fails whole, and its slots are not lost.
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => index.upsert([{ fields: { id: 'ok' }, vector: unitVector(random) }, { fields: { id: 'cyclic', metadata: cyclic }, vector: unitVector(random) }])).toThrow(/circular/i);
    expect(index.count).toBe(20);
    expect(index.compaction().freeSlots).toBe(2);
    index.upsert([{ fields: { id: 'a' }, vector: unitVector(random) }, { fields: { id: 'b' }, vector: unitVector(random) }]);
    expect(index.compaction().freeSlots).toBe(0);
    expect(index.stats().bytes.vectors).toBe(bytes + 2 * d * 4);
    expect(index.count).toBe(22);
    index.close();
  });
});
