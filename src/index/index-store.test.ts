import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { IndexStore } from './index-store.js';
import { DEFAULT_FILTERED_SEARCH_TUNING, DEFAULT_INDEX_SETTINGS } from './vector-index.js';

const logger = pino({ level: 'silent' });
const small = { id: 'm', version: '1', dimension: 8 };
const other = { id: 'n', version: '2', dimension: 4 };
const unit = (dimension: number, seed: number) => {
  const v = Float32Array.from({ length: dimension }, (_, i) => Math.sin(seed * 7 + i));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe('IndexStore versions', () => {
  it('switches a name to a rebuilt version by alias, and reopens it after a restart', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'store-'));
    const store = new IndexStore(dataDir, logger);
    store.create('shoes', small, DEFAULT_INDEX_SETTINGS).upsert([{ fields: { id: 'a' }, vector: unit(8, 1) }]);
    const { index: build, dirName } = store.createBuild('shoes', other, DEFAULT_INDEX_SETTINGS);
    expect(() => store.createBuild('shoes', other, DEFAULT_INDEX_SETTINGS)).toThrow(/already being rebuilt/);
    build.upsert([{ fields: { id: 'b' }, vector: unit(4, 2) }, { fields: { id: 'c' }, vector: unit(4, 3) }]);
    expect(store.get('shoes').model).toEqual(small);
    store.promote('shoes');
    expect(store.get('shoes').model).toEqual(other);
    expect(store.get('shoes').count).toBe(2);
    expect(JSON.parse(readFileSync(join(dataDir, 'indexes', 'aliases.json'), 'utf8'))).toEqual({ shoes: dirName });
    expect(readdirSync(join(dataDir, 'indexes')).sort()).toEqual(['aliases.json', dirName]);
    store.close();

    const reopened = new IndexStore(dataDir, logger);
    expect(reopened.get('shoes')).toMatchObject({ model: other, count: 2, recovery: 'loaded' });
    reopened.delete('shoes');
    expect(readdirSync(join(dataDir, 'indexes'))).toEqual(['aliases.json']);
    expect(JSON.parse(readFileSync(join(dataDir, 'indexes', 'aliases.json'), 'utf8'))).toEqual({});
    reopened.create('shoes', small, DEFAULT_INDEX_SETTINGS);
    reopened.close();
  });

  it('keeps the old version open for reads in flight, and deletes it after the last one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'store-'));
    const store = new IndexStore(dataDir, logger);
    store.create('bags', small, DEFAULT_INDEX_SETTINGS).upsert([{ fields: { id: 'a' }, vector: unit(8, 1) }]);
    store.createBuild('bags', small, DEFAULT_INDEX_SETTINGS);
    let release!: () => void;
    const reading = store.read('bags', async (index) => {
      await new Promise<void>((resolve) => (release = resolve));
      return index.search(unit(8, 1), { limit: 1, oversampling: 1, rescore: true }).hits.map((hit) => hit.item.id);
    });
    store.promote('bags');
    expect(existsSync(join(dataDir, 'indexes', 'bags'))).toBe(true);
    release();
    expect(await reading).toEqual(['a']);
    expect(existsSync(join(dataDir, 'indexes', 'bags'))).toBe(false);
    expect(store.get('bags').count).toBe(0);
    store.close();
  });

  it('frees the name of a deleted index at once, while reads in flight still hold its files', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'store-'));
    const store = new IndexStore(dataDir, logger);
    store.create('belts', small, DEFAULT_INDEX_SETTINGS).upsert([{ fields: { id: 'a' }, vector: unit(8, 1) }]);
    let release!: () => void;
    const reading = store.read('belts', async (index) => {
      await new Promise<void>((resolve) => (release = resolve));
      return index.search(unit(8, 1), { limit: 1, oversampling: 1, rescore: true }).hits.map((hit) => hit.item.id);
    });
    store.delete('belts');
    expect(() => store.get('belts')).toThrow(/no index named/);
    // Created again (not "already exists") beside the deleted version's files, which the read still holds.
    const again = store.create('belts', small, DEFAULT_INDEX_SETTINGS);
    again.upsert([{ fields: { id: 'b' }, vector: unit(8, 2) }]);
    release();
    expect(await reading).toEqual(['a']);
    expect(existsSync(join(dataDir, 'indexes', 'belts'))).toBe(false);
    expect(store.get('belts').count).toBe(1);
    store.close();

    const reopened = new IndexStore(dataDir, logger);
    expect(reopened.get('belts')).toMatchObject({ count: 1, recovery: 'loaded' });
    reopened.close();
  });

  it('gives an interrupted rebuild its version back, and removes versions nobody adopts', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'store-'));
    const store = new IndexStore(dataDir, logger);
    store.create('hats', small, DEFAULT_INDEX_SETTINGS);
    const { dirName } = store.createBuild('hats', other, DEFAULT_INDEX_SETTINGS);
    store.buildOf('hats')!.upsert([{ fields: { id: 'z' }, vector: unit(4, 9) }]);
    store.close();
    mkdirSync(join(dataDir, 'indexes', 'hats.stale1'));

    const adopted = new IndexStore(dataDir, logger);
    expect(adopted.adoptBuild('hats', dirName)?.count).toBe(1);
    adopted.removeOrphans();
    expect(readdirSync(join(dataDir, 'indexes')).sort()).toEqual([dirName, 'hats'].sort());
    adopted.close();

    const untouched = new IndexStore(dataDir, logger);
    untouched.removeOrphans();
    expect(readdirSync(join(dataDir, 'indexes'))).toEqual(['hats']);
    expect(untouched.get('hats').model).toEqual(small);
    untouched.close();
  });

  it("gives every index it opens, creates or rebuilds the budget for copies of filters' codes", () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'store-'));
    const budget = { filterCopyBytesPerItem: 0 };
    const store = new IndexStore(dataDir, logger, budget);
    expect(store.create('bags', small, DEFAULT_INDEX_SETTINGS).tuning.copyBytesPerItem).toBe(0);
    expect(store.createBuild('bags', small, DEFAULT_INDEX_SETTINGS).index.tuning.copyBytesPerItem).toBe(0);
    store.promote('bags');
    expect(store.get('bags').tuning.copyBytesPerItem).toBe(0);
    store.close();
    const reopened = new IndexStore(dataDir, logger, { filterCopyBytesPerItem: 48 });
    expect(reopened.get('bags').tuning.copyBytesPerItem).toBe(48);
    reopened.close();
    const unset = new IndexStore(dataDir, logger);
    expect(unset.get('bags').tuning).toBe(DEFAULT_FILTERED_SEARCH_TUNING);
    unset.close();
  });

  it('holds writes back while a switch is under way', async () => {
    const store = new IndexStore(mkdtempSync(join(tmpdir(), 'store-')), logger);
    store.create('socks', small, DEFAULT_INDEX_SETTINGS);
    store.createBuild('socks', small, DEFAULT_INDEX_SETTINGS);
    await store.closeWrites('socks');
    let wrote: string | undefined;
    const writing = store.write('socks', (index) => {
      index.upsert([{ fields: { id: 'late' }, vector: unit(8, 4) }]);
      wrote = index.dir;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(wrote).toBeUndefined();
    const promoted = store.promote('socks');
    store.openWrites('socks');
    await writing;
    expect(wrote).toBe(promoted.dir);
    expect(store.get('socks').get('late')).toBeDefined();
    store.close();
  });
});
