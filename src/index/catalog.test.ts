import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Catalog } from './catalog.js';

const model = { id: 'm', version: '1' };

describe('Catalog slot release', () => {
  it('releases exactly the retired slots up to a sequence number, looked up by their own index rather than a walk over every row', () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    try {
      const path = join(dir, 'catalog.sqlite');
      const catalog = new Catalog(path);
      catalog.upsert(Array.from({ length: 50 }, (_, i) => ({ fields: { id: `item-${i}` }, slot: i })), model);
      // Replacing item-3 retires slot 3; deleting item-7 retires slot 7.
      catalog.upsert([{ fields: { id: 'item-3' }, slot: 50 }], model);
      catalog.delete(['item-7']);
      const seq = catalog.seq;
      catalog.delete(['item-9']);
      expect(catalog.releaseSlots(seq).sort((a, b) => a - b)).toEqual([3, 7]);
      // Released once only; the later deletion waits for a later save.
      expect(catalog.releaseSlots(seq)).toEqual([]);
      expect(catalog.releaseSlots(catalog.seq)).toEqual([9]);
      catalog.close();
      // The query the release runs after every graph save uses the partial index of retired rows.
      const db = new Database(path, { readonly: true });
      const plan = db.prepare('EXPLAIN QUERY PLAN SELECT slot FROM items WHERE deleted = 1 AND slot >= 0 AND seq <= ?').all(seq) as { detail: string }[];
      db.close();
      expect(plan.map((step) => step.detail).join('\n')).toContain('items_retired');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
