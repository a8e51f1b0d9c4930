import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BinaryHnsw, type HnswSettings } from './binary-hnsw.js';
import { Catalog, type CatalogItem, type ItemFields, type ItemFilter } from './catalog.js';
import { CodeStore } from './code-store.js';
import { VectorFile, type VectorStorage } from './vector-file.js';

export interface IndexModel {
  readonly id: string;
  readonly version: string;
  readonly dimension: number;
  /**
   * For a version that is a base model plus an alignment head: the base version. Such an index
   * also keeps each item's base embedding (`base.f32`), so switching versions re-projects them.
   */
  readonly base?: string | undefined;
}

export interface IndexSettings extends HnswSettings {
  /** How float vectors are kept on disk for rescoring. @defaultValue 'f32' */
  readonly storage: VectorStorage;
  /** Indexes (or filtered subsets) up to this many items are searched exactly over their codes. @defaultValue 20000 */
  readonly exactThreshold: number;
}

export const DEFAULT_INDEX_SETTINGS: IndexSettings = {
  storage: 'f32',
  connectivity: 16,
  expansionAdd: 128,
  expansionSearch: 64,
  exactThreshold: 20_000,
};

export interface SearchOptions {
  readonly limit: number;
  /** Candidates fetched by Hamming distance = limit × oversampling, then rescored. @defaultValue 4 */
  readonly oversampling: number;
  /** Rescore candidates with the float vectors (cosine); otherwise rank by Hamming. @defaultValue true */
  readonly rescore: boolean;
  readonly filter?: ItemFilter | undefined;
  /** Scan every (filtered) code instead of walking the graph. */
  readonly exact?: boolean | undefined;
  /** Item ids left out of the results (the query item itself, say). */
  readonly excludeIds?: readonly string[] | undefined;
}

export interface SearchHit {
  readonly item: CatalogItem;
  /** Cosine similarity when rescored; else 1 − 2·hamming/dimension. */
  readonly score: number;
  readonly hamming: number | undefined;
}

export interface SearchOutcome {
  readonly hits: SearchHit[];
  readonly strategy: 'hnsw' | 'exact' | 'filtered-exact' | 'filtered-hnsw';
  /** Candidates considered by the binary stage. */
  readonly candidates: number;
}

const GRAPH_FILE = 'graph.usearch';
const GRAPH_STATE = 'graph.json';

/**
 * One named index on disk: the SQLite catalog (source of truth), float vectors for rescoring,
 * sign-bit codes, and a USearch HNSW over the codes. The graph is saved atomically and, on
 * open, brought up to date from the catalog's change log, or rebuilt when it cannot be read.
 */
