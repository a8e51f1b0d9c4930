import { createHammingKernel, kernelLayout, nearestInRange, nearestSlots, WASM_PAGE as PAGE, writeScanQuery, type HammingKernel, type ScanBuffers } from './hamming-kernel.js';
import { nativeHelper, type NativeNearestCodes } from './native-graph.js';
import { slotsOf, type CodeCandidate } from './code-store.js';

const align8 = (offset: number) => Math.ceil(offset / 8) * 8;

/** Writes the first `words` 64-bit words of the sign codes of `slots` side by side into `target` from byte `at`. */
type Gather = (slots: Uint32Array, target: Uint8Array, at: number, words: number) => void;

/** The top `k` of `slots` by the Hamming distance of their whole codes to `query` (ties by slot): {@link CodeStore.scanSlots}. */
type Rerank = (query: ArrayLike<number>, slots: Uint32Array, k: number) => CodeCandidate[];

/**
 * The 64-bit words of a code a copy that is re-ranked holds: three eighths of the code's, at least
 * two (192 of 512 bits; a code of two words or fewer is copied whole). Measured on bench/search's
 * 1M index, a 25 % filter's copy (100 queries, the service's narrowing and rescoring after it):
 * recall@10 0.980 from whole codes; from the first 256 bits with a shortlist of 2× the candidates
 * re-ranked by the whole codes 0.980, 192 bits 0.979, 128 bits 0.966 (4×: 0.975), in about the
 * time of the whole copy's scan (the re-ranking reads its shortlist's codes where they lie). On an
 * AVX2 machine (2026-12-03), where a 25 % filter's copy is read at the speed of memory (6 MB in
 * ~480 µs), 128 bits with a shortlist of 3× took its searches from 2.77–2.87× the unfiltered time at
 * ef 64 to 2.32–2.35×, at recall@10 0.969–0.972 against 0.979–0.980 (10 %: 0.969–0.974 against
 * 0.981–0.983): 192 bits kept.
 */
export function prefixWords(dimension: number): number {
  const words = Math.ceil(dimension / 64);
  return Math.min(words, Math.max(2, Math.ceil((words * 3) / 8)));
}

/**
 * A prefix copy's scan shortlists this many times the candidates asked for, and at least
 * {@link PREFIX_SHORTLIST_MIN} (a search for one item asks a copy for a dozen), re-ranked by the whole codes.
 */
const PREFIX_SHORTLIST = 2;
const PREFIX_SHORTLIST_MIN = 256;

/** A copy's memory: the query and histogram, its codes, their live bytes, then the u16 distances and u32 positions on 8-byte boundaries. */
function layout(words: number, count: number): ScanBuffers & { codesAt: number; liveAt: number; end: number } {
  const { histogramAt, codesAt } = kernelLayout(words);
  const liveAt = codesAt + count * words * 8;
  const distancesAt = align8(liveAt + count);
  const foundAt = align8(distancesAt + 2 * count);
  return { histogramAt, codesAt, liveAt, distancesAt, foundAt, end: foundAt + 4 * count };
}

/**
 * The sign codes of one filter's items copied side by side, so that scanning them reads memory in
 * order. A posting list's codes lie scattered over the whole code array (at 1M, 64 MB), and a scan
 * through the list waits on memory for each (a tenth of 1M codes by their list took 4.8–7.4 ms on
 * the slower machine, all 1M in a row 4.1–4.5): the copy's scan is a range scan of its own codes.
 * A whole copy answers exactly what {@link CodeStore.scanSlots} answers for the same slots. A copy
 * given a re-ranking holds the first {@link prefixWords} of each code (35 bytes a copied item for
 * 512 dimensions with its buffers and slot, against 75 for whole codes): its scan takes the top {@link PREFIX_SHORTLIST} ×
 * k by those bits, and answers the re-ranking's top k of them by the whole codes. Its owner keeps it
 * up to date as items join and leave the filter ({@link append}, {@link remove}).
 *
 * It is filled a range of slots at a time ({@link fill}): at 1M a quarter of the codes took 80 ms
 * to copy on the slower machine (30 gathering them from the scattered slots, 50 in the page faults
 * of the new memory), which its owner spreads over turns of the event loop rather than stall a
 * search. Items may join and leave it meanwhile (a slot's code never changes while its item is
 * live: a replaced item takes a new slot). It may be scanned once every slot is filled.
 */
