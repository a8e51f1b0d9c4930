/**
 * bench/base-search — Complete the Look's searches of an alignment-head index by base embedding
 * (`VectorIndex.searchBase`): the base codes' shortlist, rescored with the base embeddings, against
 * the exact scan it replaced (every base embedding of the category read and scored), on the same
 * index and queries, timed one after the other per category. Clustered 512-d base embeddings in four
 * categories that follow the clusters; each query is a fresh item searched in its own category and
 * the three others (as Complete the Look searches the categories a scene lacks), 50 candidates.
 *
 *   npm run bench:base-search -- [--items 100000] [--queries 40]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_INDEX_SETTINGS, VectorIndex } from '../src/index/vector-index.js';
import { rng } from '../src/util/random.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '40' },
    dim: { type: 'string', default: '512' },
    candidates: { type: 'string', default: '50' },
  },
});
const count = Number(values.items);
const dimension = Number(values.dim);
const limit = Number(values.candidates);
const random = rng(7);
const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
const normalize = (v: Float32Array) => {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return v.map((x) => x / norm);
};
// Topics, then clusters of ~20 items within a topic, with a shared offset (as bench/search makes its data).
const topics = Array.from({ length: 256 }, () => Float32Array.from({ length: dimension }, gauss));
const offset = Float32Array.from({ length: dimension }, () => gauss() * 0.5);
const clusters = Math.max(64, Math.round(count / 20));
const centres = Array.from({ length: clusters }, () => {
  const topic = topics[Math.floor(random() * topics.length)]!;
  return Float32Array.from({ length: dimension }, (_, i) => offset[i]! + topic[i]! + gauss() * 0.7);
});
const near = (cluster: number) => normalize(Float32Array.from({ length: dimension }, (_, i) => centres[cluster]![i]! + gauss() * 0.6));
const categories = ['a', 'b', 'c', 'd'];

const dir = mkdtempSync(join(tmpdir(), 'lookbook-base-search-'));
try {
  const index = VectorIndex.create(dir, 'aligned', { id: 'bench', version: '1+align.1', dimension, base: '1' }, DEFAULT_INDEX_SETTINGS);
  const started = performance.now();
  for (let start = 0; start < count; start += 5_000) {
    const n = Math.min(5_000, count - start);
    await index.upsertAsync(
      Array.from({ length: n }, (_, j) => {
        const cluster = Math.floor(random() * clusters);
        // The projected vector does not matter here: searchBase ranks by the base embedding.
        return { fields: { id: String(start + j), category: categories[cluster % categories.length]! }, vector: normalize(Float32Array.from({ length: dimension }, gauss)), base: near(cluster) };
      }),
    );
  }
  console.log(`# bench/base-search: ${count.toLocaleString('en')} items built in ${((performance.now() - started) / 1000).toFixed(0)} s`);

  // The path searchBase replaced: every base embedding of the category, one read each.
  const internals = index as unknown as { baseVectors: { dot(slot: number, query: Float32Array): number }; filters: { plan(filter: { category: string[] }): { slots(): Uint32Array } } };
  const exactTop = (query: Float32Array, category: string) => {
    const scored = Array.from(internals.filters.plan({ category: [category] }).slots(), (slot) => ({ slot, score: internals.baseVectors.dot(slot, query) }));
    scored.sort((a, b) => b.score - a.score || a.slot - b.slot);
    return scored.slice(0, limit).map((entry) => entry.slot);
  };
  const slotOf = (id: string) => index.get(id)!.slot;
  let codesMs = 0;
  let exactMs = 0;
  let found10 = 0;
  let foundAll = 0;
  let searches = 0;
  for (let q = 0; q < Number(values.queries); q++) {
    const query = near(Math.floor(random() * clusters));
    for (const category of categories) {
      let t = performance.now();
      const truth = exactTop(query, category);
      exactMs += performance.now() - t;
      t = performance.now();
      const hits = index.searchBase(query, { limit, filter: { category: [category] } });
      codesMs += performance.now() - t;
      const got = new Set(hits.map((hit) => slotOf(hit.item.id)));
      found10 += truth.slice(0, 10).filter((slot) => got.has(slot)).length / Math.min(10, truth.length);
      foundAll += truth.filter((slot) => got.has(slot)).length / truth.length;
      searches++;
    }
  }
  index.close();
  console.log(`| items | searches | base codes ms | exact scan ms | exact ÷ codes | recall@10 | recall@${limit} |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  console.log(
    `| ${count.toLocaleString('en')} | ${searches} | ${(codesMs / searches).toFixed(2)} | ${(exactMs / searches).toFixed(1)} | ${(exactMs / codesMs).toFixed(1)} | ${(found10 / searches).toFixed(3)} | ${(foundAll / searches).toFixed(3)} |`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
