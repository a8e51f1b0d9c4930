import { describe, expect, it } from 'vitest';
import { rng } from '../util/random.js';
import { gaussian } from './projection-head.js';
import { DEFAULT_ALIGNMENT_OPTIONS, trainAlignment, type AlignmentData } from './trainer.js';

/**
 * A catalog whose boards group items by a hidden trait that the base embeddings show only
 * faintly (a small shift within a few directions, buried in noise in all of them); each item also
 * has a text whose embedding is its image's plus noise.
 */
function catalog(items: number, boards: number, d: number, seed: number): AlignmentData {
  const random = rng(seed);
  const basis = Array.from({ length: 4 }, () => Float32Array.from({ length: d }, () => gaussian(random)));
  const traits = Array.from({ length: boards }, () => {
    const mix = basis.map(() => gaussian(random) / 2);
    return Float32Array.from({ length: d }, (_, k) => basis.reduce((sum, direction, m) => sum + mix[m]! * direction[k]!, 0));
  });
  const vectors = new Float32Array(items * d);
  const texts = new Float32Array(items * d);
  const members: number[][] = Array.from({ length: boards }, () => []);
  const unit = (v: Float32Array, offset: number) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += v[offset + k]! ** 2;
    for (let k = 0; k < d; k++) v[offset + k]! /= Math.sqrt(s);
  };
  for (let i = 0; i < items; i++) {
    const board = i % boards;
    members[board]!.push(i);
    for (let k = 0; k < d; k++) vectors[i * d + k] = gaussian(random) + 0.35 * traits[board]![k]!;
    unit(vectors, i * d);
    for (let k = 0; k < d; k++) texts[i * d + k] = vectors[i * d + k]! + 0.02 * gaussian(random);
    unit(texts, i * d);
  }
  return {
    dimension: d,
    count: items,
    vectors,
    texts: { items: Int32Array.from({ length: items }, (_, i) => i), vectors: texts },
    boards: members.map((m) => Int32Array.from(m)),
  };
}

describe('trainAlignment', () => {
  it('raises held-out neighbor recall clearly and keeps text→image recall', () => {
    const data = catalog(400, 10, 32, 7);
    const progress: number[] = [];
    const { head, metrics } = trainAlignment(data, { ...DEFAULT_ALIGNMENT_OPTIONS, rank: 8, steps: 200, batch: 64, evaluateEvery: 25, learningRate: 0.01, temperature: 0.1, maxGallery: 400 }, (p) =>
      progress.push(p.step),
    );
    expect(metrics.held_out_memberships).toBeGreaterThan(30);
    expect(metrics.neighbor_recall_at_10.after).toBeGreaterThan(metrics.neighbor_recall_at_10.before * 1.3);
    expect(metrics.text_to_image_recall_at_5!.after).toBeGreaterThan(metrics.text_to_image_recall_at_5!.before - 0.05);
    expect(progress.at(-1)).toBe(metrics.steps);
    expect(head.dimension).toBe(32);
  });

  it('is deterministic for a seed, and refuses a graph with nothing to learn from', () => {
    const data = catalog(120, 6, 16, 3);
    const options = { ...DEFAULT_ALIGNMENT_OPTIONS, rank: 4, steps: 20, batch: 16, evaluateEvery: 10 };
    const first = trainAlignment(data, options);
    const second = trainAlignment(data, options);
    expect([...second.head.b]).toEqual([...first.head.b]);
    expect(second.metrics).toEqual(first.metrics);
    expect(() => trainAlignment({ ...data, boards: [Int32Array.from([1])] }, options)).toThrow(/nothing|no pair/);
  });
});