export class PostingCopy {
  private readonly kernel: HammingKernel;
  /** Words of each code held: all of them, or the prefix a re-ranked copy holds. */
  private readonly words: number;
  private readonly codesAt: number;
  private readonly liveAt: number;
  private readonly buffers: ScanBuffers;
  /** The addon's one-pass scan (see {@link nearestInRange}), where it is built and LOOKBOOK_GRAPH does not ask for USearch's binding. */
  private readonly nearest: NativeNearestCodes | undefined = nativeHelper('nearestCodes');
  /** Re-ranks a prefix copy's shortlist by the whole codes; undefined for a copy of whole codes. */
  private readonly rerank: Rerank | undefined;
  /** The slot of each entry: the copied ones in ascending order, then those {@link append}ed. */
  private readonly slots: Uint32Array;
  /** Entries copied at first (ascending slots), and entries in all (with the appended ones). */
  private readonly copied: number;
  private count: number;
  /** Entries filled so far (from the first). */
  private filled = 0;
  /** Entries whose item has left the filter since the copy was made ({@link remove}). */
  dead = 0;
  /** The live appended entries by slot (a slot freed and used again may have a dead entry among the copied ones too). */
  private readonly appended = new Map<number, number>();

  /**
   * Memory for the codes of `slots` (live and distinct; any order) and `spare` more to be
   * {@link append}ed, to be filled by {@link fill}: whole codes, or with `rerank`, their first
   * {@link prefixWords} (whole codes where that is all of them).
   */
  constructor(
    readonly dimension: number,
    slots: Uint32Array,
    rerank?: Rerank,
    readonly spare = 0,
  ) {
    const whole = Math.ceil(dimension / 64);
    this.words = rerank ? prefixWords(dimension) : whole;
    this.rerank = this.words < whole ? rerank : undefined;
    this.kernel = createHammingKernel(this.words);
    this.copied = this.count = slots.length;
    this.slots = new Uint32Array(slots.length + spare);
    this.slots.set(slots);
    this.slots.subarray(0, slots.length).sort();
    let end: number;
    ({ codesAt: this.codesAt, liveAt: this.liveAt, end, ...this.buffers } = layout(this.words, this.slots.length));
    const pages = Math.ceil(end / PAGE) - this.kernel.memory.buffer.byteLength / PAGE;
    if (pages > 0) this.kernel.memory.grow(pages);
    // Every copied entry is live from the start, so that an item leaving the filter before its code is filled stays out.
    new Uint8Array(this.kernel.memory.buffer).fill(1, this.liveAt, this.liveAt + this.copied);
  }

  /** A copy of `slots`' codes made at once (see {@link fill}). */
  static of(dimension: number, slots: Uint32Array, gather: Gather, rerank?: Rerank, spare = 0): PostingCopy {
    const copy = new PostingCopy(dimension, slots, rerank, spare);
    copy.fill(gather, slots.length);
    return copy;
  }

  /** Items the copy holds (its entries less the dead ones). */
  get size(): number {
    return this.count - this.dead;
  }

  /**
   * Takes an item that joined the filter after the copy's slots were chosen (before or after it is
   * filled): its code into the next spare entry, through `gather`. False when the copy has no spare
   * entry left (its owner drops it).
   */
  append(slot: number, gather: Gather): boolean {
    if (this.count === this.slots.length) return false;
    const at = this.count;
    const bytes = new Uint8Array(this.kernel.memory.buffer);
    gather(Uint32Array.of(slot), bytes, this.codesAt + at * this.words * 8, this.words);
    bytes[this.liveAt + at] = 1;
    this.slots[at] = slot;
    this.appended.set(slot, at);
    this.count++;
    return true;
  }

