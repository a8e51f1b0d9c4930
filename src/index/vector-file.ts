import { closeSync, existsSync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { fromHalf, toHalf } from './half-float.js';
import { nativeHelper, type NativeDotMany } from './native-graph.js';

export type VectorStorage = 'f32' | 'f16';

const fsyncAsync = promisify(fsync);

/** Every binary16 bit pattern as a float (256 KiB), so rescoring f16 vectors is a lookup per value. */
const HALF_TO_FLOAT = Float32Array.from({ length: 65_536 }, (_, bits) => fromHalf(bits));

/**
 * The dot product of `query` with the `dimension` values of a stored vector from `base` of `values`
 * (floats, or binary16 bit patterns, converted through HALF_TO_FLOAT): in doubles, component d into
 * partial sum d mod 8, combined as ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)). The addon's
 * dotMany (lane_dot in native/graph.cpp) sums in this order, so the two agree to the last bit: a
 * float times a float is exact in a double, every add rounds once. Eight running sums, because one
 * made the addon wait on each add in turn (~0.6 µs of a 512-d vector's ~2.5 µs read and sum).
 */
export function laneDot(query: Float32Array, values: Float32Array | Uint16Array, base: number, dimension: number): number {
  const table = values instanceof Uint16Array ? HALF_TO_FLOAT : undefined;
  const at = (d: number) => (table ? table[values[base + d]!]! : values[base + d]!);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  let d = 0;
  for (; d + 8 <= dimension; d += 8) {
    s0 += query[d]! * at(d);
    s1 += query[d + 1]! * at(d + 1);
    s2 += query[d + 2]! * at(d + 2);
    s3 += query[d + 3]! * at(d + 3);
    s4 += query[d + 4]! * at(d + 4);
    s5 += query[d + 5]! * at(d + 5);
    s6 += query[d + 6]! * at(d + 6);
    s7 += query[d + 7]! * at(d + 7);
  }
  if (d < dimension) {
    // The last dimension mod 8 components, into the first partial sums.
    const rest = [s0, s1, s2, s3, s4, s5, s6, s7];
    for (let j = 0; d + j < dimension; j++) rest[j]! += query[d + j]! * at(d + j);
    [s0, s1, s2, s3, s4, s5, s6, s7] = rest as [number, number, number, number, number, number, number, number];
  }
  return s0 + s1 + (s2 + s3) + (s4 + s5 + (s6 + s7));
}

/**
 * Float vectors in fixed-size slots of one file, read with positioned reads: the operating
 * system's page cache holds what is hot, so the process's own memory holds none of them
 * (the role a memory map plays). Slot `i` starts at byte `i × dimension × bytesPerValue`.
 * Writes are followed by {@link sync} before the catalog commits the rows that point at them.
 */
export class VectorFile {
  private readonly fd: number;
  private readonly bytesPerVector: number;
  private readonly scratch: Buffer;
  /** Where {@link dotMany} reads candidate vectors, grown to the largest pool seen. */
  private pool: Buffer = Buffer.alloc(0);

  constructor(
    readonly path: string,
    readonly dimension: number,
    readonly storage: VectorStorage,
  ) {
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    this.bytesPerVector = dimension * (storage === 'f32' ? 4 : 2);
    this.scratch = Buffer.alloc(this.bytesPerVector);
    // Buffer.alloc owns its ArrayBuffer at offset 0, so a float view is aligned; the file is little-endian, as x86 and ARM hosts are.
    this.floats = storage === 'f32' ? new Float32Array(this.scratch.buffer, this.scratch.byteOffset, dimension) : new Float32Array(0);
    this.nativeDotMany = nativeHelper('dotMany');
  }

  private readonly floats: Float32Array;
  /** The addon's dotMany (native/graph.cpp): the same sums, without a trip through Node's fs per vector. */
  private readonly nativeDotMany: NativeDotMany | undefined;

  /** Slots the file has room for (a torn last write is ignored). */
  get slots(): number {
    return Math.floor(fstatSync(this.fd).size / this.bytesPerVector);
  }

  get bytes(): number {
    return fstatSync(this.fd).size;
  }

  write(slot: number, vector: ArrayLike<number>): void {
    if (vector.length !== this.dimension) throw new Error(`vector has ${vector.length} dimensions, the file ${this.dimension}`);
    // Little-endian in memory, as the file is (x86 and ARM hosts alike): copy the values as they are.
    const values = this.storage === 'f32' ? Float32Array.from(vector) : Uint16Array.from(vector, (x) => toHalf(x));
    writeSync(this.fd, new Uint8Array(values.buffer), 0, this.bytesPerVector, slot * this.bytesPerVector);
  }

  read(slot: number, out = new Float32Array(this.dimension)): Float32Array {
    const read = readSync(this.fd, this.scratch, 0, this.bytesPerVector, slot * this.bytesPerVector);
    if (read !== this.bytesPerVector) throw new Error(`vector slot ${slot} is missing from ${this.path}`);
    if (this.storage === 'f32') out.set(this.floats);
    else {
      const table = HALF_TO_FLOAT;
      const halves = new Uint16Array(this.scratch.buffer, this.scratch.byteOffset, this.dimension);
      for (let i = 0; i < this.dimension; i++) out[i] = table[halves[i]!]!;
    }
    return out;
  }

  /**
   * Dot products of `query` with the vectors in `slots` (any order, repeats allowed), into `out`:
   * the slots are read in ascending order into one reused buffer, a run of adjacent slots with one
   * read, so a pool of candidates costs one pass over the file and no allocation.
   */
  dotMany(slots: ArrayLike<number>, query: Float32Array, out: Float64Array): void {
    const n = slots.length;
    if (n === 0) return;
    if (this.nativeDotMany && query.length === this.dimension) {
      try {
        this.nativeDotMany(this.fd, slots instanceof Uint32Array ? slots : Uint32Array.from(slots), this.storage, query, out);
      } catch (error) {
        throw new Error(`${error instanceof Error ? error.message : String(error)} (${this.path})`, { cause: error });
      }
      return;
    }
    const bytes = this.bytesPerVector;
    if (this.pool.length < n * bytes) this.pool = Buffer.alloc(Math.max(n, 64) * bytes);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => slots[a]! - slots[b]!);
    let i = 0;
    while (i < n) {
      // A run of consecutive slots is one read into consecutive pool rows.
      let j = i + 1;
      while (j < n && slots[order[j]!]! === slots[order[j - 1]!]! + 1) j++;
      const first = slots[order[i]!]!;
      const length = (j - i) * bytes;
      const read = readSync(this.fd, this.pool, i * bytes, length, first * bytes);
      if (read !== length) throw new Error(`vector slot ${first + Math.floor(read / bytes)} is missing from ${this.path}`);
      i = j;
    }
    const dimension = this.dimension;
    const values = this.storage === 'f32' ? new Float32Array(this.pool.buffer, this.pool.byteOffset, n * dimension) : new Uint16Array(this.pool.buffer, this.pool.byteOffset, n * dimension);
    for (let row = 0; row < n; row++) out[order[row]!] = laneDot(query, values, row * dimension, dimension);
  }

  /** Dot product of `query` with the vector in `slot`, without allocating. */
  dot(slot: number, query: Float32Array): number {
    const read = readSync(this.fd, this.scratch, 0, this.bytesPerVector, slot * this.bytesPerVector);
    if (read !== this.bytesPerVector) throw new Error(`vector slot ${slot} is missing from ${this.path}`);
    const values = this.storage === 'f32' ? this.floats : new Uint16Array(this.scratch.buffer, this.scratch.byteOffset, this.dimension);
    return laneDot(query, values, 0, this.dimension);
  }

  sync(): void {
    fsyncSync(this.fd);
  }

  /** Cuts the file to `slots` slots (every later slot must be free). */
  truncate(slots: number): void {
    ftruncateSync(this.fd, slots * this.bytesPerVector);
  }

  get bytesPerSlot(): number {
    return this.bytesPerVector;
  }

  /** fsync on libuv's thread pool: the event loop keeps serving meanwhile. */
  syncAsync(): Promise<void> {
    return fsyncAsync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
