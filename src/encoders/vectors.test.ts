import { describe, expect, it } from 'vitest';
import { l2NormalizeInPlace, splitRowsNormalized } from './vectors.js';

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
