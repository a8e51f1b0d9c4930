import { closeSync, existsSync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { magnitudeBitsSet, packMagnitudeBits, packSignBits } from './binary-codes.js';
import { createHammingKernel, kernelLayout, nearestInRange, nearestOf, SCAN_LOOKAHEAD, selectNearest, WASM_PAGE as PAGE, writeScanQuery, type HammingKernel } from './hamming-kernel.js';
import { nativeHelper, type EstimateQuery, type NativeEstimateDots, type NativeNearestCodes, type NativeNearestListed } from './native-graph.js';

const fsyncAsync = promisify(fsync);
const roundUp = (value: number, multiple: number) => Math.ceil(value / multiple) * multiple;

/** Reads `length` bytes of a file from `position` into `target` at `offset`. */
function readFully(fd: number, target: Uint8Array, offset: number, length: number, position: number): void {
  for (let read = 0; read < length; ) {
    const got = readSync(fd, target, offset + read, length - read, position + read);
    if (got === 0) throw new Error(`file ended ${length - read} bytes short of byte ${position + length}`);
    read += got;
  }
}

/** Calls `each` with every fixed-size record of the first `count` in a file, read a megabyte or so at a time. */
function readRecords(fd: number, size: number, count: number, each: (record: Buffer, index: number) => void): void {
  const perRead = Math.max(1, Math.floor(1_048_576 / size));
  const buffer = Buffer.alloc(perRead * size);
  for (let first = 0; first < count; first += perRead) {
    const n = Math.min(perRead, count - first);
    readFully(fd, buffer, 0, n * size, first * size);
    for (let i = 0; i < n; i++) each(buffer.subarray(i * size, (i + 1) * size), first + i);
  }
}

/** A slot and its Hamming distance to a query. */
export interface CodeCandidate {
  readonly slot: number;
  readonly hamming: number;
}

/** The candidates' slots, in their order, by a loop (a mapping `Uint32Array.from` takes V8's generic path: ~0.1 µs an entry). */
export function slotsOf(candidates: readonly { readonly slot: number }[]): Uint32Array {
  const slots = new Uint32Array(candidates.length);
  for (let i = 0; i < candidates.length; i++) slots[i] = candidates[i]!.slot;
  return slots;
}

/**
 * The packed sign-bit codes of every slot (64 bytes per 512-d item), in memory and in a file
 * beside the vectors, with which slots are live, for exact Hamming scans of the whole index or of
 * a filtered subset. The codes live in a WebAssembly memory that a generated kernel
 * ({@link createHammingKernel}) scans with 64-bit popcounts: ~0.6 ms per 100k codes on one core.
 *
 * The file keeps the layout it always had (each code padded to whole 32-bit words); in memory each
 * code is padded to whole 64-bit words. Memory layout, for a capacity of C slots:
 * `[query | histogram]` in the first pages, then codes (C × stride), live flags (C bytes),
 * distances (C u16), a slot list (C u32) and the positions within the cut (C u32) for the kernel.
 *
 * Beside each sign code it keeps a magnitude code ({@link packMagnitudeBits}: one more bit per
 * dimension and the vector's low level, 68 bytes per 512-d item, in `codes.m1`), with which
 * {@link estimateDots} ranks candidates by a two-bit reading of their vectors: the step between the
 * Hamming search and the float rescoring, which then needs a third of the candidates.
 */
/** See {@link CodeStore.sharedCodes}. */
export interface SharedCodes {
  readonly buffer: ArrayBuffer;
  readonly offset: number;
  readonly stride: number;
  readonly slots: number;
}

/**
 * Zeroed memory for the magnitude planes and levels, which walks by the two-bit estimate read at
 * random: from the addon in huge pages where it is built ({@link nativeHelper}), else a plain buffer.
 */
function allocate(bytes: number): ArrayBuffer {
  const huge = nativeHelper('hugeBuffer');
  return huge ? huge(bytes) : new ArrayBuffer(bytes);
}

export class CodeStore {
  /** Bytes per code in the file. */
  readonly bytesPerCode: number;
  private readonly stride: number;
  private readonly kernel: HammingKernel;
  private readonly histogramAt: number;
  private readonly codesAt: number;
  private capacity = 0;
  private bytes!: Uint8Array<ArrayBuffer>;
  private readonly fd: number;
  /** Slots written so far (the highest slot + 1). */
  slots: number;
  /** Per-query sums for {@link signedDots}: for each code byte, the query's values summed over each subset of its 8 bits. */
  private readonly byteSums: Float32Array;
  /** Bytes of one magnitude plane; a record of the magnitude file is the plane and the low level (f32). */
  private readonly planeBytes: number;
  private readonly magnitudeFd: number;
  /** Counts the times the codes' memory has grown (see {@link sharedCodes}). */
  memoryGeneration = 0;
  /** Magnitude planes (capacity × planeBytes) and low levels, in slot order. */
  private planes = new Uint8Array(0);
  private lows = new Float32Array(0);
  /** Slots the magnitude file holds (the highest written + 1): an index made before it existed has none. */
  magnitudeSlots: number;
  /** The sum of the bytes {@link loadAhead} last read (only so that its loads stay). */
  private loaded = 0;
  /** The addon's loop for {@link estimateDots} (the same results), where it is built and LOOKBOOK_GRAPH does not ask for USearch's binding. */
  private readonly nativeEstimate: NativeEstimateDots | undefined = nativeHelper('estimateDots');
  private readonly nativeByteSums = nativeHelper('byteSums');
  private readonly walksReadSums = nativeHelper('walksReadSums');
  private readonly adviseHuge = nativeHelper('adviseHuge');
  /** The addon's one-pass scan for {@link scanAll} (the same answer; see {@link nearestInRange}). */
  private readonly nativeNearest: NativeNearestCodes | undefined = nativeHelper('nearestCodes');
  /** The addon's list scan for {@link scanSlots} and {@link scanWritten} (the same answer). */
  private readonly nativeListed: NativeNearestListed | undefined = nativeHelper('nearestListed');
  /** One magnitude file record, reused by each write. */
  private readonly record: Buffer;

  /** `path` holds the sign codes, `magnitudePath` the magnitude codes (by default `path` with `.m1` for its extension). */
  constructor(
    readonly path: string,
    readonly dimension: number,
    readonly magnitudePath = path.replace(/(\.[^./]*)?$/, '.m1'),
    /** How far ahead a list scan loads codes (bench/search compares it with none). */
    scanLookahead = SCAN_LOOKAHEAD,
  ) {
    // Whole 32-bit words per code in the file (the layout it has always had).
    this.bytesPerCode = Math.ceil(dimension / 32) * 4;
    const words = Math.ceil(dimension / 64);
    this.stride = words * 8;
    this.kernel = createHammingKernel(words, scanLookahead);
    this.planeBytes = Math.ceil(dimension / 8);
    this.record = Buffer.alloc(this.bytesPerMagnitude);
    ({ histogramAt: this.histogramAt, codesAt: this.codesAt } = kernelLayout(words));
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    this.magnitudeFd = openSync(magnitudePath, existsSync(magnitudePath) ? 'r+' : 'w+');
    this.slots = Math.floor(fstatSync(this.fd).size / this.bytesPerCode);
    this.magnitudeSlots = Math.floor(fstatSync(this.magnitudeFd).size / this.bytesPerMagnitude);
    this.refresh();
    this.reserve(Math.max(1024, Math.ceil(Math.max(this.slots, this.magnitudeSlots) * 1.25)));
    // Straight into place where the layouts agree, else through one small buffer: a whole file's buffer would stay in the heap's resident memory after it is freed.
    if (this.bytesPerCode === this.stride) readFully(this.fd, this.bytes, this.codesAt, this.slots * this.stride, 0);
    else readRecords(this.fd, this.bytesPerCode, this.slots, (record, slot) => this.bytes.set(record, this.codesAt + slot * this.stride));
    readRecords(this.magnitudeFd, this.bytesPerMagnitude, this.magnitudeSlots, (record, slot) => {
      this.planes.set(record.subarray(0, this.planeBytes), slot * this.planeBytes);
      this.lows[slot] = record.readFloatLE(this.planeBytes);
    });
    // Single precision keeps the table (64 × 256 sums for 512-d) within the CPU's L1/L2 caches; ranking needs no more.
    this.byteSums = new Float32Array(Math.ceil(dimension / 8) * 256);
  }

  private get liveAt(): number {
    return this.codesAt + this.capacity * this.stride;
  }

  private get distancesAt(): number {
    return this.liveAt + this.capacity;
  }

  private get listAt(): number {
    return this.distancesAt + 2 * this.capacity;
  }

  private get foundAt(): number {
    return this.listAt + 4 * this.capacity;
  }

  private refresh(): void {
    this.bytes = new Uint8Array(this.kernel.memory.buffer);
  }

  /** Makes room for `slots` slots: grows the memory and moves the live flags up behind the codes. */
  private reserve(slots: number): void {
    if (slots <= this.capacity) return;
    const capacity = roundUp(Math.max(slots, Math.ceil(this.capacity * 1.5)), 64);
    const oldLive = this.liveAt;
    const oldCapacity = this.capacity;
    const needed = this.codesAt + capacity * (this.stride + 11);
    const pages = Math.ceil(needed / PAGE) - this.kernel.memory.buffer.byteLength / PAGE;
    if (pages > 0) {
      this.kernel.memory.grow(pages);
      // The codes, which walks read at random, in huge pages where the system gives them (the grown part is a mapping of its own).
      this.adviseHuge?.(this.kernel.memory.buffer);
    }
    this.refresh();
    this.memoryGeneration += 1;
    this.capacity = capacity;
    this.bytes.copyWithin(this.liveAt, oldLive, oldLive + oldCapacity);
    this.bytes.fill(0, this.liveAt + oldCapacity, this.liveAt + capacity);
    this.reservePlanes(capacity);
  }

  private reservePlanes(slots: number): void {
    if (slots <= this.lows.length) return;
    const planes = new Uint8Array(allocate(slots * this.planeBytes));
    planes.set(this.planes);
    this.planes = planes;
    const lows = new Float32Array(allocate(slots * 4));
    lows.set(this.lows);
    this.lows = lows;
  }

  /** Bytes per slot of the magnitude file. */
  get bytesPerMagnitude(): number {
    return this.planeBytes + 4;
  }

  /** Bytes of memory the codes and scan buffers take (reserved; untouched pages are not resident). */
  get memoryBytes(): number {
    return this.kernel.memory.buffer.byteLength;
  }

  /** Writes a slot's code to memory and (unsynced) to the file; the slot is not live until {@link setLive}. */
  write(slot: number, vector: ArrayLike<number>): void {
    this.reserve(slot + 1);
    const offset = this.codesAt + slot * this.stride;
    // The padding too: this memory may have held live flags before they moved up.
    this.bytes.fill(0, offset, offset + this.stride);
    packSignBits(vector, this.bytes, offset);
    writeSync(this.fd, this.bytes, offset, this.bytesPerCode, slot * this.bytesPerCode);
    this.slots = Math.max(this.slots, slot + 1);
    this.writeMagnitude(slot, vector);
  }

  /** Writes a slot's magnitude code alone, to memory and (unsynced) to its file: {@link write} does both codes. */
  writeMagnitude(slot: number, vector: ArrayLike<number>): void {
    this.reserve(slot + 1);
    const record = this.record;
    record.writeFloatLE(packMagnitudeBits(vector, record), this.planeBytes);
    this.planes.set(record.subarray(0, this.planeBytes), slot * this.planeBytes);
    this.lows[slot] = record.readFloatLE(this.planeBytes);
    writeSync(this.magnitudeFd, record, 0, record.length, slot * record.length);
    this.magnitudeSlots = Math.max(this.magnitudeSlots, slot + 1);
  }

  /**
   * Where the sign codes are held, for the native graph to read instead of keeping its own copy:
   * slot k's code at `offset + k × stride` of `buffer` (the kernel's memory, replaced by another
   * buffer object when it grows: {@link memoryGeneration} counts up), for slots below `slots`.
   */
  sharedCodes(): SharedCodes {
    return { buffer: this.kernel.memory.buffer, offset: this.codesAt, stride: this.stride, slots: this.capacity };
  }

  /** A slot's sign code as it is held (a view, valid until the next write grows the memory). */
  codeOf(slot: number): Uint8Array {
    const offset = this.codesAt + slot * this.stride;
    return this.bytes.subarray(offset, offset + this.stride);
  }

  /**
   * Writes the codes of `slots` side by side into `target` from byte `at` (a multiple of 4), each as
   * it is held (whole 64-bit words), word by word: all of each code, or its first `words` 64-bit
   * words. Bound by the scattered reads: 250k codes of a 1M index took ~28 ms on the slower machine
   * (the same as a view and a `set` per code).
   */
  copyCodes(slots: Uint32Array, target: Uint8Array, at: number, words = this.stride / 8): void {
    const stride = this.stride / 4;
    const copied = Math.min(stride, 2 * words);
    const from = new Int32Array(this.kernel.memory.buffer, this.codesAt, this.capacity * stride);
    const to = new Int32Array(target.buffer, target.byteOffset + at, slots.length * copied);
    for (let i = 0, o = 0; i < slots.length; i++) {
      const start = slots[i]! * stride;
      for (let w = 0; w < copied; w++) to[o++] = from[start + w]!;
    }
  }

  setLive(slot: number, live: boolean): void {
    this.reserve(slot + 1);
    this.bytes[this.liveAt + slot] = live ? 1 : 0;
  }

  isLive(slot: number): boolean {
    return slot < this.capacity && this.bytes[this.liveAt + slot] === 1;
  }

  /** Every live slot in ascending order. */
  liveSlots(): number[] {
    const out: number[] = [];
    const live = this.liveAt;
    for (let slot = 0; slot < this.slots; slot++) if (this.bytes[live + slot] === 1) out.push(slot);
    return out;
  }

  private writeQuery(query: ArrayLike<number>): void {
    writeScanQuery(this.bytes, query, this.stride / 8, this.histogramAt);
  }

  /** The top `k` live slots by Hamming distance to `query` (ties by slot), scanning every code. */
  scanAll(query: ArrayLike<number>, k: number): CodeCandidate[] {
    return this.scanRange(query, k, 0, this.slots);
  }

  /**
   * {@link scanAll} over slots `from` to `to` − 1 only: a scan of every code taken in parts (the ef's
   * measurement). `from` a multiple of 64, so that the codes it starts at keep their alignment.
   */
  scanRange(query: ArrayLike<number>, k: number, from: number, to: number): CodeCandidate[] {
    if (from % 64 !== 0) throw new Error(`a range of codes starts at a multiple of 64, not ${from}`);
    this.writeQuery(query);
    const at = { histogramAt: this.histogramAt, distancesAt: this.distancesAt, foundAt: this.foundAt, codesAt: this.codesAt + from * this.stride, liveAt: this.liveAt + from };
    const found = nearestInRange(this.kernel, at, this.stride / 8, this.dimension, k, Math.max(0, Math.min(to, this.slots) - from), undefined, this.nativeNearest);
    return from > 0 ? found.map(({ slot, hamming }) => ({ slot: slot + from, hamming })) : found;
  }

  /** The top `k` of the given slots (live, distinct) by Hamming distance to `query` (ties by slot). */
  scanSlots(query: ArrayLike<number>, slots: ArrayLike<number>, k: number): CodeCandidate[] {
    if (slots.length > this.capacity) throw new Error(`${slots.length} slots to scan, room for ${this.capacity}`);
    return this.scanWritten(
      query,
      (list) => {
        list.set(slots);
        return slots.length;
      },
      k,
    );
  }

  /**
   * {@link scanSlots} of the slots `write` puts straight into the kernel's slot list (room for every
   * slot; it returns how many it wrote): a posting list is copied once, not into an array first.
   */
  scanWritten(query: ArrayLike<number>, write: (list: Uint32Array) => number, k: number): CodeCandidate[] {
    this.writeQuery(query);
    const room = new Uint32Array(this.kernel.memory.buffer, this.listAt, this.capacity);
    const count = write(room);
    if (this.nativeListed) {
      const { positions, distances } = this.nativeListed(this.kernel.memory.buffer, this.codesAt, this.stride / 8, this.listAt, count, 0, k);
      return nearestOf(positions, distances, k, room);
    }
    this.kernel.scanList(0, this.codesAt, this.listAt, count, this.distancesAt, this.histogramAt);
    return this.select(k, count, room.subarray(0, count));
  }

  /**
   * The dot product of the float `query` with each slot's sign vector (+1 where the bit is set, −1
   * elsewhere), into `out`: an asymmetric distance, which ranks the float neighbours of a query
   * much more faithfully than the Hamming distance between two codes (only the stored side is
   * quantized), at one table lookup per code byte: the second stage of a filtered search, between
   * the Hamming scan and the float rescoring.
   */
  signedDots(query: ArrayLike<number>, slots: ArrayLike<number>, out: Float64Array): void {
    const bytes = this.planeBytes;
    const sums = this.byteSums;
    const total = this.fillByteSums(query);
    const memory = this.bytes;
    this.loadAhead(slots, false);
    for (let i = 0; i < slots.length; i++) {
      const offset = this.codesAt + slots[i]! * this.stride;
      let sum = 0;
      for (let position = 0; position < bytes; position++) sum += sums[position * 256 + memory[offset + position]!]!;
      out[i] = 2 * sum - total;
    }
  }

  /**
   * Reads each slot's sign code (its first and last byte), and with `magnitudes` its magnitude plane
   * and low level, in a loop short enough for the CPU to keep dozens of these loads in flight: the
   * dot products' per-slot loops are too long for it to look ahead into the next slot, so at 1M,
   * where a graph walk's candidates are far from the caches, each slot's misses were waited for in
   * turn (~250 ns a miss on this VM; bench:usearch-walk in the README). At 1M, a search with and
   * without it in turns: 0.93–0.94× the time at M16, ef 256 (256 candidates) and at M32, ef 64.
   */
  private loadAhead(slots: ArrayLike<number>, magnitudes: boolean): void {
    const memory = this.bytes;
    const last = this.stride - 1;
    let sum = 0;
    if (magnitudes) {
      const planes = this.planes;
      const lows = this.lows;
      const planeLast = this.planeBytes - 1;
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i]!;
        const offset = this.codesAt + slot * this.stride;
        const plane = slot * this.planeBytes;
        sum += memory[offset]! + memory[offset + last]! + planes[plane]! + planes[plane + planeLast]! + lows[slot]!;
      }
    } else {
      for (let i = 0; i < slots.length; i++) {
        const offset = this.codesAt + slots[i]! * this.stride;
        sum += memory[offset]! + memory[offset + last]!;
      }
    }
    // Kept, so that the loads are not optimised away.
    this.loaded = sum;
  }

  /**
   * The dot product of the float `query` with each slot's two-bit vector (sign × low or high
   * level, of unit length; see {@link packMagnitudeBits}), into `out`: an estimate of the cosine
   * that ranks a query's float neighbours as well as the signed dot product of {@link signedDots}
   * does with three times the candidates (bench/search at 1M: the top 80 of a 10 % filter's items
   * held 0.98 of their float top 10 against 0.83). Three table lookups per code byte; every slot
   * must have a magnitude code.
   */
  estimateDots(query: ArrayLike<number>, slots: ArrayLike<number>, out: Float64Array): void {
    const bytes = this.planeBytes;
    const sums = this.byteSums;
    const total = this.fillByteSums(query);
    const memory = this.bytes;
    const planes = this.planes;
    const highCount = magnitudeBitsSet(this.dimension);
    const lowCount = this.dimension - highCount;
    if (this.nativeEstimate) {
      const list = slots instanceof Uint32Array ? slots : Uint32Array.from(slots);
      this.loaded = this.nativeEstimate(memory, this.codesAt, this.stride, planes, bytes, this.lows, sums, total, highCount, lowCount, list, out);
      return;
    }
    this.loadAhead(slots, true);
    const chains = new Float64Array(12);
    // Bytes in whole fours; those after them go to chains 0, 1, 2 in turn.
    const whole = bytes - (bytes % 4);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      const offset = this.codesAt + slot * this.stride;
      const plane = slot * bytes;
      // signs: Σ over set sign bits; both: over set sign and magnitude bits; magnitudes: over set magnitude bits. Each in four
      // chains, byte j of each four into chain j, summed (0 + 1) + (2 + 3): the addon's order (its chains run side by side).
      chains.fill(0);
      for (let position = 0; position < bytes; position++) {
        const sign = memory[offset + position]!;
        const magnitude = planes[plane + position]!;
        const base = position * 256;
        const chain = position < whole ? position & 3 : position - whole;
        chains[chain] = chains[chain]! + sums[base + sign]!;
        chains[4 + chain] = chains[4 + chain]! + sums[base + (sign & magnitude)]!;
        chains[8 + chain] = chains[8 + chain]! + sums[base + magnitude]!;
      }
      const signs = chains[0]! + chains[1]! + (chains[2]! + chains[3]!);
      const both = chains[4]! + chains[5]! + (chains[6]! + chains[7]!);
      const magnitudes = chains[8]! + chains[9]! + (chains[10]! + chains[11]!);
      const lowLevel = this.lows[slot]!;
      const highLevel = Math.sqrt(Math.max(0, 1 - lowCount * lowLevel * lowLevel) / highCount);
      // Σ sign·q over every component, and over the high ones.
      out[i] = lowLevel * (2 * signs - total) + (highLevel - lowLevel) * (2 * both - magnitudes);
    }
  }

  /**
   * What the native graph needs to walk by the two-bit estimate of {@link estimateDots} for `query`
   * (the byte sums are this store's, rewritten by the next query, and written only where the walk
   * reads them), or undefined when a written slot has no magnitude code (an index made before they
   * existed).
   */
  estimateQuery(query: ArrayLike<number>): EstimateQuery | undefined {
    if (this.magnitudeSlots < this.slots) return undefined;
    // The byte sums only where the walk reads them (see NativeGraphModule.walksReadSums): the table is 64 kB at 512 dimensions.
    // The total as fillByteSums sums it (in order, in doubles), which the estimates handed over use.
    const total = this.walksReadSums?.() === false ? this.componentSum(query) : this.fillByteSums(query);
    let squares = 0;
    for (let i = 0; i < this.dimension; i++) squares += query[i]! * query[i]!;
    const highCount = magnitudeBitsSet(this.dimension);
    return { planes: this.planes, planeBytes: this.planeBytes, lows: this.lows, sums: this.byteSums, total, highCount, lowCount: this.dimension - highCount, norm: Math.sqrt(squares) };
  }

  /** The sum of the query's components, in order, in doubles (as the addon's byteSums sums them). */
  private componentSum(query: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < this.dimension; i++) total += query[i]!;
    return total;
  }

  /** Fills {@link byteSums} for `query`; returns the sum of its components. */
  private fillByteSums(query: ArrayLike<number>): number {
    const sums = this.byteSums;
    if (this.nativeByteSums && query instanceof Float32Array && query.length >= this.dimension) return this.nativeByteSums(query, this.dimension, sums);
    const total = this.componentSum(query);
    for (let position = 0; position < this.planeBytes; position++) {
      const base = position * 256;
      sums[base] = 0;
      // Subsets of the low bits first, then each with the next bit added; bit b stands for dimension 8·position + (7 − b): most significant bit first.
      for (let bit = 0, half = 1; bit < 8; bit++, half <<= 1) {
        const dimension = position * 8 + 7 - bit;
        const weight = dimension < this.dimension ? query[dimension]! : 0;
        for (let value = 0; value < half; value++) sums[base + half + value] = sums[base + value]! + weight;
      }
    }
    return total;
  }

  /** The `k` nearest of the codes just scanned (see {@link selectNearest}). */
  private select(k: number, count: number, list?: Uint32Array): CodeCandidate[] {
    return selectNearest(this.kernel, { histogramAt: this.histogramAt, distancesAt: this.distancesAt, foundAt: this.foundAt }, this.dimension, k, count, list);
  }

  /** Cuts the file (and the slot count) to `slots` slots; every slot from there on must be free. */
  truncate(slots: number): void {
    ftruncateSync(this.fd, slots * this.bytesPerCode);
    ftruncateSync(this.magnitudeFd, Math.min(slots, this.magnitudeSlots) * this.bytesPerMagnitude);
    this.bytes.fill(0, this.liveAt + slots, this.liveAt + this.slots);
    this.slots = Math.min(this.slots, slots);
    this.magnitudeSlots = Math.min(this.magnitudeSlots, slots);
  }

  /** Bytes of both files. */
  get fileBytes(): number {
    return this.slots * this.bytesPerCode + this.magnitudeSlots * this.bytesPerMagnitude;
  }

  sync(): void {
    fsyncSync(this.fd);
    fsyncSync(this.magnitudeFd);
  }

  /** fsync on libuv's thread pool: the event loop keeps serving meanwhile. */
  async syncAsync(): Promise<void> {
    await Promise.all([fsyncAsync(this.fd), fsyncAsync(this.magnitudeFd)]);
  }

  close(): void {
    closeSync(this.fd);
    closeSync(this.magnitudeFd);
  }
}
