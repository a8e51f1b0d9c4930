import { describe, expect, it } from 'vitest';
import { hamming, packSignBits } from './binary-codes.js';
import { fromHalf, toHalf } from './half-float.js';

describe('packSignBits', () => {
  it('sets bit i for x_i > 0, most significant bit first, like numpy.packbits', () => {
    // numpy: np.packbits(np.array([1,-1,0,2,-3,4,5,-6, 7]) > 0) == [0b10010110, 0b10000000]
    expect(Array.from(packSignBits([1, -1, 0, 2, -3, 4, 5, -6, 7]))).toEqual([0b10010110, 0b10000000]);
  });

  it('packs 512 dimensions into 64 bytes', () => {
    const vector = Float32Array.from({ length: 512 }, (_, i) => (i % 3 === 0 ? 1 : -1));
    const packed = packSignBits(vector);
    expect(packed.length).toBe(64);
    for (let i = 0; i < 512; i++) expect(((packed[i >> 3]! >> (7 - (i & 7))) & 1) === 1).toBe(i % 3 === 0);
  });

  it('measures Hamming distance as differing sign bits', () => {
    const a = packSignBits([1, 1, -1, -1, 1, 1, 1, 1, -1]);
    const b = packSignBits([1, -1, -1, 1, 1, 1, 1, 1, 1]);
    expect(hamming(a, b)).toBe(3);
    expect(hamming(a, a)).toBe(0);
  });
});

describe('half floats', () => {
  it('round-trips as numpy.float16 does', () => {
    // np.float16(x).view(np.uint16) for each x
    const cases: [number, number][] = [
      [0, 0x0000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [1e6, 0x7c00],
      [6e-8, 0x0001],
      [0.33325, 0x3555],
    ];
    for (const [value, bits] of cases) expect([value, toHalf(value)]).toEqual([value, bits]);
    expect(fromHalf(0x3555)).toBeCloseTo(0.33325, 5);
    expect(fromHalf(0x0001)).toBeCloseTo(5.96e-8, 10);
    expect(Number.isNaN(fromHalf(toHalf(NaN)))).toBe(true);
  });

  it('keeps unit-vector components within 5e-4', () => {
    for (let x = -1; x <= 1; x += 0.0137) expect(Math.abs(fromHalf(toHalf(x)) - x)).toBeLessThan(5e-4);
  });
});
