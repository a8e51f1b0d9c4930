import { closeSync, existsSync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { fromHalf, toHalf } from './half-float.js';

export type VectorStorage = 'f32' | 'f16';

const fsyncAsync = promisify(fsync);

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
  }

  private readonly floats: Float32Array;

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
    if (this.storage === 'f32') for (let i = 0; i < this.dimension; i++) out[i] = this.scratch.readFloatLE(i * 4);
    else for (let i = 0; i < this.dimension; i++) out[i] = fromHalf(this.scratch.readUInt16LE(i * 2));
    return out;
  }

  /** Dot product of `query` with the vector in `slot`, without allocating. */
  dot(slot: number, query: Float32Array): number {
    const read = readSync(this.fd, this.scratch, 0, this.bytesPerVector, slot * this.bytesPerVector);
    if (read !== this.bytesPerVector) throw new Error(`vector slot ${slot} is missing from ${this.path}`);
    let sum = 0;
    if (this.storage === 'f32') {
      const values = this.floats;
      for (let i = 0; i < this.dimension; i++) sum += query[i]! * values[i]!;
    } else for (let i = 0; i < this.dimension; i++) sum += query[i]! * fromHalf(this.scratch.readUInt16LE(i * 2));
    return sum;
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
