import { closeSync, existsSync, fsync, fsyncSync, openSync } from 'node:fs';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { ValidationError } from '../errors.js';

/** What a caller stores with an item. */
export interface ItemFields {
  readonly id: string;
  readonly category?: string | null | undefined;
  readonly attributes?: Record<string, unknown> | undefined;
  readonly sourceUrl?: string | null | undefined;
  readonly text?: string | null | undefined;
  readonly metadata?: Record<string, unknown> | undefined;
  /** What the vector was made from, so the item can be embedded again with another model. */
  readonly sourceKind?: SourceKind | null | undefined;
  /** The kept image (a blob hash), when the item was embedded from one and sources are kept. */
  readonly sourceBlob?: string | null | undefined;
  /** Keeps an item's creation time when it is written anew (a re-embedding). */
  readonly createdAt?: string | undefined;
}

/** What an item's vector was made from. */
export type SourceKind = 'image' | 'text' | 'vector';

export interface CatalogItem {
  readonly id: string;
  readonly slot: number;
  readonly category: string | null;
  readonly attributes: Record<string, unknown>;
  readonly sourceUrl: string | null;
  readonly text: string | null;
  readonly metadata: Record<string, unknown>;
  readonly modelId: string;
  readonly modelVersion: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Null for rows written before sources were recorded. */
  readonly sourceKind: SourceKind | null;
  readonly sourceBlob: string | null;
  /** The change sequence number of this version of the item. */
  readonly seq: number;
}

/** Filters on catalog fields, applied inside search. */
export interface ItemFilter {
  /** Category equals one of these. */
  readonly category?: readonly string[] | undefined;
  /** Each attribute equals the value, or one of the values when an array is given, of the same JSON type (1 is not true). */
  readonly attributes?: Readonly<Record<string, string | number | boolean | readonly (string | number | boolean)[]>> | undefined;
}

interface ItemRow {
  id: string;
  slot: number;
  category: string | null;
  attributes: string;
  source_url: string | null;
  text: string | null;
  metadata: string;
  model_id: string;
  model_version: string;
  created_at: string;
  updated_at: string;
  source_kind: SourceKind | null;
  source_blob: string | null;
  seq: number;
}

function toItem(row: ItemRow): CatalogItem {
  return {
    id: row.id,
    slot: row.slot,
    category: row.category,
    attributes: JSON.parse(row.attributes) as Record<string, unknown>,
    sourceUrl: row.source_url,
    text: row.text,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    modelId: row.model_id,
    modelVersion: row.model_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    sourceKind: row.source_kind,
    sourceBlob: row.source_blob,
    seq: row.seq,
  };
}

