import { rng } from '../../src/util/random.js';

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}

/**
 * Clustered unit vectors shaped like real embeddings: `clusters` random centres, each point a
 * centre plus isotropic noise (`spread` relative to the centre's norm).
 */
export function clusteredCorpus(count: number, dimension: number, clusters: number, seed: number, spread = 0.6) {
  const random = rng(seed);
  const centres = Array.from({ length: clusters }, () => normalize(Float32Array.from({ length: dimension }, () => gaussian(random))));
  const noiseScale = spread / Math.sqrt(dimension);
  const vectors: Float32Array[] = [];
  const cluster: number[] = [];
  for (let i = 0; i < count; i++) {
    const c = Math.floor(random() * clusters);
    const centre = centres[c]!;
    vectors.push(normalize(Float32Array.from(centre, (x) => x + gaussian(random) * noiseScale)));
    cluster.push(c);
  }
  return { vectors, cluster, centres };
}

/** Exact top-k by cosine (dot product of unit vectors). */
export function exactTopK(query: Float32Array, vectors: readonly Float32Array[], k: number): number[] {
  const scores = vectors.map((v, i) => {
    let dot = 0;
    for (let j = 0; j < v.length; j++) dot += v[j]! * query[j]!;
    return { i, dot };
  });
  scores.sort((a, b) => b.dot - a.dot);
  return scores.slice(0, k).map((s) => s.i);
}

/**
 * Unit vectors made of a category direction, a topic direction shared across the categories (a
 * style or a colour) and noise: items of another category than the query's lie far from it, and
 * the nearest of them share its topic — a filter to a category unlike the query's (Complete the
 * Look's case) has a real answer, ranked by the topic.
 */
export function factoredCorpus(count: number, dimension: number, categories: number, topics: number, seed: number, weights = { category: 1, topic: 0.8, noise: 0.6 }) {
  const random = rng(seed);
  const direction = () => Float32Array.from({ length: dimension }, () => gaussian(random));
  const categoryDirections = Array.from({ length: categories }, direction);
  const topicDirections = Array.from({ length: topics }, direction);
  const vectors: Float32Array[] = [];
  const category: number[] = [];
  const topic: number[] = [];
  for (let i = 0; i < count; i++) {
    const c = Math.floor(random() * categories);
    const t = Math.floor(random() * topics);
    const v = Float32Array.from({ length: dimension }, (_, j) => weights.category * categoryDirections[c]![j]! + weights.topic * topicDirections[t]![j]! + weights.noise * gaussian(random));
    vectors.push(normalize(v));
    category.push(c);
    topic.push(t);
  }
  return { vectors, category, topic };
}
