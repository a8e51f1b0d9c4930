import { createHammingKernel, kernelLayout, selectNearest, WASM_PAGE as PAGE, writeScanQuery, type HammingKernel, type ScanBuffers } from './hamming-kernel.js';
import type { CodeCandidate } from './code-store.js';

const align8 = (offset: number) => Math.ceil(offset / 8) * 8;

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
 */
export class PostingCopy {
  private readonly kernel: HammingKernel;
  private readonly words: number;
  private readonly codesAt: number;
  private readonly liveAt: number;
  private readonly buffers: ScanBuffers;

  /** `slots` live and distinct; `codeOf` gives each one's sign code (as `packSignBits` packs it). */
  constructor(
    readonly dimension: number,
    readonly slots: Uint32Array,
    codeOf: (slot: number) => Uint8Array,
  ) {
    this.words = Math.ceil(dimension / 64);
    const stride = this.words * 8;
    this.kernel = createHammingKernel(this.words);
    const n = slots.length;
    let end: number;
    ({ codesAt: this.codesAt, liveAt: this.liveAt, end, ...this.buffers } = layout(dimension, n));
    const pages = Math.ceil(end / PAGE) - this.kernel.memory.buffer.byteLength / PAGE;
    if (pages > 0) this.kernel.memory.grow(pages);
    const bytes = new Uint8Array(this.kernel.memory.buffer);
    for (let i = 0; i < n; i++) {
      const code = codeOf(slots[i]!);
      bytes.set(code.length > stride ? code.subarray(0, stride) : code, this.codesAt + i * stride);
    }
    bytes.fill(1, this.liveAt, this.liveAt + n);
  }

  /** Bytes of memory a copy of `count` codes of `dimension` bits holds: {@link memoryBytes} before it is made. */
  static memoryFor(dimension: number, count: number): number {
    return Math.max(1, Math.ceil(layout(dimension, count).end / PAGE)) * PAGE + 4 * count;
  }

  /** Bytes of memory the copy holds (its kernel's memory and its slots). */
  get memoryBytes(): number {
    return this.kernel.memory.buffer.byteLength + this.slots.byteLength;
  }

  /** The top `k` of the copied slots by Hamming distance to `query` (ties by slot). */
  scan(query: ArrayLike<number>, k: number): CodeCandidate[] {
    const { histogramAt, distancesAt } = this.buffers;
    writeScanQuery(new Uint8Array(this.kernel.memory.buffer), query, this.words, histogramAt);
    this.kernel.scanRange(0, this.codesAt, 0, this.slots.length, this.liveAt, distancesAt, histogramAt);
    return selectNearest(this.kernel, this.buffers, this.dimension, k, this.slots.length, this.slots);
  }
}
