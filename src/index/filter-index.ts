import type { ItemFilter } from './catalog.js';
import type { FilterColumns } from './native-graph.js';

/** Longer string values are not indexed; a filter naming one is answered by the catalog. */
const MAX_INDEXED_LENGTH = 256;

/**
 * A stored field value by its JSON type: `s` a string, `n` a number, `b` a boolean, `j` an array or
 * object (its JSON text); null has none. Facets list values by type, as the catalog's SQL does.
 */
function attributeKey(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return `s${value}`;
  if (typeof value === 'number') return `n${value}`;
  if (typeof value === 'boolean') return value ? 'b1' : 'b0';
  return `j${JSON.stringify(value)}`;
}

/**
 * The keys of the stored values a filter value matches, as {@link filterSql} compares them, so this
 * index answers exactly what it does: strings, numbers and booleans are distinct types (1 is not
 * true), arrays and objects extract as their JSON text, and null matches nothing.
 */
function matchingKeys(value: unknown): string[] {
  if (typeof value === 'string') return [`s${value}`, `j${value}`];
  if (typeof value === 'number') return [`n${value}`];
  if (typeof value === 'boolean') return [value ? 'b1' : 'b0'];
  return [];
}

/**
 * `(slot × 2654435761) mod 4294967291` exactly, as SQLite's 64-bit integers compute it: the product
 * (up to 2^64) is out of a double's exact range, so the multiplier is split into 16-bit halves.
 */
export function sampleKey(slot: number): number {
  const prime = 4_294_967_291;
  return (((slot * 40_503) % prime) * 65_536 + slot * 31_153) % prime;
}

