import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { BatchMatches, Index, Matches, MetricKind, ScalarKind } from 'usearch';

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
 * slot. USearch's JavaScript binding takes `b1` vectors as floats and sets the bit where x > 0,
 * the same rule as {@link packSignBits}.
 */
export class BinaryHnsw {
  private index: Index;

  constructor(
    readonly dimension: number,
    readonly settings: HnswSettings,
  ) {
    this.index = this.empty();
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
    return this.index.size();
  }

  has(slot: number): boolean {
    return this.index.contains(BigInt(slot)) as boolean;
  }

  add(slots: readonly number[], vectors: Float32Array): void {
    if (slots.length === 0) return;
    // threads = 0: USearch reserves a search context per hardware thread, which batched searches need.
    this.index.add(BigUint64Array.from(slots, (slot) => BigInt(slot)), vectors, 0);
  }

  remove(slot: number): void {
    if (this.has(slot)) this.index.remove(BigInt(slot));
  }

  search(query: Float32Array, k: number): { slots: number[]; distances: Float32Array } {
    if (this.size === 0) return { slots: [], distances: new Float32Array(0) };
    const matches = this.index.search(query, Math.min(k, this.size), 1);
    const slots = Array.from(matches.keys, (key) => Number(key));
    return { slots, distances: matches.distances.subarray(0, slots.length) };
  }

  /** Candidates for many queries at once (USearch's batch search, on `threads` threads). */
  searchMany(queries: Float32Array, count: number, k: number, threads: number): { slots: number[]; distances: Float32Array }[] {
    if (this.size === 0) return Array.from({ length: count }, () => ({ slots: [], distances: new Float32Array(0) }));
    const result = this.index.search(queries, Math.min(k, this.size), threads) as Matches | BatchMatches;
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
    this.index.save(temporary);
    fsyncPath(temporary);
    renameSync(temporary, path);
    fsyncPath(dirname(path));
  }

  /** Loads a saved graph; throws when the file is missing or unreadable. A stray temporary file is removed. */
  load(path: string): void {
    rmSync(`${path}.tmp`, { force: true });
    if (!existsSync(path)) throw new Error(`${path} does not exist`);
    const index = this.empty();
    index.load(path);
    if (index.dimensions() !== this.dimension) throw new Error(`${path} has ${index.dimensions()} dimensions, expected ${this.dimension}`);
    this.index = index;
  }

  clear(): void {
    this.index = this.empty();
  }
}
