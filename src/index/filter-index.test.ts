import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog, type ItemFilter } from './catalog.js';
import { FilterIndex } from './filter-index.js';
import { rng } from '../util/random.js';

const model = { id: 'm', version: '1' };
const pick = <T>(random: () => number, values: readonly T[]) => values[Math.floor(random() * values.length)]!;

describe('FilterIndex', () => {
  it('answers every filter, and counts every value, exactly as the catalog’s SQL does, across writes and deletes', () => {
    const random = rng(11);
    const catalog = new Catalog(join(mkdtempSync(join(tmpdir(), 'filters-')), 'catalog.sqlite'));
    const filters = new FilterIndex();
    // Values whose SQL comparison has corners: numbers vs numeric strings, booleans as 1/0, arrays, null.
    const values = ['red', 'blue', '1', 1, 0, 2.5, 1e21, true, false, null, ['a', 'b'], { a: 1 }, 'x'.repeat(300), 'Z', 'é', '\u{1f600}', '\uffe0'];
    // Names that JavaScript's < and SQLite's BINARY order differently (U+FFE0 against an astral code point), and one too long to index.
    const categories = ['shoes', 'bags', 'hats', '\u{1f45f}', '\uff5e', 'c'.repeat(300), null];
    let slot = 0;
    const live = new Map<string, number>();
    for (let round = 0; round < 40; round++) {
      const entries = Array.from({ length: 20 }, () => {
        const attributes: Record<string, unknown> = {};
        if (random() < 0.8) attributes.colour = pick(random, values);
        if (random() < 0.5) attributes.size = pick(random, [1, 2, 3, '2']);
        return { fields: { id: `item-${Math.floor(random() * 300)}`, category: pick(random, categories), attributes }, slot: slot++ };
      });
      // One id at most once per batch here; the catalog retires the previous version of each.
      const unique = [...new Map(entries.map((entry) => [entry.fields.id, entry])).values()];
      const { replacedSlots } = catalog.upsert(unique, model);
      for (const { fields, slot: written } of unique) {
        filters.add(written, fields.category, JSON.parse(JSON.stringify(fields.attributes)) as Record<string, unknown>);
        live.set(fields.id, written);
      }
      for (const retired of replacedSlots) filters.remove(retired);
      const doomed = [...live.keys()].filter(() => random() < 0.05);
      for (const retired of catalog.delete(doomed).values()) filters.remove(retired);
      for (const id of doomed) live.delete(id);
    }
    const filtersToTry: ItemFilter[] = [
      { category: ['shoes'] },
      { category: ['shoes', 'hats'] },
      { category: [] },
      { category: ['nothing'] },
      { attributes: { colour: 'red' } },
      { attributes: { colour: 1 } },
      { attributes: { colour: '1' } },
      { attributes: { colour: true } },
      { attributes: { colour: [false, 'blue'] } },
      { attributes: { colour: 2.5, size: [1, 2] } },
      { attributes: { size: '2' } },
      { attributes: { colour: '["a","b"]' } },
      { attributes: { colour: [0, 1e21] } },
      { attributes: { missing: 'x' } },
      { category: ['bags'], attributes: { colour: ['red', 'blue'], size: 3 } },
    ];
    for (const filter of filtersToTry) {
      const plan = filters.plan(filter)!;
      const expected = catalog.filteredSlots(filter).sort((a, b) => a - b);
      expect([...plan.slots()].sort((a, b) => a - b), JSON.stringify(filter)).toEqual(expected);
      for (const candidate of expected) expect(plan.matches(candidate)).toBe(true);
      // As the native graph's filtered walk reads it: each condition's value id by slot, in its accepted ids' bitset (past either's end: no).
      const columns = plan.columns();
      const passes = (at: number) => {
        for (let c = 0; c < columns.length; c += 2) {
          const id = at < columns[c]!.length ? columns[c]![at]! : 0;
          if (id === 0 || id >>> 3 >= columns[c + 1]!.length || !(columns[c + 1]![id >>> 3]! & (1 << (id & 7)))) return false;
        }
        return true;
      };
      expect(Array.from({ length: slot + 5 }, (_, at) => at).filter(passes), JSON.stringify(filter)).toEqual(expected);
      if (Object.keys(filter.attributes ?? {}).length + (filter.category ? 1 : 0) === 1) expect(plan.estimate).toBe(expected.length);
    }
    expect(filters.categoryCounts()).toEqual(catalog.categoryCounts());
    expect(filters.attributeCounts()).toEqual(catalog.attributeCounts());
    expect(filters.attributeCounts().some(({ value }) => value === true)).toBe(true);
    // A value longer than what is indexed, on a field that holds such values: the catalog answers.
    expect(filters.plan({ attributes: { colour: 'x'.repeat(300) } })).toBeUndefined();
    expect(filters.plan({ attributes: { colour: 'x'.repeat(10) } })!.slots()).toHaveLength(0);
    catalog.close();
  });

  it('keeps every posting exact as a field outgrows a byte and two bytes of value ids', () => {
    const random = rng(5);
    const filters = new FilterIndex();
    const model = new Map<number, string>();
    const check = () => {
      const bySku = new Map<string, number[]>();
      for (const [slot, sku] of model) bySku.set(sku, [...(bySku.get(sku) ?? []), slot]);
      for (const sku of ['sku-0', 'sku-255', 'sku-256', 'sku-300', 'sku-65535', 'sku-65536', 'sku-70000', 'sku-none']) {
        const plan = filters.plan({ attributes: { sku } })!;
        expect([...plan.slots()].sort((a, b) => a - b), sku).toEqual(bySku.get(sku) ?? []);
        for (const slot of bySku.get(sku) ?? []) expect(plan.matches(slot)).toBe(true);
      }
      const counts = new Map(filters.attributeCounts().map(({ value, count }) => [value, count]));
      for (const [sku, slots] of bySku) expect(counts.get(sku)).toBe(slots.length);
    };
    let slot = 0;
    const add = (sku: string) => {
      filters.add(slot, undefined, { sku });
      model.set(slot++, sku);
    };
    // 70,001 values: the ids pass 255 and 65,535, with slots of early values written before and after.
    for (let value = 0; value <= 70_000; value++) add(`sku-${value}`);
    for (let i = 0; i < 2000; i++) add(`sku-${Math.floor(random() * 300)}`);
    check();
    // Removals, and writes to lists emptied by them and to new slots.
    for (const victim of [0, 255, 256, 65_536, 70_000, 70_001]) {
      filters.remove(victim);
      model.delete(victim);
    }
    for (const sku of ['sku-0', 'sku-256', 'sku-65536', 'sku-70000', 'sku-255']) add(sku);
    check();
  });
});