/** SQLite's BINARY collation: UTF-8 byte order, which is code point order (JavaScript's `<` compares UTF-16 units). */
function compareBinary(a: string, b: string): number {
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const CATEGORY = 'category';
const ATTRIBUTE = 'attribute:';
const fieldOf = (attribute: string) => `${ATTRIBUTE}${attribute}`;

/**
 * A value whose posting list holds at least this share of its field's slots gets a bitset of them
 * when a filtered walk first asks for its column (see {@link FieldPostings.column}), kept up to date
 * by writes until the value falls under half the share: at most 16 a field, each at most half the
 * bytes of its posting list.
 */
const BITSET_SHARE = 1 / 16;

/** One field's values: a posting list of slots per value, and each slot's value and place in it. */
class FieldPostings {
  private readonly ids = new Map<string, number>();
  /** Posting lists by value id (1-based; 0 is "no value"), unordered, exact. */
  private readonly lists: { slots: Uint32Array; length: number }[] = [{ slots: new Uint32Array(0), length: 0 }];
  /** Each slot's value id, in the narrowest array that holds the field's ids (most fields have a few values: a byte a slot). */
  private valueOf: Uint8Array | Uint16Array | Uint32Array = new Uint8Array(0);
  private positionOf = new Uint32Array(0);
  /** Some value of this field was too long to index. */
  partial = false;
  /** The live slots of values too long to index, by slot, and how many each such value has: for {@link counts}. */
  private readonly longOf = new Map<number, string>();
  private readonly longCounts = new Map<string, number>();
  /** Bitsets of large values' slots, by value id (see {@link BITSET_SHARE}), as long as `valueOf` (a bit a slot). */
  private readonly bitsets = new Map<number, Uint8Array>();

  add(slot: number, key: string): void {
    if (key.length > MAX_INDEXED_LENGTH) {
      this.partial = true;
      this.longOf.set(slot, key);
      this.longCounts.set(key, (this.longCounts.get(key) ?? 0) + 1);
      return;
    }
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.lists.length;
      this.ids.set(key, id);
      this.lists.push({ slots: new Uint32Array(4), length: 0 });
      if (id === 0x100 || id === 0x10000) {
        const wider = id === 0x100 ? new Uint16Array(this.valueOf.length) : new Uint32Array(this.valueOf.length);
        wider.set(this.valueOf);
        this.valueOf = wider;
      }
    }
    if (slot >= this.valueOf.length) {
      const size = Math.max(slot + 1, Math.ceil(this.valueOf.length * 1.5), 1024);
      const values = new (this.valueOf.constructor as Uint32ArrayConstructor)(size);
      values.set(this.valueOf);
      this.valueOf = values;
      const positions = new Uint32Array(size);
      positions.set(this.positionOf);
      this.positionOf = positions;
      for (const [bitsetId, bits] of this.bitsets) {
        const grown = new Uint8Array(Math.ceil(size / 8));
        grown.set(bits);
        this.bitsets.set(bitsetId, grown);
      }
    }
    const list = this.lists[id]!;
    if (list.length === list.slots.length) {
      const grown = new Uint32Array(Math.max(4, list.slots.length * 2));
      grown.set(list.slots);
      list.slots = grown;
    }
    this.valueOf[slot] = id;
    this.positionOf[slot] = list.length;
    list.slots[list.length++] = slot;
    const bits = this.bitsets.get(id);
    if (bits) bits[slot >>> 3]! |= 1 << (slot & 7);
  }

  /** Takes a slot out of its value's list (swapping the last one into its place). */
  remove(slot: number): void {
    const id = slot < this.valueOf.length ? this.valueOf[slot]! : 0;
    if (id === 0) {
      const key = this.longOf.get(slot);
      if (key === undefined) return;
      this.longOf.delete(slot);
      const left = this.longCounts.get(key)! - 1;
      if (left === 0) this.longCounts.delete(key);
      else this.longCounts.set(key, left);
      return;
    }
    const list = this.lists[id]!;
    const position = this.positionOf[slot]!;
    const last = list.slots[--list.length]!;
    list.slots[position] = last;
    this.positionOf[last] = position;
    this.valueOf[slot] = 0;
    const bits = this.bitsets.get(id);
    if (bits) {
      if (list.length < this.valueOf.length * (BITSET_SHARE / 2)) this.bitsets.delete(id);
      else bits[slot >>> 3]! &= ~(1 << (slot & 7));
    }
  }

  /** Each value key with live items and their count. */
  *counts(): Generator<[string, number]> {
    for (const [key, id] of this.ids) if (this.lists[id]!.length > 0) yield [key, this.lists[id]!.length];
    yield* this.longCounts;
  }

  idOf(key: string): number | undefined {
    return this.ids.get(key);
  }

  sizeOf(id: number): number {
    return this.lists[id]!.length;
  }

  slotsOf(id: number): Uint32Array {
    const list = this.lists[id]!;
    return list.slots.subarray(0, list.length);
  }

  has(slot: number, ids: readonly number[]): boolean {
    const id = slot < this.valueOf.length ? this.valueOf[slot]! : 0;
    return id !== 0 && ids.includes(id);
  }

  /**
   * The condition as the native graph's filtered walk tests it: the slots' value ids and a bitset
   * of `ids`; or, for one value holding at least {@link BITSET_SHARE} of the slots, a bitset of its
   * slots and null (made on the first ask, then kept by writes). Such a value's walk tests ~400
   * slots at random, and a bit a slot stays in the CPU's caches where a byte a slot does not
   * (bench/search's 1M index, 50 % category: the walk's tests 19 % of its own time by the byte
   * column, 4 % by the bitset).
   */
  column(ids: readonly number[]): [Uint8Array | Uint16Array | Uint32Array, Uint8Array | null] {
    if (ids.length === 1 && this.lists[ids[0]!]!.length >= this.valueOf.length * BITSET_SHARE) return [this.bitsetOf(ids[0]!), null];
    let highest = 0;
    for (const id of ids) highest = Math.max(highest, id);
    const accept = new Uint8Array((highest >>> 3) + 1);
    for (const id of ids) accept[id >>> 3]! |= 1 << (id & 7);
    return [this.valueOf, accept];
  }

  /** The bitset of a value's slots, made from its posting list where it has none. */
  private bitsetOf(id: number): Uint8Array {
    let bits = this.bitsets.get(id);
    if (!bits) {
      bits = new Uint8Array(Math.ceil(this.valueOf.length / 8));
      for (const slot of this.slotsOf(id)) bits[slot >>> 3]! |= 1 << (slot & 7);
      this.bitsets.set(id, bits);
    }
    return bits;
  }

  get bytes(): number {
    let bitsets = 0;
    for (const bits of this.bitsets.values()) bitsets += bits.byteLength;
    return this.valueOf.byteLength + this.positionOf.byteLength + this.lists.reduce((sum, list) => sum + list.slots.byteLength, 0) + bitsets;
  }
}

