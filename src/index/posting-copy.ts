import { createHammingKernel, kernelLayout, selectNearest, WASM_PAGE as PAGE, writeScanQuery, type HammingKernel, type ScanBuffers } from './hamming-kernel.js';
import type { CodeCandidate } from './code-store.js';

const align8 = (offset: number) => Math.ceil(offset / 8) * 8;

/** Writes the sign codes of `slots` side by side (whole 64-bit words each) into `target` from byte `at`. */
type Gather = (slots: Uint32Array, target: Uint8Array, at: number) => void;

/** A copy's memory: the query and histogram, its codes, their live bytes, then the u16 distances and u32 positions on 8-byte boundaries. */
function layout(dimension: number, count: number): ScanBuffers & { codesAt: number; liveAt: number; end: number } {
  const words = Math.ceil(dimension / 64);
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
 * It answers exactly what {@link CodeStore.scanSlots} answers for the same slots, and holds their
 * codes as they were when it was made: its owner drops it when any item changes.
 *
 * It is filled a range of slots at a time ({@link fill}): at 1M a quarter of the codes took 80 ms
 * to copy on the slower machine (30 gathering them from the scattered slots, 50 in the page faults
 * of the new memory), which its owner spreads over turns of the event loop rather than stall a
 * search. It may be scanned once every slot is filled.
 */
export class PostingCopy {
  private readonly kernel: HammingKernel;
  private readonly words: number;
  private readonly codesAt: number;
  private readonly liveAt: number;
  private readonly buffers: ScanBuffers;
  /** Slots filled so far (from the first). */
  private filled = 0;

  /** Memory for the codes of `slots` (live and distinct), to be filled by {@link fill}. */
  constructor(
    readonly dimension: number,
    readonly slots: Uint32Array,
  ) {
    this.words = Math.ceil(dimension / 64);
    this.kernel = createHammingKernel(this.words);
    const n = slots.length;
    let end: number;
    ({ codesAt: this.codesAt, liveAt: this.liveAt, end, ...this.buffers } = layout(dimension, n));
    const pages = Math.ceil(end / PAGE) - this.kernel.memory.buffer.byteLength / PAGE;
    if (pages > 0) this.kernel.memory.grow(pages);
  }

  /** A copy of `slots`' codes made at once (see {@link fill}). */
  static of(dimension: number, slots: Uint32Array, gather: Gather): PostingCopy {
    const copy = new PostingCopy(dimension, slots);
    copy.fill(gather, slots.length);
    return copy;
  }

  /**
   * Copies the codes of the next `count` slots not yet filled, through `gather` (which writes the
   * codes of a list of slots side by side, whole 64-bit words each, into its target from byte `at`:
   * {@link CodeStore.copyCodes}), and touches the scan's buffers for them; whether every slot is filled now.
   */
  fill(gather: Gather, count: number): boolean {
    const from = this.filled;
    const to = Math.min(this.slots.length, from + count);
    const bytes = new Uint8Array(this.kernel.memory.buffer);
    gather(this.slots.subarray(from, to), bytes, this.codesAt + from * this.words * 8);
    bytes.fill(1, this.liveAt + from, this.liveAt + to);
    // The distances every scan writes: their page faults here, not in the first scan.
    bytes.fill(0, this.buffers.distancesAt + 2 * from, this.buffers.distancesAt + 2 * to);
    this.filled = to;
    return this.complete;
  }

  get complete(): boolean {
    return this.filled === this.slots.length;
  }

  /** Bytes of memory a copy of `count` codes of `dimension` bits holds: {@link memoryBytes} before it is made. */
  static memoryFor(dimension: number, count: number): number {
    return Math.max(1, Math.ceil(layout(dimension, count).end / PAGE)) * PAGE + 4 * count;
  }

  /** Bytes of memory the copy holds (its kernel's memory and its slots). */
  get memoryBytes(): number {
    return this.kernel.memory.buffer.byteLength + this.slots.byteLength;
  }

  /** The top `k` of the copied slots by Hamming distance to `query` (ties by slot); once {@link complete}. */
  scan(query: ArrayLike<number>, k: number): CodeCandidate[] {
    if (!this.complete) throw new Error(`scan of a copy filled ${this.filled} of ${this.slots.length}`);
    const { histogramAt, distancesAt } = this.buffers;
    writeScanQuery(new Uint8Array(this.kernel.memory.buffer), query, this.words, histogramAt);
    this.kernel.scanRange(0, this.codesAt, 0, this.slots.length, this.liveAt, distancesAt, histogramAt);
    return selectNearest(this.kernel, this.buffers, this.dimension, k, this.slots.length, this.slots);
  }
}
