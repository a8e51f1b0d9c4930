import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hammingWords, packSignBits } from './binary-codes.js';

/**
 * The packed sign-bit codes of every slot, in memory (64 bytes per 512-d item) and in a file
 * beside the vectors, for exact Hamming scans over small or filtered subsets.
 */
export class CodeStore {
  readonly bytesPerCode: number;
  private readonly wordsPerCode: number;
  private codes: Uint8Array<ArrayBuffer>;
  private words: Uint32Array;
  private readonly fd: number;
  /** Slots written so far (the highest slot + 1). */
  slots: number;

  constructor(
    readonly path: string,
    readonly dimension: number,
  ) {
    // Whole 32-bit words per code, so scans can XOR word by word.
    this.bytesPerCode = Math.ceil(dimension / 32) * 4;
    this.wordsPerCode = this.bytesPerCode / 4;
    const existing = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
    this.slots = Math.floor(existing.length / this.bytesPerCode);
    this.codes = new Uint8Array(Math.max(1024, this.slots * 2) * this.bytesPerCode);
    this.codes.set(existing.subarray(0, this.slots * this.bytesPerCode));
    this.words = new Uint32Array(this.codes.buffer);
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
  }

  get memoryBytes(): number {
    return this.codes.byteLength;
  }

  write(slot: number, vector: ArrayLike<number>): void {
    if ((slot + 1) * this.bytesPerCode > this.codes.length) {
      const grown = new Uint8Array(Math.max(this.codes.length * 2, (slot + 1) * this.bytesPerCode));
      grown.set(this.codes);
      this.codes = grown;
      this.words = new Uint32Array(grown.buffer);
    }
    const offset = slot * this.bytesPerCode;
    packSignBits(vector, this.codes, offset);
    writeSync(this.fd, this.codes, offset, this.bytesPerCode, offset);
    this.slots = Math.max(this.slots, slot + 1);
  }

  /** A query's code in the same word layout. */
  encode(vector: ArrayLike<number>): Uint32Array {
    const bytes = new Uint8Array(this.bytesPerCode);
    packSignBits(vector, bytes);
    return new Uint32Array(bytes.buffer);
  }

  distance(query: Uint32Array, slot: number): number {
    return hammingWords(query, 0, this.words, slot * this.wordsPerCode, this.wordsPerCode);
  }

  sync(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
