/**
 * Sign-bit binarization (Unified Visual Embedding): bit i is set when `x_i > 0`, packed most
 * significant bit first within each byte, as numpy's `packbits` and USearch's `b1` quantization
 * read it. 512 dimensions → 64 bytes.
 */
export function packSignBits(vector: ArrayLike<number>, out: Uint8Array = new Uint8Array(Math.ceil(vector.length / 8)), offset = 0): Uint8Array {
  out.fill(0, offset, offset + Math.ceil(vector.length / 8));
  for (let i = 0; i < vector.length; i++) {
    if (vector[i]! > 0) out[offset + (i >> 3)]! |= 0x80 >> (i & 7);
  }
  return out;
}

/** Bits set in a 32-bit word. */
function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * Hamming distance between packed code `a` (at word offset `aWord`) and `b` (at `bWord`),
 * both viewed as 32-bit words; `words` = bytes / 4.
 */
export function hammingWords(a: Uint32Array, aWord: number, b: Uint32Array, bWord: number, words: number): number {
  let distance = 0;
  for (let i = 0; i < words; i++) distance += popcount32(a[aWord + i]! ^ b[bWord + i]!);
  return distance;
}

/** Hamming distance between two packed codes of equal length. */
export function hamming(a: Uint8Array, b: Uint8Array): number {
  let distance = 0;
  for (let i = 0; i < a.length; i++) distance += popcount32(a[i]! ^ b[i]!);
  return distance;
}
