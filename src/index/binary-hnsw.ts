import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { BatchMatches, Index, Matches, MetricKind, ScalarKind } from 'usearch';
import type { CodeStore } from './code-store.js';
import { createNativeGraph, graphEngine, type EstimateQuery, type FilterColumns, type GraphEngine, type NativeGraph } from './native-graph.js';

export interface HnswSettings {
  /** Graph connectivity M. @defaultValue 16 */
  readonly connectivity: number;
  /** Candidate list size while inserting (efConstruction). @defaultValue 256 (the index's default) */
  readonly expansionAdd: number;
  /**
   * Candidate list size while searching (ef); raised to k when k is larger. 0: USearch's default
   * (64). {@link VectorIndex} asks the graph for its whole ef as candidates, so its own rule applies.
   */
  readonly expansionSearch: number;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A USearch HNSW graph over sign-bit codes (`b1` quantization, Hamming metric), keyed by vector
 * slot: the service's native graph (native/graph.cpp, USearch's graph with loads ahead and a removed
 * bitmap) where it is built, else USearch's own JavaScript binding (`LOOKBOOK_GRAPH`, see
 * {@link graphEngine}). Both set a code's bit where x > 0, the rule of {@link packSignBits}, and
 * read and write the same file format.
 */
export class BinaryHnsw {
  readonly engine: GraphEngine;
  private index!: Index;
  private native!: NativeGraph;
  /** The code store whose codes the native graph reads instead of its own rows (see {@link shareCodes}). */
  private codes?: Pick<CodeStore, 'sharedCodes' | 'memoryGeneration'>;
  /** The store's memory generation last passed on (its memory grows into another buffer object). */
  private shared?: number;

  constructor(
    readonly dimension: number,
    readonly settings: HnswSettings,
    engine: GraphEngine = graphEngine(),
  ) {
    this.engine = engine;
    this.reset();
  }

  private reset(): void {
    if (this.engine === 'native') this.native = this.emptyNative();
    else this.index = this.empty();
    this.shared = undefined;
  }

  /**
   * Lets the native graph read its codes from the code store (the same sign codes, by slot) and give
   * back its own copy (64 bytes an item at 512 dimensions); it checks every code once, and keeps its
   * copy if any differs. Every later call that reads codes first passes the store's memory on again
   * when it has grown. False with USearch's binding, or when the graph keeps its copy.
   */
  shareCodes(codes: Pick<CodeStore, 'sharedCodes' | 'memoryGeneration'>): boolean {
    if (this.engine !== 'native') return false;
    this.codes = codes;
    return this.syncCodes();
  }

  /** Whether the native graph reads the code store's codes (see {@link shareCodes}). */
  get readsCodes(): boolean {
    return this.engine === 'native' && this.codes !== undefined;
  }

  /** Passes the store's memory to the native graph when it is another buffer than last time; true when the graph reads it. */
  private syncCodes(): boolean {
    if (!this.codes) return false;
    if (this.shared === this.codes.memoryGeneration) return true;
    const wasShared = this.shared !== undefined;
    const codes = this.codes.sharedCodes();
    if (!this.native.shareCodes(codes.buffer, codes.offset, codes.stride, codes.slots)) {
      // A graph reading the store has no copy left to fall back on: that cannot go on.
      if (wasShared) throw new Error('the native graph can no longer read the code store');
      this.codes = undefined;
      return false;
    }
    this.shared = this.codes.memoryGeneration;
    return true;
  }

  private emptyNative(): NativeGraph {
    return createNativeGraph(this.dimension, this.settings.connectivity, this.settings.expansionAdd, this.settings.expansionSearch);
  }

  private empty(): Index {
    return new Index({
      dimensions: this.dimension,
      metric: MetricKind.Hamming,
      quantization: ScalarKind.B1,
      connectivity: this.settings.connectivity,
      expansion_add: this.settings.expansionAdd,
      // Not stored in the file: it is set here, then load() keeps it (INDEX.md).
      expansion_search: this.settings.expansionSearch,
      multi: false,
    });
  }