export class VectorIndex {
  private saveTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  /** Live items, kept in step with the catalog (a COUNT(*) per search would dominate it). */
  private liveCount: number;
  /**
   * Which slots are live (1) or free/tombstoned (0), kept in step with the catalog so the exact
   * path scans them without a SQLite read per search. A byte per slot rather than a bit: plain
   * indexing, and even 10 M slots ever used cost only 10 MB. Grows by doubling; slots are never reused.
   */
  private liveBySlot = new Uint8Array(0);
  /** The live slots in ascending order, materialized from `liveBySlot` by the first exact scan after a write. */
  private liveList: number[] | undefined;

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly model: IndexModel,
    readonly settings: IndexSettings,
    readonly createdAt: string,
    private readonly catalog: Catalog,
    private readonly vectors: VectorFile,
    /** The items' base embeddings, kept when the model is a head version. */
    private readonly baseVectors: VectorFile | undefined,
    private readonly codes: CodeStore,
    private readonly graph: BinaryHnsw,
    /** How the graph was obtained when the index was opened. */
    readonly recovery: 'created' | 'loaded' | 'replayed' | 'rebuilt',
    /** The catalog's live slots when it was opened. */
    liveSlots: readonly number[],
  ) {
    this.liveCount = liveSlots.length;
    this.setLive(liveSlots, 1);
  }

  static create(dir: string, name: string, model: IndexModel, settings: IndexSettings): VectorIndex {
    mkdirSync(dir, { recursive: true });
    const catalog = new Catalog(join(dir, 'catalog.sqlite'));
    const createdAt = new Date().toISOString();
    catalog.setMeta('index', JSON.stringify({ name, model, settings, createdAt }));
    return VectorIndex.assemble(dir, catalog, 'created');
  }

  static open(dir: string): VectorIndex {
    const catalog = new Catalog(join(dir, 'catalog.sqlite'));
    return VectorIndex.assemble(dir, catalog, 'loaded');
  }

  private static assemble(dir: string, catalog: Catalog, mode: 'created' | 'loaded'): VectorIndex {
    const raw = catalog.getMeta('index');
    if (!raw) {
      catalog.close();
      throw new Error(`${dir} holds no index description`);
    }
    const meta = JSON.parse(raw) as { name: string; model: IndexModel; settings: IndexSettings; createdAt: string };
    const settings = { ...DEFAULT_INDEX_SETTINGS, ...meta.settings };
    const vectors = new VectorFile(join(dir, `vectors.${settings.storage}`), meta.model.dimension, settings.storage);
    const baseVectors = meta.model.base ? new VectorFile(join(dir, `base.${settings.storage}`), meta.model.dimension, settings.storage) : undefined;
    const codes = new CodeStore(join(dir, 'codes.b1'), meta.model.dimension);
    const graph = new BinaryHnsw(meta.model.dimension, settings);
    const live = catalog.liveSlots();
    const recovery = mode === 'created' ? 'created' : VectorIndex.restoreGraph(dir, catalog, vectors, codes, graph, live);
    return new VectorIndex(meta.name, dir, meta.model, settings, meta.createdAt, catalog, vectors, baseVectors, codes, graph, recovery, live);
  }

  /** Loads the saved graph and replays later changes; rebuilds from the catalog when that fails. */
  private static restoreGraph(dir: string, catalog: Catalog, vectors: VectorFile, codes: CodeStore, graph: BinaryHnsw, live: readonly number[]) {
    // Codes are derived data: make sure every live slot has one (a crash may have cut the file short).
    const scratch = new Float32Array(vectors.dimension);
    for (const slot of live) if (slot >= codes.slots) codes.write(slot, vectors.read(slot, scratch));
    try {
      const state = JSON.parse(readFileSync(join(dir, GRAPH_STATE), 'utf8')) as { seq: number; size: number };
      graph.load(join(dir, GRAPH_FILE));
      if (graph.size !== state.size) throw new Error(`graph holds ${graph.size} vectors, its state says ${state.size}`);
      const changes = catalog.changesSince(state.seq);
      // Idempotent: the graph file may be newer than its state file if a crash fell between the two renames.
      for (const change of changes) {
        if (change.deleted) graph.remove(change.slot);
        else if (!graph.has(change.slot)) graph.add([change.slot], vectors.read(change.slot, scratch));
      }
      if (graph.size !== live.length) throw new Error(`graph holds ${graph.size} vectors after replay, the catalog ${live.length}`);
      return changes.length > 0 ? ('replayed' as const) : ('loaded' as const);
    } catch {
      graph.clear();
      const batch = 1024;
      for (let i = 0; i < live.length; i += batch) {
        const slots = live.slice(i, i + batch);
        const matrix = new Float32Array(slots.length * vectors.dimension);
        slots.forEach((slot, j) => vectors.read(slot, matrix.subarray(j * vectors.dimension, (j + 1) * vectors.dimension)));
        graph.add(slots, matrix);
      }
      return 'rebuilt' as const;
    }
  }

  get count(): number {
    return this.liveCount;
  }

  get(id: string): CatalogItem | undefined {
    return this.catalog.get(id);
  }

  get hasCategories(): boolean {
    return this.catalog.hasCategories;
  }

  list(limit: number, after?: string): CatalogItem[] {
    return this.catalog.list(limit, after);
  }

  /** The catalog's highest change sequence number: every write after it has a higher one. */
  get seq(): number {
    return this.catalog.seq;
  }

  /** Ids of the items written or deleted after `seq`. */
  changedIdsSince(seq: number): string[] {
    return this.catalog.changedIdsSince(seq);
  }

  /** A page of live items in slot order, after `afterSlot` (-1 first). */
  liveItems(afterSlot: number, limit: number): CatalogItem[] {
    return this.catalog.liveBySlot(afterSlot, limit);
  }

  categoryCounts(): { category: string; count: number }[] {
    return this.catalog.categoryCounts();
  }

  /** Each scalar attribute value of the live items with its item count. */
  attributeCounts(): { name: string; value: string | number | boolean; count: number }[] {
    return this.catalog.attributeCounts();
  }

  /** The kept images (hashes) of up to `limit` items of a category, spread over it. */
  categoryImages(category: string, limit: number): { blob: string }[] {
    return this.catalog.categoryImages(category, limit).map(({ blob }) => ({ blob }));
  }

  /** The item's base embedding: its vector, or the kept base one when the model is a head version. */
  baseVectorOf(item: CatalogItem): Float32Array {
    return (this.baseVectors ?? this.vectors).read(item.slot);
  }

  /** The stored float vector of an item. */
  vectorOf(item: CatalogItem): Float32Array {
    return this.vectors.read(item.slot);
  }

  /**
   * Inserts or replaces items with their (L2-normalized) vectors. Vectors and codes reach the
   * disk before the catalog commits, so every committed row has its vector; the old version of a
   * replaced item leaves the results at once.
   */
  upsert(entries: readonly { fields: ItemFields; vector: Float32Array; base?: Float32Array | undefined }[]): void {
    if (entries.length === 0) return;
    for (const { vector, base } of entries) {
      if (vector.length !== this.model.dimension) throw new Error(`vector has ${vector.length} dimensions, the index ${this.model.dimension}`);
      if (this.baseVectors && base?.length !== this.model.dimension) throw new Error(`index ${this.name} keeps base embeddings: every item needs one`);
    }
    const first = Math.max(this.catalog.nextSlot, this.vectors.slots, this.codes.slots);
    const slots = entries.map((_, i) => first + i);
    entries.forEach(({ vector, base }, i) => {
      this.vectors.write(slots[i]!, vector);
      if (this.baseVectors) this.baseVectors.write(slots[i]!, base!);
      this.codes.write(slots[i]!, vector);
    });
    this.vectors.sync();
    this.baseVectors?.sync();
    this.codes.sync();
    const { replacedSlots } = this.catalog.upsert(
      entries.map(({ fields }, i) => ({ fields, slot: slots[i]! })),
      this.model,
    );
    this.liveCount += entries.length - replacedSlots.length;
    // New slots first, removals after: a batch naming one id twice retires a slot it has just written.
    this.setLive(slots, 1);
    this.setLive(replacedSlots, 0);
    const matrix = new Float32Array(entries.length * this.model.dimension);
    entries.forEach(({ vector }, i) => matrix.set(vector, i * this.model.dimension));
    this.graph.add(slots, matrix);
    for (const slot of replacedSlots) this.graph.remove(slot);
    this.markDirty();
  }

  /** Removes items; returns the ids that existed. */
  delete(ids: readonly string[]): string[] {
    const removed = this.catalog.delete(ids);
    for (const slot of removed.values()) this.graph.remove(slot);
    this.liveCount -= removed.size;
    if (removed.size > 0) this.setLive(removed.values(), 0);
    if (removed.size > 0) this.markDirty();
    return [...removed.keys()];
  }

  search(query: Float32Array, options: SearchOptions): SearchOutcome {
    const exclude = new Set(options.excludeIds ?? []);
    const wanted = options.limit + exclude.size;
    const k = Math.max(wanted, Math.ceil(wanted * options.oversampling));
    const count = this.count;
    let candidates: { slot: number; hamming: number }[];
    let strategy: SearchOutcome['strategy'];
    if (options.filter) {
      const allowed = this.catalog.filteredSlots(options.filter);
      if (options.exact || allowed.length <= this.settings.exactThreshold) {
        candidates = this.scanCodes(query, allowed, k);
        strategy = 'filtered-exact';
      } else {
        candidates = this.graphSearchWithin(query, new Set(allowed), k, count);
        strategy = 'filtered-hnsw';
      }
    } else if (options.exact || count <= this.settings.exactThreshold) {
      candidates = this.scanCodes(query, this.liveSlots(), k);
      strategy = 'exact';
    } else {
      const found = this.graph.search(query, k);
      candidates = found.slots.map((slot, i) => ({ slot, hamming: found.distances[i]! }));
      strategy = 'hnsw';
    }

    return { hits: this.rank(query, candidates, options, exclude), strategy, candidates: candidates.length };
  }

  /**
   * The top items by the dot product of their base embeddings with `query` (not necessarily unit
   * length). An index on a base version searches as usual (codes, then float rescoring); an index on
   * an alignment head, whose codes and graph hold projected vectors, scans the base embeddings of
   * the filter's items exactly.
   */
  searchBase(query: Float32Array, options: Pick<SearchOptions, 'limit' | 'filter' | 'excludeIds'>): SearchHit[] {
    if (!this.baseVectors) return this.search(query, { ...options, oversampling: 4, rescore: true }).hits;
    const base = this.baseVectors;
    const exclude = new Set(options.excludeIds ?? []);
    const slots = options.filter ? this.catalog.filteredSlots(options.filter) : this.liveSlots();
    const scored = slots.map((slot) => ({ slot, score: base.dot(slot, query) }));
    scored.sort((a, b) => b.score - a.score || a.slot - b.slot);
    const top = scored.slice(0, options.limit + exclude.size);
    const items = this.catalog.bySlots(top.map((entry) => entry.slot));
    const hits: SearchHit[] = [];
    for (const { slot, score } of top) {
      const item = items.get(slot);
      if (item && !exclude.has(item.id) && hits.length < options.limit) hits.push({ item, score, hamming: undefined });
    }
    return hits;
  }

  /**
   * Unfiltered graph searches for many queries: one batched USearch call over `threads`
   * threads for the candidates, then rescoring per query.
   */
  searchMany(queries: readonly Float32Array[], options: Omit<SearchOptions, 'filter' | 'exact' | 'excludeIds'>, threads = 0): SearchHit[][] {
    const k = Math.max(options.limit, Math.ceil(options.limit * options.oversampling));
    const matrix = new Float32Array(queries.length * this.model.dimension);
    queries.forEach((query, i) => matrix.set(query, i * this.model.dimension));
    const found = this.graph.searchMany(matrix, queries.length, k, threads);
    return found.map(({ slots, distances }, i) =>
      this.rank(queries[i]!, slots.map((slot, j) => ({ slot, hamming: distances[j]! })), options, new Set()),
    );
  }

  private rank(query: Float32Array, candidates: { slot: number; hamming: number }[], options: Pick<SearchOptions, 'limit' | 'rescore'>, exclude: Set<string>): SearchHit[] {
    // Rescore first, look items up only for the winners.
    const scored = candidates.map(({ slot, hamming }) => ({
      slot,
      hamming,
      score: options.rescore ? this.vectors.dot(slot, query) : 1 - (2 * hamming) / this.model.dimension,
    }));
    scored.sort((a, b) => b.score - a.score || a.slot - b.slot);
    const hits: SearchHit[] = [];
    for (let start = 0; start < scored.length && hits.length < options.limit; start += options.limit) {
      const chunk = scored.slice(start, start + options.limit + exclude.size);
      const items = this.catalog.bySlots(chunk.map((candidate) => candidate.slot));
      for (const { slot, hamming, score } of chunk) {
        const item = items.get(slot);
        if (item && !exclude.has(item.id) && hits.length < options.limit) hits.push({ item, score, hamming });
      }
    }
    return hits;
  }

  /** Marks slots live (1) or not (0) in memory; the catalog must already say so. */
  private setLive(slots: Iterable<number>, value: 0 | 1): void {
    for (const slot of slots) {
      if (slot >= this.liveBySlot.length) {
        const grown = new Uint8Array(Math.max(slot + 1, this.liveBySlot.length * 2, 1024));
        grown.set(this.liveBySlot);
        this.liveBySlot = grown;
      }
      this.liveBySlot[slot] = value;
    }
    this.liveList = undefined;
  }

  /** Every live slot in ascending order, as `catalog.liveSlots()` gives them, without reading SQLite. */
  private liveSlots(): readonly number[] {
    if (!this.liveList) {
      const list: number[] = [];
      for (let slot = 0; slot < this.liveBySlot.length; slot++) if (this.liveBySlot[slot] === 1) list.push(slot);
      this.liveList = list;
    }
    return this.liveList;
  }

  /** Exact Hamming top-k over the given slots: a histogram of distances finds the cut in one pass. */
  private scanCodes(query: Float32Array, slots: readonly number[], k: number): { slot: number; hamming: number }[] {
    const code = this.codes.encode(query);
    const distances = new Uint16Array(slots.length);
    const histogram = new Uint32Array(this.model.dimension + 1);
    for (let i = 0; i < slots.length; i++) {
      const d = this.codes.distance(code, slots[i]!);
      distances[i] = d;
      histogram[d]! += 1;
    }
    let cut = 0;
    for (let seen = 0; cut <= this.model.dimension; cut++) {
      seen += histogram[cut]!;
      if (seen >= k) break;
    }
    const out: { slot: number; hamming: number }[] = [];
    for (let i = 0; i < slots.length; i++) if (distances[i]! <= cut) out.push({ slot: slots[i]!, hamming: distances[i]! });
    out.sort((a, b) => a.hamming - b.hamming || a.slot - b.slot);
    return out.slice(0, k);
  }

  /**
   * Graph search restricted to `allowed`: USearch's JavaScript binding has no filtered search, so
   * fetch enough candidates that `k` of them are expected to pass, and widen until they do.
   */
  private graphSearchWithin(query: Float32Array, allowed: Set<number>, k: number, count: number) {
    const selectivity = Math.max(allowed.size / Math.max(count, 1), 1e-6);
    let fetch = Math.ceil((k / selectivity) * 1.5);
    for (;;) {
      const found = this.graph.search(query, Math.min(fetch, count));
      const passing = found.slots.flatMap((slot, i) => (allowed.has(slot) ? [{ slot, hamming: found.distances[i]! }] : []));
      if (passing.length >= k || fetch >= count) return passing.slice(0, k);
      fetch *= 2;
    }
  }

  private markDirty(): void {
    this.dirty = true;
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 2_000);
    this.saveTimer.unref();
  }

  /** Saves the graph (atomically) with the catalog sequence number it reflects. */
  save(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    if (!this.dirty && existsSync(join(this.dir, GRAPH_FILE))) return;
    const seq = this.catalog.seq;
    this.graph.save(join(this.dir, GRAPH_FILE));
    const temporary = join(this.dir, `${GRAPH_STATE}.tmp`);
    writeFileSync(temporary, JSON.stringify({ seq, size: this.graph.size }));
    renameSync(temporary, join(this.dir, GRAPH_STATE));
    this.dirty = false;
  }

  stats() {
    const size = (file: string) => (existsSync(join(this.dir, file)) ? statSync(join(this.dir, file)).size : 0);
    return {
      count: this.count,
      graphSize: this.graph.size,
      bytes: {
        vectors: this.vectors.bytes + (this.baseVectors?.bytes ?? 0),
        codes: size('codes.b1'),
        graph: size(GRAPH_FILE),
        catalog: size('catalog.sqlite') + size('catalog.sqlite-wal'),
      },
    };
  }

  close(options: { save?: boolean } = {}): void {
    if (options.save ?? true) this.save();
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.catalog.close();
    this.vectors.close();
    this.baseVectors?.close();
    this.codes.close();
  }

  /** Closes and deletes everything on disk. */
  destroy(): void {
    this.close({ save: false });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
