import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog, type ItemFilter } from './catalog.js';
import { FilterIndex } from './filter-index.js';
import type { FilterColumns } from './native-graph.js';
import { rng } from '../util/random.js';

const model = { id: 'm', version: '1' };
const pick = <T>(random: () => number, values: readonly T[]) => values[Math.floor(random() * values.length)]!;

/** Whether `slot` meets every condition of `columns` as the native graph's filtered walk tests them. */
function passesColumns(columns: FilterColumns, slot: number): boolean {
  for (let c = 0; c < columns.length; c += 2) {
    const values = columns[c]!;
    const accept = columns[c + 1];
    if (accept === null) {
      if (slot >>> 3 >= values.length || !(values[slot >>> 3]! & (1 << (slot & 7)))) return false;
      continue;
    }
    const id = slot < values.length ? values[slot]! : 0;
    if (id === 0 || id >>> 3 >= accept!.length || !(accept![id >>> 3]! & (1 << (id & 7)))) return false;
  }
  return true;
}

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
      // As the native graph's filtered walk reads it: each condition's value id by slot, in its accepted ids' bitset, or the slot's
      // bit in a bitset of slots (past any's end: no).
      const columns = plan.columns();
      const passes = (at: number) => passesColumns(columns, at);
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

  it('gives a large value a bitset of its slots when a walk asks for its column, keeps it exact through writes and growth, and drops it as the value shrinks', () => {
    const random = rng(17);
    const filters = new FilterIndex();
    const model = new Map<number, string>();
    let slot = 0;
    const add = (category: string) => {
      filters.add(slot, category, { tier: category });
      model.set(slot++, category);
    };
    const remove = (at: number) => {
      filters.remove(at);
      model.delete(at);
    };
    const draw = () => {
      const u = random();
      return u < 0.5 ? 'big' : u < 0.6 ? 'mid' : u < 0.61 ? 'small' : 'rest';
    };
    for (let i = 0; i < 4000; i++) add(draw());
    const check = (filter: ItemFilter, matching: (category: string) => boolean, bitset: boolean) => {
      const columns = filters.plan(filter)!.columns();
      expect(columns[1] === null, JSON.stringify(filter)).toBe(bitset);
      for (let at = 0; at < slot + 100; at++) expect(passesColumns(columns, at), `${JSON.stringify(filter)} at ${at}`).toBe(model.has(at) && matching(model.get(at)!));
    };
    const before = filters.bytes;
    // Half and a tenth of the slots: bitsets (as a category and as an attribute); a hundredth, and two values together: the column.
    check({ category: ['big'] }, (category) => category === 'big', true);
    check({ attributes: { tier: 'mid' } }, (category) => category === 'mid', true);
    check({ category: ['small'] }, (category) => category === 'small', false);
    check({ category: ['big', 'mid'] }, (category) => category === 'big' || category === 'mid', false);
    check({ category: ['big'], attributes: { tier: 'big' } }, (category) => category === 'big', true);
    // The two bitsets (500 bytes each for ~4,000 slots of room) count in the index's bytes.
    expect(filters.bytes - before).toBeGreaterThanOrEqual(2 * Math.ceil(4000 / 8));
    // Writes after they were made: removals, slots reused with other values, and new slots past the columns' room.
    for (let i = 0; i < 600; i++) remove(Math.floor(random() * slot));
    for (const [at, category] of [...model].filter(() => random() < 0.1)) {
      remove(at);
      filters.add(at, category === 'big' ? 'mid' : 'big', { tier: category === 'big' ? 'mid' : 'big' });
      model.set(at, category === 'big' ? 'mid' : 'big');
    }
    for (let i = 0; i < 6000; i++) add(draw());
    check({ category: ['big'] }, (category) => category === 'big', true);
    check({ attributes: { tier: 'mid' } }, (category) => category === 'mid', true);
    // The large value shrinks under half the share that made its bitset: dropped (its bytes given back), the column again, as exact.
    const held = filters.bytes;
    for (const [at, category] of [...model]) if (category === 'big' && random() < 0.95) remove(at);
    expect(held - filters.bytes).toBeGreaterThanOrEqual(Math.floor(slot / 8));
    check({ category: ['big'] }, (category) => category === 'big', false);
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