/** What an attribute name may be: it goes into a JSON path of SQL (values are bound). */
export const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Whether `name` may name an attribute: {@link ATTRIBUTE_NAME}, and not `__proto__` or
 * `constructor`, which a JavaScript object takes for its own machinery (`__proto__` was dropped
 * from an item's attributes without a word, and a filter on it matched every item).
 */
export function isAttributeName(name: string): boolean {
  return ATTRIBUTE_NAME.test(name) && name !== '__proto__' && name !== 'constructor';
}

/**
 * The source of truth for one index, in SQLite: every item's caller id, metadata and vector
 * slot, plus a sequence number per change so the HNSW graph saved to disk can be brought up to
 * date by replaying what changed after it was saved. Upserts and deletes keep the old row as
 * a tombstone (`deleted = 1`) carrying the change's sequence number.
 */
export class Catalog {
  private readonly db: Database.Database;
  private walFd: number | undefined;
  private readonly slotLookups = new Map<number, Database.Statement>();

  constructor(private readonly path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // Commits do not fsync the write-ahead log themselves: {@link sync} or {@link syncAsync} does,
    // after each write, so the fsync can run off the event loop (what FULL would do, in WAL mode).
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS items (
        slot INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        category TEXT,
        attributes TEXT NOT NULL DEFAULT '{}',
        source_url TEXT,
        text TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        model_id TEXT NOT NULL,
        model_version TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        seq INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX IF NOT EXISTS items_live_id ON items(id) WHERE deleted = 0;
      CREATE INDEX IF NOT EXISTS items_live_category ON items(category) WHERE deleted = 0;
      CREATE INDEX IF NOT EXISTS items_seq ON items(seq);
      -- Retired rows whose slot is not yet released: what releaseSlots looks for after every save
      -- (through items_seq it walked every row up to the saved seq, 55 ms a save at 1M items).
      CREATE INDEX IF NOT EXISTS items_retired ON items(seq) WHERE deleted = 1 AND slot >= 0;
    `);
    // Catalogs written before sources were recorded gain the columns (NULL: unknown source).
    const columns = new Set((this.db.prepare('PRAGMA table_info(items)').all() as { name: string }[]).map((column) => column.name));
    if (!columns.has('source_kind')) this.db.exec('ALTER TABLE items ADD COLUMN source_kind TEXT');
    if (!columns.has('source_blob')) this.db.exec('ALTER TABLE items ADD COLUMN source_blob TEXT');
  }

  /** The write-ahead log's descriptor (it exists once something was written). */
  private wal(): number | undefined {
    if (this.walFd === undefined && existsSync(`${this.path}-wal`)) this.walFd = openSync(`${this.path}-wal`, 'r');
    return this.walFd;
  }

  /** Makes every commit so far durable: fsyncs the write-ahead log. */
  sync(): void {
    const fd = this.wal();
    if (fd !== undefined) fsyncSync(fd);
  }

  /** {@link sync} on libuv's thread pool, leaving the event loop free. */
  async syncAsync(): Promise<void> {
    const fd = this.wal();
    if (fd !== undefined) await fsyncAsync(fd);
  }

  /**
   * The changes after `seq` and the highest sequence number, read in one snapshot (a checkpoint
   * taken on another connection sees exactly what it replays); with `live`, also every live slot.
   */
  snapshot(seq: number, live: boolean): { seq: number; changes: { slot: number; deleted: boolean }[]; live: number[] } {
    return this.db.transaction(() => ({ seq: this.seq, changes: this.changesSince(seq), live: live ? this.liveSlots() : [] }))();
  }

  /** Copies the write-ahead log into the database file (what SQLite does every 1,000 pages; here, off the request path). */
  checkpointWal(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  getMeta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  deleteMeta(key: string): void {
    this.db.prepare('DELETE FROM meta WHERE key = ?').run(key);
  }

  /** The highest change sequence number. */
  get seq(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM items').get() as { seq: number }).seq;
  }

  /** The slot after the highest one a row holds (released tombstones hold negative ones). */
  get nextSlot(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(slot), -1) + 1 AS slot FROM items WHERE slot >= 0').get() as { slot: number }).slot;
  }

  /** Every slot a row holds (live items and tombstones not yet released). */
  heldSlots(): number[] {
    return this.db.prepare('SELECT slot FROM items WHERE slot >= 0').pluck().all() as number[];
  }

  /**
   * Releases the slots of tombstones written at or before `seq` (a saved graph reflects them), so
   * their vector slots can be reused: each such row keeps its id, sequence number and deletion
   * (the change log) under the negative slot `-seq`. Returns the slots released.
   */
  releaseSlots(seq: number): number[] {
    return this.db.transaction(() => {
      const slots = this.db.prepare('SELECT slot FROM items WHERE deleted = 1 AND slot >= 0 AND seq <= ?').pluck().all(seq) as number[];
      if (slots.length > 0) this.db.prepare('UPDATE items SET slot = -seq WHERE deleted = 1 AND slot >= 0 AND seq <= ?').run(seq);
      return slots;
    })();
  }

  /** Whether any live item has a category (filters by category only make sense then). */
  get hasCategories(): boolean {
    return this.db.prepare('SELECT 1 FROM items WHERE deleted = 0 AND category IS NOT NULL LIMIT 1').get() !== undefined;
  }

  get count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM items WHERE deleted = 0').get() as { n: number }).n;
  }

  get(id: string): CatalogItem | undefined {
    const row = this.db.prepare('SELECT * FROM items WHERE id = ? AND deleted = 0').get(id) as ItemRow | undefined;
    return row && toItem(row);
  }

  bySlots(slots: readonly number[]): Map<number, CatalogItem> {
    const found = new Map<number, CatalogItem>();
    // SQLite allows 32,766 bound parameters per statement.
    for (let start = 0; start < slots.length; start += 10_000) {
      const chunk = slots.slice(start, start + 10_000);
      const rows = this.bySlotsStatement(chunk.length).all(...chunk) as ItemRow[];
      for (const row of rows) found.set(row.slot, toItem(row));
    }
    return found;
  }

  /** The prepared lookup of `count` slots: searches ask for the same few sizes, and preparing costs more than the lookup. */
  private bySlotsStatement(count: number): Database.Statement {
    let statement = this.slotLookups.get(count);
    if (!statement) {
      statement = this.db.prepare(`SELECT * FROM items WHERE deleted = 0 AND slot IN (${Array.from({ length: count }, () => '?').join(',')})`);
      if (count <= 256) this.slotLookups.set(count, statement);
    }
    return statement;
  }

  /**
   * Writes items that already have their vectors in `slots` (synced to disk), in one transaction.
   * An existing live item with the same id becomes a tombstone; its old slot is returned.
   */
  upsert(
    entries: readonly { fields: ItemFields; slot: number }[],
    model: { id: string; version: string },
    now = new Date().toISOString(),
  ): { replacedSlots: number[] } {
    const replacedSlots: number[] = [];
    const find = this.db.prepare('SELECT slot, created_at FROM items WHERE id = ? AND deleted = 0');
    const retire = this.db.prepare('UPDATE items SET deleted = 1, seq = ? WHERE slot = ?');
    const insert = this.db.prepare(`INSERT INTO items
      (slot, id, category, attributes, source_url, text, metadata, model_id, model_version, created_at, updated_at, seq, source_kind, source_blob)
      VALUES (@slot, @id, @category, @attributes, @source_url, @text, @metadata, @model_id, @model_version, @created_at, @updated_at, @seq, @source_kind, @source_blob)`);
    this.db.transaction(() => {
      let seq = this.seq;
      for (const { fields, slot } of entries) {
        const existing = find.get(fields.id) as { slot: number; created_at: string } | undefined;
        if (existing) {
          retire.run(++seq, existing.slot);
          replacedSlots.push(existing.slot);
        }
        insert.run({
          slot,
          id: fields.id,
          category: fields.category ?? null,
          attributes: JSON.stringify(fields.attributes ?? {}),
          source_url: fields.sourceUrl ?? null,
          text: fields.text ?? null,
          metadata: JSON.stringify(fields.metadata ?? {}),
          model_id: model.id,
          model_version: model.version,
          created_at: fields.createdAt ?? existing?.created_at ?? now,
          updated_at: now,
          seq: ++seq,
          source_kind: fields.sourceKind ?? null,
          source_blob: fields.sourceBlob ?? null,
        });
      }
    })();
    return { replacedSlots };
  }

  /** Tombstones the live items with these ids; returns the slots removed, by id. */
  delete(ids: readonly string[]): Map<string, number> {
    const removed = new Map<string, number>();
    const find = this.db.prepare('SELECT slot FROM items WHERE id = ? AND deleted = 0');
    const retire = this.db.prepare('UPDATE items SET deleted = 1, seq = ? WHERE slot = ?');
    this.db.transaction(() => {
      let seq = this.seq;
      for (const id of ids) {
        const row = find.get(id) as { slot: number } | undefined;
        if (!row) continue;
        retire.run(++seq, row.slot);
        removed.set(id, row.slot);
      }
    })();
    return removed;
  }

  /**
   * Moves live items to other (free) slots, as an upsert of the same item would: the row at `from`
   * becomes a tombstone and a copy of it (same fields and times) is written at `to`, each with a new
   * sequence number, so a saved graph replays the move. A row that is no longer live at `from`, or
   * was written after `seq` (a concurrent write took the slot), is left alone. Returns the moves made,
   * with the moved items' filter fields.
   */
  moveRows(moves: readonly { from: number; to: number }[], seq: number): { from: number; to: number; category: string | null; attributes: Record<string, unknown>; image: boolean }[] {
    const find = this.db.prepare('SELECT category, attributes, source_blob IS NOT NULL AS image FROM items WHERE slot = ? AND deleted = 0 AND seq <= ?');
    const retire = this.db.prepare('UPDATE items SET deleted = 1, seq = ? WHERE slot = ?');
    const copy = this.db.prepare(`INSERT INTO items
      (slot, id, category, attributes, source_url, text, metadata, model_id, model_version, created_at, updated_at, seq, source_kind, source_blob)
      SELECT ?, id, category, attributes, source_url, text, metadata, model_id, model_version, created_at, updated_at, ?, source_kind, source_blob FROM items WHERE slot = ?`);
    // The tombstone first: one live row per id.
    return this.db.transaction(() => {
      let next = this.seq;
      const moved: { from: number; to: number; category: string | null; attributes: Record<string, unknown>; image: boolean }[] = [];
      for (const { from, to } of moves) {
        const row = find.get(from, seq) as { category: string | null; attributes: string; image: number } | undefined;
        if (!row) continue;
        retire.run(next + 1, from);
        copy.run(to, next + 2, from);
        next += 2;
        moved.push({ from, to, category: row.category, attributes: JSON.parse(row.attributes) as Record<string, unknown>, image: row.image === 1 });
      }
      return moved;
    })();
  }

  /** Rows changed after `seq`: what a graph saved at `seq` must still apply. */
  changesSince(seq: number): { slot: number; deleted: boolean }[] {
    return (this.db.prepare('SELECT slot, deleted FROM items WHERE seq > ? ORDER BY seq').all(seq) as { slot: number; deleted: number }[]).map(
      (row) => ({ slot: row.slot, deleted: row.deleted === 1 }),
    );
  }

  /** Each category of the live items with its item count, largest first (the index answers from its posting lists, `FilterIndex.categoryCounts`; this is their reference). */
  categoryCounts(): { category: string; count: number }[] {
    return this.db.prepare('SELECT category, COUNT(*) AS count FROM items WHERE deleted = 0 AND category IS NOT NULL GROUP BY category ORDER BY count DESC, category').all() as { category: string; count: number }[];
  }

  /**
   * Each attribute value of the live items with its item count, by attribute name then count
   * (largest first). Values are scalars as stored in the JSON; arrays and objects are left out,
   * since a filter matches scalars only. The reference of `FilterIndex.attributeCounts`, which
   * the index answers from.
   */
  attributeCounts(): { name: string; value: string | number | boolean; count: number }[] {
    const rows = this.db
      .prepare(
        `SELECT attribute.key AS name, attribute.value AS value, attribute.type AS type, COUNT(*) AS count
         FROM items, json_each(items.attributes) AS attribute
         WHERE items.deleted = 0 AND attribute.type IN ('text', 'integer', 'real', 'true', 'false')
         GROUP BY attribute.key, attribute.type, attribute.value ORDER BY name, count DESC, value, type`,
      )
      .all() as { name: string; value: string | number; type: string; count: number }[];
    // SQLite's json_each gives booleans as 1 and 0; their type says which they were.
    return rows.map((row) => ({ name: row.name, value: row.type === 'true' ? true : row.type === 'false' ? false : row.value, count: row.count }));
  }

  /**
   * Up to `limit` live items of a category that have a kept image, spread over it (a fixed
   * pseudo-random order of their slots, not the first ones written): their kept images' hashes.
   */
  categoryImages(category: string, limit: number): { slot: number; blob: string }[] {
    return (
      this.db
        .prepare('SELECT slot, source_blob FROM items WHERE deleted = 0 AND category = ? AND source_blob IS NOT NULL ORDER BY (slot * 2654435761) % 4294967291 LIMIT ?')
        .all(category, limit) as { slot: number; source_blob: string }[]
    ).map((row) => ({ slot: row.slot, blob: row.source_blob }));
  }

  /** Ids of the items written or deleted after `seq` (each once). */
  changedIdsSince(seq: number): string[] {
    return this.db.prepare('SELECT DISTINCT id FROM items WHERE seq > ?').pluck().all(seq) as string[];
  }

  /** A page of live items in slot order, after slot `afterSlot` (-1 for the first page). */
  liveBySlot(afterSlot: number, limit: number): CatalogItem[] {
    return (this.db.prepare('SELECT * FROM items WHERE deleted = 0 AND slot > ? ORDER BY slot LIMIT ?').all(afterSlot, limit) as ItemRow[]).map(toItem);
  }

  /** Every live slot, in slot order (for rebuilding the graph). */
  liveSlots(): number[] {
    return (this.db.prepare('SELECT slot FROM items WHERE deleted = 0 ORDER BY slot').pluck().all() as number[]);
  }

  /**
   * Every live item's slot, category, attributes and whether it has a kept image, in slot order, for
   * the in-memory structures built at open (the live flags and the filter's posting lists).
   */
  *liveFields(): Generator<{ slot: number; category: string | null; attributes: Record<string, unknown>; image: boolean }> {
    const rows = this.db.prepare('SELECT slot, category, attributes, source_blob IS NOT NULL FROM items WHERE deleted = 0 ORDER BY slot').raw().iterate() as Iterable<[number, string | null, string, number]>;
    for (const [slot, category, attributes, image] of rows) yield { slot, category, attributes: attributes === '{}' ? {} : (JSON.parse(attributes) as Record<string, unknown>), image: image === 1 };
  }

  /** Live slots whose items pass the filter. */
  filteredSlots(filter: ItemFilter): number[] {
    const { sql, params } = filterSql(filter);
    return this.db.prepare(`SELECT slot FROM items WHERE deleted = 0${sql}`).pluck().all(...params) as number[];
  }

  /** A page of live items ordered by id, after the `after` id. */
  list(limit: number, after?: string): CatalogItem[] {
    const rows = (
      after === undefined
        ? this.db.prepare('SELECT * FROM items WHERE deleted = 0 ORDER BY id LIMIT ?').all(limit)
        : this.db.prepare('SELECT * FROM items WHERE deleted = 0 AND id > ? ORDER BY id LIMIT ?').all(after, limit)
    ) as ItemRow[];
    return rows.map(toItem);
  }

  close(): void {
    this.db.close();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
  }
}

const fsyncAsync = promisify(fsync);

/** SQL for a filter; attribute names are checked, values are bound. */
export function filterSql(filter: ItemFilter): { sql: string; params: unknown[] } {
  let sql = '';
  const params: unknown[] = [];
  if (filter.category !== undefined) {
    if (filter.category.length === 0) return { sql: ' AND 0', params: [] };
    sql += ` AND category IN (${filter.category.map(() => '?').join(', ')})`;
    params.push(...filter.category);
  }
  for (const [name, expected] of Object.entries(filter.attributes ?? {})) {
    if (!isAttributeName(name)) throw new ValidationError(`invalid attribute name ${JSON.stringify(name)}: letters, digits, "_", "." and "-", 1 to 64 (not __proto__ or constructor)`, { param: 'filter.attributes', code: 'invalid_filter' });
    const values = (Array.isArray(expected) ? expected : [expected]) as (string | number | boolean)[];
    if (values.length === 0) return { sql: ' AND 0', params: [] };
    // SQLite's JSON booleans extract as 1 and 0: a number matches only a value that is not a boolean, a boolean only its JSON type.
    const path = `'$."${name}"'`;
    const scalars = values.filter((value) => typeof value !== 'boolean');
    const booleans = values.filter((value) => typeof value === 'boolean');
    const matches: string[] = [];
    if (scalars.length > 0) matches.push(`(json_extract(attributes, ${path}) IN (${scalars.map(() => '?').join(', ')}) AND json_type(attributes, ${path}) NOT IN ('true', 'false'))`);
    if (booleans.length > 0) matches.push(`json_type(attributes, ${path}) IN (${booleans.map(() => '?').join(', ')})`);
    sql += ` AND (${matches.join(' OR ')})`;
    params.push(...scalars, ...booleans.map(String));
  }
  return { sql, params };
}