/** A filter resolved against the index: its size (exact for one condition, else estimated), its slots, a membership test. */
export interface FilterPlan {
  /** Matching items: exact when the filter has one condition, an estimate (independent conditions) otherwise. */
  readonly estimate: number;
  /** The matching live slots (unordered). */
  slots(): Uint32Array;
  /** Writes the matching live slots to `out` (room for {@link estimate} of a one-condition filter, else for every live slot); returns how many. */
  writeSlots(out: Uint32Array): number;
  /** Whether a live slot matches. */
  matches(slot: number): boolean;
  /** The filter as the native graph's filtered walk tests it (each condition's value ids by slot and the ids it accepts, or a bitset of its slots and null). */
  columns(): FilterColumns;
}

/**
 * In-memory posting lists of the live items' category and attribute values, kept in step with the
 * catalog, so a filtered search finds its items without a SQLite query (which, for 25k of 100k
 * items, took longer than the search itself). A few bytes per item and field: a posting entry,
 * the slot's value id and its position in the list (for O(1) removal).
 */
export class FilterIndex {
  private readonly fields = new Map<string, FieldPostings>();
  private live = 0;
  /** One bit a slot: the live item there has a kept image (for {@link categoryImageSlots}). */
  private images = new Uint8Array(0);

  /** Indexes a live item's fields (as the catalog stores them: attributes after a JSON round trip), and whether it has a kept image. */
  add(slot: number, category: string | null | undefined, attributes: Record<string, unknown> | undefined, image = false): void {
    this.live += 1;
    if (image) {
      if (slot >> 3 >= this.images.length) {
        const grown = new Uint8Array(Math.max((slot >> 3) + 1, Math.ceil(this.images.length * 1.5), 128));
        grown.set(this.images);
        this.images = grown;
      }
      this.images[slot >> 3]! |= 1 << (slot & 7);
    }
    if (category !== null && category !== undefined) this.field(CATEGORY).add(slot, category);
    for (const [name, value] of Object.entries(attributes ?? {})) {
      const key = attributeKey(value);
      if (key !== undefined) this.field(fieldOf(name)).add(slot, key);
    }
  }

  remove(slot: number): void {
    this.live -= 1;
    if (slot >> 3 < this.images.length) this.images[slot >> 3]! &= ~(1 << (slot & 7));
    for (const field of this.fields.values()) field.remove(slot);
  }

  private hasImage(slot: number): boolean {
    return slot >> 3 < this.images.length && (this.images[slot >> 3]! & (1 << (slot & 7))) !== 0;
  }

  /**
   * The live slots of a category's items that have a kept image, the first `limit` in the catalog's
   * pseudo-random order ({@link Catalog.categoryImages}: `(slot × 2654435761) mod 4294967291`, so a
   * sample spreads over the category rather than taking its first items); undefined when the
   * category is not indexed (a name longer than this index keeps) and the catalog must answer.
   */
  categoryImageSlots(category: string, limit: number): number[] | undefined {
    const plan = this.plan({ category: [category] });
    if (!plan) return undefined;
    // The `limit` smallest keys in one pass (a sorted list of at most `limit`: samples are a few dozen).
    const keys: number[] = [];
    const slots: number[] = [];
    for (const slot of plan.slots()) {
      if (!this.hasImage(slot)) continue;
      const key = sampleKey(slot);
      if (keys.length === limit && key >= keys[limit - 1]!) continue;
      let at = keys.length === limit ? limit - 1 : keys.length;
      while (at > 0 && keys[at - 1]! > key) {
        keys[at] = keys[at - 1]!;
        slots[at] = slots[at - 1]!;
        at--;
      }
      keys[at] = key;
      slots[at] = slot;
    }
    return slots;
  }

  private field(name: string): FieldPostings {
    let field = this.fields.get(name);
    if (!field) this.fields.set(name, (field = new FieldPostings()));
    return field;
  }

  /** Each category of the live items with its item count, largest first, then by name: what the catalog's SQL gives, without reading every row. */
  categoryCounts(): { category: string; count: number }[] {
    const field = this.fields.get(CATEGORY);
    const counts = field ? [...field.counts()].map(([category, count]) => ({ category, count })) : [];
    return counts.sort((a, b) => b.count - a.count || compareBinary(a.category, b.category));
  }