  get size(): number {
    return this.engine === 'native' ? this.native.size() : this.index.size();
  }

  has(slot: number): boolean {
    return this.engine === 'native' ? this.native.contains(slot) : (this.index.contains(BigInt(slot)) as boolean);
  }

  add(slots: readonly number[], vectors: Float32Array): void {
    if (slots.length === 0) return;
    // threads = 0: all hardware threads (USearch reserves a search context per hardware thread, which batched searches need).
    if (this.engine === 'native') {
      this.syncCodes();
      this.native.add(Uint32Array.from(slots), vectors, 0);
    }
    else this.index.add(BigUint64Array.from(slots, (slot) => BigInt(slot)), vectors, 0);
  }

  remove(slot: number): void {
    if (this.engine === 'native') this.native.remove(slot);
    else if (this.has(slot)) this.index.remove(BigInt(slot));
  }

  /**
   * The `k` nearest slots by Hamming distance; with `estimate` (the native graph reading the code
   * store's codes), by the two-bit estimate, highest first, each slot's in `estimates` (see
   * {@link CodeStore.estimateQuery}), its Hamming distance in `distances` as without.
   */
  search(query: Float32Array, k: number, estimate?: EstimateQuery): { slots: number[]; distances: Float32Array; estimates?: Float32Array } {
    if (this.size === 0) return { slots: [], distances: new Float32Array(0) };
    if (this.engine === 'native') {
      this.syncCodes();
      const { keys, distances, estimates } = this.native.search(query, Math.min(k, this.size), estimate && this.codes ? estimate : undefined);
      return { slots: Array.from(keys), distances, estimates };
    }
    const matches = this.index.search(query, Math.min(k, this.size), 1);
    const slots = Array.from(matches.keys, (key) => Number(key));
    return { slots, distances: matches.distances.subarray(0, slots.length) };
  }

  /**
   * The `k` nearest live slots that meet `conditions`, from one walk that keeps only those (the
   * native graph; undefined on USearch's binding, whose walk takes no predicate), with the share of
   * the walk's near candidates that met them; `estimate` as in {@link search}. With `seeds` (slots),
   * a walk of the base level from them instead of from where the upper levels lead, `beam` nodes a
   * step (the addon's default, 3, when undefined).
   */
  searchFiltered(
    query: Float32Array,
    k: number,
    conditions: FilterColumns,
    estimate?: EstimateQuery,
    seeds?: readonly number[],
    beam?: number,
  ): { slots: number[]; distances: Float32Array; passShare: number; estimates?: Float32Array } | undefined {
    if (this.engine !== 'native') return undefined;
    if (this.size === 0) return { slots: [], distances: new Float32Array(0), passShare: 0 };
    this.syncCodes();
    const { keys, distances, asked, passed, estimates } = this.native.searchFiltered(
      query,
      Math.min(k, this.size),
      conditions,
      estimate && this.codes ? estimate : undefined,
      seeds && seeds.length > 0 ? Uint32Array.from(seeds) : undefined,
      beam,
    );
    return { slots: Array.from(keys), distances, passShare: asked > 0 ? passed / asked : 0, estimates };
  }

  /**
   * The `k` nearest live slots by Hamming distance from a walk of the graph's base level that starts
   * at `seeds` (slots; those not in the graph are passed over) rather than where the upper levels lead:
   * for a walk from the top that stopped short of the query's neighbourhood, started at codes nearer
   * to it (the walk guard's), `beam` nodes a step (the addon's default, 3, when undefined). The native
   * graph only; undefined on USearch's binding.
   */
  searchFrom(query: Float32Array, k: number, seeds: readonly number[], beam?: number): { slots: number[]; distances: Float32Array } | undefined {
    if (this.engine !== 'native') return undefined;
    if (this.size === 0) return { slots: [], distances: new Float32Array(0) };
    this.syncCodes();
    const { keys, distances } = this.native.searchFrom(query, Math.min(k, this.size), Uint32Array.from(seeds), beam);
    return { slots: Array.from(keys), distances };
  }