  /** Takes an item that left the filter (deleted, replaced, moved) out of the copy's scans, filled or not yet; whether the copy held it. */
  remove(slot: number): boolean {
    const bytes = new Uint8Array(this.kernel.memory.buffer);
    // The copied entries are in slot order; an appended one (a slot freed and used again, say) is found by the map.
    let low = 0;
    let high = this.copied;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.slots[middle]! < slot) low = middle + 1;
      else high = middle;
    }
    let entry = low < this.copied && this.slots[low] === slot && bytes[this.liveAt + low] === 1 ? low : undefined;
    if (entry === undefined) {
      entry = this.appended.get(slot);
      if (entry === undefined) return false;
      this.appended.delete(slot);
    }
    bytes[this.liveAt + entry] = 0;
    this.dead++;
    return true;
  }

  /** Whether the copy holds the codes' prefixes (its scan re-ranks). */
  get prefixed(): boolean {
    return this.rerank !== undefined;
  }

  /**
   * Copies the codes of the next `count` slots not yet filled, through `gather` (which writes the
   * codes of a list of slots side by side, the words the copy holds of each, into its target from byte `at`:
   * {@link CodeStore.copyCodes}), and touches the scan's buffers for them; whether every slot is filled now.
   */
  fill(gather: Gather, count: number): boolean {
    const from = this.filled;
    const to = Math.min(this.copied, from + count);
    const bytes = new Uint8Array(this.kernel.memory.buffer);
    gather(this.slots.subarray(from, to), bytes, this.codesAt + from * this.words * 8, this.words);
    // The distances every scan writes: their page faults here, not in the first scan.
    bytes.fill(0, this.buffers.distancesAt + 2 * from, this.buffers.distancesAt + 2 * to);
    this.filled = to;
    return this.complete;
  }

  get complete(): boolean {
    return this.filled === this.copied;
  }

  /** Bytes of memory a copy of `count` codes of `dimension` bits and `spare` more holds (`prefixed`: one made with a re-ranking): {@link memoryBytes} before it is made. */
  static memoryFor(dimension: number, count: number, prefixed = false, spare = 0): number {
    const words = prefixed ? prefixWords(dimension) : Math.ceil(dimension / 64);
    return Math.max(1, Math.ceil(layout(words, count + spare).end / PAGE)) * PAGE + 4 * (count + spare);
  }

  /** Bytes of memory the copy holds (its kernel's memory and its slots). */
  get memoryBytes(): number {
    return this.kernel.memory.buffer.byteLength + this.slots.byteLength;
  }

  /**
   * The top `k` of the copied slots by Hamming distance to `query` (ties by slot), once {@link complete};
   * for a prefix copy, the top `k` by the whole codes of its top {@link PREFIX_SHORTLIST} × `k` (at least {@link PREFIX_SHORTLIST_MIN}) by the prefixes.
   */
  scan(query: ArrayLike<number>, k: number): CodeCandidate[] {
    if (!this.complete) throw new Error(`scan of a copy filled ${this.filled} of ${this.copied}`);
    const count = this.count;
    const { histogramAt } = this.buffers;
    const bits = this.words * 64;
    // A prefix copy's query is the query's first dimensions, as many as its codes hold.
    const length = Math.min(bits, query.length);
    const head = !this.rerank ? query : query instanceof Float32Array ? query.subarray(0, length) : Float32Array.from({ length }, (_, i) => query[i]!);
    writeScanQuery(new Uint8Array(this.kernel.memory.buffer), head, this.words, histogramAt);
    const at = { ...this.buffers, codesAt: this.codesAt, liveAt: this.liveAt };
    if (!this.rerank) return nearestInRange(this.kernel, at, this.words, this.dimension, k, count, this.slots, this.nearest);
    const top = Math.min(this.size, Math.max(PREFIX_SHORTLIST * k, PREFIX_SHORTLIST_MIN));
    // The shortlist's slots straight from the addon's answer (an object per entry cost more than its scan).
    if (this.nearest) {
      const { positions, distances } = this.nearest(this.kernel.memory.buffer, this.codesAt, this.words, count, this.liveAt, 0, top);
      return this.rerank(query, nearestSlots(positions, distances, top, this.slots), k);
    }
    return this.rerank(query, slotsOf(nearestInRange(this.kernel, at, this.words, bits, top, count, this.slots)), k);
  }
}