  /**
   * Each scalar attribute value of the live items with its item count, by attribute name, then
   * count (largest first), then value (numbers and booleans, as 1 and 0, before strings) and type:
   * what the catalog's SQL gives, without reading every row. Arrays and objects are left out.
   */
  attributeCounts(): { name: string; value: string | number | boolean; count: number }[] {
    const rows: { name: string; value: string | number | boolean; count: number; type: string }[] = [];
    for (const [field, postings] of this.fields) {
      if (!field.startsWith(ATTRIBUTE)) continue;
      const name = field.slice(ATTRIBUTE.length);
      for (const [key, count] of postings.counts()) {
        const text = key.slice(1);
        if (key[0] === 's') rows.push({ name, value: text, count, type: 'text' });
        else if (key[0] === 'b') rows.push({ name, value: text === '1', count, type: text === '1' ? 'true' : 'false' });
        else if (key[0] === 'n') {
          const value = Number(text);
          // As SQLite's JSON types them: integers, and reals (a fraction or an exponent in the JSON text).
          rows.push({ name, value, count, type: /[.eE]/.test(JSON.stringify(value)) ? 'real' : 'integer' });
        }
      }
    }
    const numeric = (value: string | number | boolean) => (typeof value === 'boolean' ? Number(value) : value);
    const compareValues = (a: string | number | boolean, b: string | number | boolean) => {
      const x = numeric(a);
      const y = numeric(b);
      if (typeof x === 'number' && typeof y === 'number') return x - y;
      if (typeof x === 'number') return -1;
      if (typeof y === 'number') return 1;
      return compareBinary(x, y);
    };
    rows.sort((a, b) => compareBinary(a.name, b.name) || b.count - a.count || compareValues(a.value, b.value) || compareBinary(a.type, b.type));
    return rows.map(({ name, value, count }) => ({ name, value, count }));
  }

  /** Memory the posting lists take. */
  get bytes(): number {
    let sum = 0;
    for (const field of this.fields.values()) sum += field.bytes;
    return sum;
  }

  /**
   * Resolves a filter; undefined when this index cannot answer it exactly (a value longer than it
   * indexes, on a field that holds such values): the catalog answers then.
   */
  plan(filter: ItemFilter): FilterPlan | undefined {
    const conditions: { field: FieldPostings; ids: number[]; size: number }[] = [];
    const none: FilterPlan = { estimate: 0, slots: () => new Uint32Array(0), writeSlots: () => 0, matches: () => false, columns: () => [new Uint8Array(0), new Uint8Array(0)] };
    const resolve = (name: string, keys: (string | undefined)[]): boolean | undefined => {
      const field = this.fields.get(name);
      if (!field) return false;
      if (field.partial && keys.some((key) => key !== undefined && key.length > MAX_INDEXED_LENGTH)) return undefined;
      const ids = new Set<number>();
      for (const key of keys) {
        const id = key === undefined ? undefined : field.idOf(key);
        if (id !== undefined) ids.add(id);
      }
      const size = [...ids].reduce((sum, id) => sum + field.sizeOf(id), 0);
      if (size === 0) return false;
      conditions.push({ field, ids: [...ids], size });
      return true;
    };
    if (filter.category !== undefined) {
      const found = resolve(CATEGORY, filter.category.map((category) => category));
      if (found !== true) return found === false ? none : undefined;
    }
    for (const [name, expected] of Object.entries(filter.attributes ?? {})) {
      const values = (Array.isArray(expected) ? expected : [expected]) as unknown[];
      const found = resolve(fieldOf(name), values.flatMap(matchingKeys));
      if (found !== true) return found === false ? none : undefined;
    }
    if (conditions.length === 0) return undefined;
    conditions.sort((a, b) => a.size - b.size);
    const [smallest, ...others] = conditions as [(typeof conditions)[number], ...typeof conditions];
    const estimate = others.reduce((product, condition) => product * (condition.size / Math.max(this.live, 1)), smallest.size);
    const writeSlots = (out: Uint32Array): number => {
      let n = 0;
      for (const id of smallest.ids) {
        const slots = smallest.field.slotsOf(id);
        if (others.length === 0) {
          out.set(slots, n);
          n += slots.length;
        } else for (const slot of slots) if (others.every((condition) => condition.field.has(slot, condition.ids))) out[n++] = slot;
      }
      return n;
    };
    return {
      estimate: Math.round(estimate),
      slots: () => {
        const out = new Uint32Array(smallest.size);
        return out.subarray(0, writeSlots(out));
      },
      writeSlots,
      matches: (slot) => conditions.every((condition) => condition.field.has(slot, condition.ids)),
      columns: () => conditions.flatMap((condition) => condition.field.column(condition.ids)),
    };
  }
}
