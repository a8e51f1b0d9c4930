import { describe, expect, it } from 'vitest';
import { packSignBits } from '../index/binary-codes.js';
import { l2NormalizeInPlace, splitRowsNormalized } from './vectors.js';

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
});

describe('normalization', () => {
  it('scales to unit length and leaves a zero vector alone', () => {
    const v = l2NormalizeInPlace(Float32Array.from([3, 4]));
    expect(Array.from(v)).toEqual([0.6000000238418579, 0.800000011920929]);
    expect(Array.from(l2NormalizeInPlace(new Float32Array(3)))).toEqual([0, 0, 0]);
  });

  it('splits a matrix into normalized rows', () => {
    const rows = splitRowsNormalized(Float32Array.from([3, 4, 0, 5]), 2, 2);
    expect(rows.map((r) => Array.from(r))).toEqual([
      [0.6000000238418579, 0.800000011920929],
      [0, 1],
    ]);
  });
});
