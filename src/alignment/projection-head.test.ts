import { describe, expect, it } from 'vitest';
import { rng } from '../util/random.js';
import { anchor, backward, contrastive, forward, gaussian, ProjectionHead } from './projection-head.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

function unitRows(n: number, d: number, random: () => number): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += (x[i * d + k] = gaussian(random)) ** 2;
    for (let k = 0; k < d; k++) x[i * d + k]! /= Math.sqrt(s);
  }
  return x;
}

/** A head with B not zero, so every gradient is exercised. */
function someHead(d: number, r: number, random: () => number) {
  const head = ProjectionHead.initial(d, r, random);
  for (let i = 0; i < head.b.length; i++) head.b[i] = gaussian(random) * 0.3;
  return head;
}

/** The total loss of a batch, as training computes it: contrastive between halves plus the anchor term. */
function totalLoss(head: ProjectionHead, xa: Float32Array, xb: Float32Array, n: number, weights: Float32Array) {
  const d = head.dimension;
  const fa = forward(head, xa, n);
  const fb = forward(head, xb, n);
  const pair = contrastive(fa.z, fb.z, n, d, 0.1, weights);
  const near = anchor(fa.z, xa, n, d);
  return { loss: pair.loss + 0.5 * near.loss, fa, fb, pair, near };
}

describe('ProjectionHead', () => {
  it('starts as the identity on unit vectors', () => {
    const random = rng(1);
    const head = ProjectionHead.initial(16, 4, random);
    const x = unitRows(3, 16, random);
    const z = head.projectMany(x, 3);
    for (let i = 0; i < z.length; i++) expect(z[i]).toBeCloseTo(x[i]!, 6);
  });

  it('matches an independent computation of normalize(x + (x·A)·Bᵀ)', () => {
    const random = rng(2);
    const [d, r] = [12, 3];
    const head = someHead(d, r, random);
    const x = unitRows(1, d, random);
    // Written as plain sums over the matrices, not as the batched loops of forward().
    const y = Array.from({ length: d }, (_, k) => {
      let value = x[k]!;
      for (let j = 0; j < r; j++) {
        let xa = 0;
        for (let m = 0; m < d; m++) xa += x[m]! * head.a[m * r + j]!;
        value += xa * head.b[k * r + j]!;
      }
      return value;
    });
    const norm = Math.hypot(...y);
    const z = head.project(x);
    y.forEach((value, k) => expect(z[k]).toBeCloseTo(value / norm, 6));
  });

  it('has gradients of A and B that match finite differences of the whole loss', () => {
    const random = rng(3);
    const [d, r, n] = [10, 3, 5];
    const head = someHead(d, r, random);
    const xa = unitRows(n, d, random);
    const xb = unitRows(n, d, random);
    const weights = Float32Array.from({ length: n }, (_, i) => 1 + i * 0.5);
    const { fa, fb, pair, near } = totalLoss(head, xa, xb, n, weights);
    const gradA = new Float32Array(d * r);
    const gradB = new Float32Array(d * r);
    const dzA = pair.dza.map((g, i) => g + 0.5 * near.dz[i]!);
    backward(head, fa, dzA, gradA, gradB);
    backward(head, fb, pair.dzb, gradA, gradB);
    const h = 1e-3;
    for (const [matrix, grad] of [
      [head.a, gradA],
      [head.b, gradB],
    ] as const) {
      for (let i = 0; i < matrix.length; i++) {
        const kept = matrix[i]!;
        matrix[i] = kept + h;
        const up = totalLoss(head, xa, xb, n, weights).loss;
        matrix[i] = kept - h;
        const down = totalLoss(head, xa, xb, n, weights).loss;
        matrix[i] = kept;
        expect(grad[i]).toBeCloseTo((up - down) / (2 * h), 3);
      }
    }
  });

  it('has a contrastive loss equal to log n when every pair looks alike, and a gradient that pulls pairs together', () => {
    const d = 4;
    const same = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    expect(contrastive(same, same, 3, d, 0.5).loss).toBeCloseTo(Math.log(3), 6);
    const random = rng(4);
    const za = unitRows(4, 8, random);
    const zb = unitRows(4, 8, random);
    const { dza } = contrastive(za, zb, 4, 8, 0.1);
    // A step against the gradient raises each a-row's similarity with its own b-row.
    for (let i = 0; i < 4; i++) {
      let toward = 0;
      for (let k = 0; k < 8; k++) toward -= dza[i * 8 + k]! * zb[i * 8 + k]!;
      expect(toward).toBeGreaterThan(0);
    }
  });
});

describe('safetensors', () => {
  it('round-trips float32 tensors and metadata in the format’s layout', () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const b = Float32Array.from([-1.5, 0.25]);
    const bytes = encodeSafetensors({ a: { shape: [2, 3], data: a }, b: { shape: [2], data: b } }, { base: 'm@1' });
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString());
    expect(header.a).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    expect(header.b.data_offsets).toEqual([24, 32]);
    expect(bytes.length).toBe(8 + headerLength + 32);
    const decoded = decodeSafetensors(bytes);
    expect([...decoded.tensors.a!.data]).toEqual([...a]);
    expect(decoded.tensors.b!.shape).toEqual([2]);
    expect([...decoded.tensors.b!.data]).toEqual([...b]);
    expect(decoded.metadata).toEqual({ base: 'm@1' });
    expect(() => decodeSafetensors(bytes.subarray(0, 20))).toThrow();
  });
});
