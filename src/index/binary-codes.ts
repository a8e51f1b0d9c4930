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

/**
 * The second bit of a two-bit code, beside the sign bits: bit i is set for the ⌈dimension / 3⌉
 * components of largest magnitude (ties in dimension order), packed as {@link packSignBits}. With
 * it a vector is read back as `sign_i × (m_i ? high : low)`, low and high the mean magnitudes of
 * the clear and the set components — a two-bit quantizer whose step sits near the Lloyd–Max one for
 * Gaussian components (±0.98σ: a third of them beyond). Returns `low` scaled so that the read-back
 * vector has unit length (`high` follows from it: `(1 − (n − h)·low²) / h = high²`); 0 for a
 * zero vector.
 */
export function packMagnitudeBits(vector: ArrayLike<number>, out: Uint8Array, offset = 0): number {
  const n = vector.length;
  const high = magnitudeBitsSet(n);
  out.fill(0, offset, offset + Math.ceil(n / 8));
  const magnitudes = new Float32Array(n);
  for (let i = 0; i < n; i++) magnitudes[i] = Math.abs(vector[i]!);
  // The h-th largest magnitude: every component above it is set, then those equal to it until h are.
  const cut = n > 0 ? nthSmallest(magnitudes.slice(), n - high) : 0;
  let set = 0;
  let sumHigh = 0;
  let sumLow = 0;
  for (let i = 0; i < n; i++) {
    if (magnitudes[i]! > cut) {
      out[offset + (i >> 3)]! |= 0x80 >> (i & 7);
      set++;
      sumHigh += magnitudes[i]!;
    }
  }
  for (let i = 0; i < n; i++) {
    if (magnitudes[i] !== cut) sumLow += magnitudes[i]! < cut ? magnitudes[i]! : 0;
    else if (set < high) {
      out[offset + (i >> 3)]! |= 0x80 >> (i & 7);
      set++;
      sumHigh += cut;
    } else sumLow += cut;
  }
  const low = n > high ? sumLow / (n - high) : 0;
  const upper = high > 0 ? sumHigh / high : 0;
  const norm = Math.sqrt((n - high) * low * low + high * upper * upper);
  return norm > 0 ? low / norm : 0;
}

/** How many magnitude bits {@link packMagnitudeBits} sets in an n-dimensional code. */
export function magnitudeBitsSet(n: number): number {
  return Math.ceil(n / 3);
}

/** The value of rank `k` (0 = smallest) of `values`, which it reorders: Hoare's quickselect, median-of-three pivots. */
function nthSmallest(values: Float32Array, k: number): number {
  let left = 0;
  let right = values.length - 1;
  while (right > left) {
    const middle = (left + right) >> 1;
    const a = values[left]!;
    const b = values[middle]!;
    const c = values[right]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = left;
    let j = right;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const swap = values[i]!;
        values[i++] = values[j]!;
        values[j--] = swap;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return values[k]!;
  }
  return values[k]!;
}