  /**
   * Candidates for many queries at once (on `threads` threads). With `seeds` (the native graph),
   * query i's walk starts as {@link searchFrom}'s at seeds[i] (from the top where that is empty).
   */
  searchMany(queries: Float32Array, count: number, k: number, threads: number, seeds?: readonly (readonly number[])[]): { slots: number[]; distances: Float32Array }[] {
    if (this.size === 0) return Array.from({ length: count }, () => ({ slots: [], distances: new Float32Array(0) }));
    const wanted = Math.min(k, this.size);
    if (this.engine === 'native') {
      this.syncCodes();
      let flat: Uint32Array | undefined;
      let seedCounts: Uint32Array | undefined;
      if (seeds) {
        const each = seeds.reduce((most, from) => Math.max(most, from.length), 0);
        flat = new Uint32Array(count * each);
        seedCounts = Uint32Array.from({ length: count }, (_, i) => seeds[i]?.length ?? 0);
        seeds.forEach((from, i) => flat!.set(from, i * each));
      }
      const { keys, distances, counts } = this.native.searchMany(queries, count, wanted, threads, flat, seedCounts);
      return Array.from({ length: count }, (_, i) => ({
        slots: Array.from(keys.subarray(i * wanted, i * wanted + counts[i]!)),
        distances: distances.subarray(i * wanted, i * wanted + counts[i]!),
      }));
    }
    const result = this.index.search(queries, wanted, threads) as Matches | BatchMatches;
    return Array.from({ length: count }, (_, i) => {
      // USearch answers one query with Matches, several with BatchMatches.
      const matches = result instanceof BatchMatches ? result.get(i) : result;
      const slots = Array.from(matches.keys, (key) => Number(key));
      return { slots, distances: matches.distances.subarray(0, slots.length) };
    });
  }

  /** Writes the graph to `path` atomically: a temporary file, fsync, rename, fsync of the directory. */
  save(path: string): void {
    const temporary = `${path}.tmp`;
    if (this.engine === 'native') {
      this.syncCodes();
      this.native.save(temporary);
    }
    else this.index.save(temporary);
    fsyncPath(temporary);
    renameSync(temporary, path);
    fsyncPath(dirname(path));
  }

  /** Loads a saved graph; throws when the file is missing or unreadable. A stray temporary file is removed. */
  load(path: string): void {
    rmSync(`${path}.tmp`, { force: true });
    if (!existsSync(path)) throw new Error(`${path} does not exist`);
    if (this.engine === 'native') {
      // The addon checks the file's dimensions against the graph's, and empties the graph when it fails.
      const graph = this.emptyNative();
      graph.load(path);
      const previous = this.native;
      this.native = graph;
      // Its memory goes now, not when the collector gets to its wrapper.
      previous.clear();
      // The loaded graph holds its own codes until it is checked against the store again.
      this.shared = undefined;
      this.syncCodes();
      return;
    }
    const index = this.empty();
    index.load(path);
    if (index.dimensions() !== this.dimension) throw new Error(`${path} has ${index.dimensions()} dimensions, expected ${this.dimension}`);
    this.index = index;
  }

  clear(): void {
    this.reset();
  }

  /** Empties the graph and gives its memory back now, not when the collector gets to the native graph's wrapper. */
  release(): void {
    if (this.engine === 'native') this.native.clear();
    this.reset();
  }

  /** Bytes the native graph holds, its nodes, links and key maps (0 with USearch's binding, which does not say). */
  get memoryBytes(): number {
    return this.engine === 'native' ? this.native.memoryUsage() : 0;
  }
}
