import { BinaryHnsw, type HnswSettings } from './binary-hnsw.js';
import type { CodeStore } from './code-store.js';
import type { EstimateQuery } from './native-graph.js';

/**
 * A graph over one filter's items alone (Qdrant's payload-aware graph, one value's links kept
 * apart): the native graph, keyed by vector slot, reading the codes from the code store as the
 * index's own graph does. A search in it is an unfiltered search of a smaller index: a walk (by the
 * two-bit estimate, see VectorIndex) finds the filter's nearest items whatever their share, where the index's graph, walked
 * with the filter, passes most of its candidates by (a quarter of 1M items: ~3× the unfiltered time),
 * and the filter's copied codes are read whole (a quarter of 1M codes' prefixes: 6 MB a search, at
 * the speed of memory).
 *
 * It is built a slice at a time ({@link fill}) from the filter's items when it was asked for, the
 * searches going on between; items joining and leaving the filter meanwhile and after reach it
 * through {@link add} and {@link remove}. It holds no codes of its own: a code is added as the
 * ±1 vector of its sign bits, which the native graph packs back to the same code.
 */
export class FilterGraph {
  private readonly graph: BinaryHnsw;
  /** The filter's items when the graph was asked for, added by {@link fill} from `next` on. */
  private pending: Uint32Array;
  private next = 0;
  private readonly vector: Float32Array;
  private counted: { bytes: number; size: number } | undefined;

  constructor(
    readonly dimension: number,
    settings: HnswSettings,
    private readonly codes: CodeStore,
    slots: Uint32Array,
  ) {
    this.graph = new BinaryHnsw(dimension, settings, 'native');
    if (!this.graph.shareCodes(codes)) throw new Error('a filter graph needs the native graph reading the code store');
    this.pending = slots;
    this.vector = new Float32Array(dimension);
  }

  /** Whether every item the filter held when the graph was asked for is in it (or left the filter): it may be searched. */
  get complete(): boolean {
    return this.next === this.pending.length;
  }

  /** Items in the graph. */
  get size(): number {
    return this.graph.size;
  }

  /**
   * Adds up to `count` more of the items the filter held when the graph was asked for, those that
   * `holds` (the filter, as it is now) still accepts and that are not in the graph already (joined
   * again through {@link add}); whether every one is done.
   */
  fill(count: number, holds: (slot: number) => boolean): boolean {
    const to = Math.min(this.pending.length, this.next + count);
    const slots: number[] = [];
    for (let i = this.next; i < to; i++) {
      const slot = this.pending[i]!;
      if (holds(slot) && !this.graph.has(slot)) slots.push(slot);
    }
    this.next = to;
    this.addSlots(slots);
    if (!this.complete) return false;
    // Its list goes once done (1 MB for a quarter of 1M items).
    this.pending = new Uint32Array(0);
    this.next = 0;
    return true;
  }

  /** Items that joined the filter (new, replacing others, or moved): added at once, built or not, in one call (on every core). */
  add(slots: readonly number[]): void {
    this.addSlots(slots.filter((slot) => !this.graph.has(slot)));
  }

  /** An item that left the filter; one not added yet is passed over by {@link fill} (its filter no longer holds it). */
  remove(slot: number): void {
    this.graph.remove(slot);
  }

  /** The `k` nearest items by Hamming distance (by the two-bit estimate with `estimate`), as {@link BinaryHnsw.search}. */
  search(query: Float32Array, k: number, estimate?: EstimateQuery): { slots: number[]; distances: Float32Array; estimates?: Float32Array } {
    return this.graph.search(query, k, estimate);
  }

  /**
   * The same from a walk of the base level that starts at `seeds` (items; those the graph does not
   * hold are passed over), `beam` nodes a step ({@link BinaryHnsw.searchFiltered} with no condition);
   * undefined where the graph holds none of the seeds (or on USearch's binding).
   */
  searchFrom(query: Float32Array, k: number, seeds: readonly number[], estimate?: EstimateQuery, beam?: number): { slots: number[]; distances: Float32Array; estimates?: Float32Array } | undefined {
    const held = seeds.filter((slot) => this.graph.has(slot));
    if (held.length === 0) return undefined;
    return this.graph.searchFiltered(query, k, [], estimate, held, beam);
  }

  /**
   * Bytes the native graph holds (its nodes, links and key maps): counted again when its size has
   * moved by a sixteenth since last counted (the count walks every node; a search asks for it).
   */
  get memoryBytes(): number {
    const size = this.graph.size;
    if (!this.counted || Math.abs(size - this.counted.size) > this.counted.size / 16) this.counted = { bytes: this.graph.memoryBytes, size };
    return this.counted.bytes;
  }

  /** Gives the graph's memory back now (dropped), not when the collector gets to it. */
  release(): void {
    this.graph.release();
    this.counted = undefined;
  }

  /** Adds `slots` with the ±1 vectors of their sign codes (the first dimension in the highest bit of the first byte). */
  private addSlots(slots: readonly number[]): void {
    if (slots.length === 0) return;
    const dimension = this.dimension;
    const vectors = slots.length === 1 ? this.vector : new Float32Array(slots.length * dimension);
    for (let i = 0; i < slots.length; i++) {
      const code = this.codes.codeOf(slots[i]!);
      const at = i * dimension;
      for (let d = 0; d < dimension; d++) vectors[at + d] = code[d >> 3]! & (0x80 >> (d & 7)) ? 1 : -1;
    }
    this.graph.add(slots, vectors);
  }
}
