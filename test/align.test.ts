import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobResponse } from '../src/api/schemas/jobs.js';
import { rng } from '../src/util/random.js';
import { api, startJobServer, waitForJob, type JobServer } from './helpers/jobs.js';
import { dataUri, gradientJpeg } from './helpers/images.js';

const D = 512;
let server: JobServer;

function gaussian(random: () => number) {
  return Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/**
 * Base embeddings with a planted structure: items of one board share a trait within a few
 * directions, faint under noise in all 512 (so alignment has something to find).
 */
function plantedCatalog(boards: number, perBoard: number) {
  const random = rng(11);
  const basis = Array.from({ length: 4 }, () => Array.from({ length: D }, () => gaussian(random)));
  const traits = Array.from({ length: boards }, () => {
    const mix = basis.map(() => gaussian(random) / 2);
    return Array.from({ length: D }, (_, k) => basis.reduce((sum, direction, m) => sum + mix[m]! * direction[k]!, 0));
  });
  const items: { id: string; vector: number[] }[] = [];
  const members: string[][] = traits.map(() => []);
  for (let b = 0; b < boards; b++) {
    for (let i = 0; i < perBoard; i++) {
      const id = `b${b}-i${i}`;
      items.push({ id, vector: unit(traits[b]!.map((t) => gaussian(random) + 0.35 * t)) });
      members[b]!.push(id);
    }
  }
  return { items, boards: members.map((ids, b) => ({ id: `board-${b}`, items: ids })) };
}

/** normalize(x + (x·A)·Bᵀ), written out from the safetensors file's bytes, apart from the service's code. */
function referenceProjection(file: Buffer, x: number[]): number[] {
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8'));
  const matrix = (name: string) => {
    const [start, end] = header[name].data_offsets;
    const bytes = file.subarray(8 + headerLength + start, 8 + headerLength + end);
    return Array.from({ length: (end - start) / 4 }, (_, i) => bytes.readFloatLE(i * 4));
  };
  const [d, r] = header.A.shape;
  const a = matrix('A');
  const b = matrix('B');
  const xa = Array.from({ length: r }, (_, j) => x.reduce((sum, value, k) => sum + value * a[k * r + j]!, 0));
  return unit(Array.from({ length: d }, (_, k) => x[k]! + xa.reduce((sum, value, j) => sum + value * b[k * r + j]!, 0)));
}

const dot = (a: number[], b: number[]) => a.reduce((sum, value, i) => sum + value * b[i]!, 0);

beforeAll(async () => {
  server = await startJobServer();
});
afterAll(async () => {
  await server?.close();
});

describe('the item graph', () => {
  it('is uploaded as JSON or JSONL, summarized with the ids the index lacks, and deleted', async () => {
    await api(server.url, 'POST', '/v1/indexes', { name: 'graphs' });
    await api(server.url, 'POST', '/v1/indexes/graphs/items', { items: [{ id: 'a', text: 'a' }, { id: 'b', text: 'b' }, { id: 'c', text: 'c' }] });
    expect((await api(server.url, 'GET', '/v1/indexes/graphs/graph')).json.error.code).toBe('graph_not_found');
    const uploaded = await api(server.url, 'POST', '/v1/indexes/graphs/graph', { boards: [{ id: 'x', items: ['a', 'b', 'ghost'] }], pairs: [['a', 'c', 2]] });
    expect(uploaded.json).toMatchObject({ boards: 1, pairs: 1, memberships: 3, items: 4, items_in_index: 3, unknown_items: 1, unknown_sample: ['ghost'] });
    const form = new FormData();
    form.append('graph', new Blob([`${JSON.stringify({ id: 'y', items: ['b', 'c'] })}\n["a", "b"]\n{"pair": ["b", "c", 0.5]}\n`]), 'graph.jsonl');
    const replaced = await api(server.url, 'POST', '/v1/indexes/graphs/graph', form);
    expect(replaced.json).toMatchObject({ boards: 1, pairs: 2, unknown_items: 0 });
    const bad = new FormData();
    bad.append('graph', new Blob(['["a", "b"]\n{"nonsense": true}\n']), 'graph.jsonl');
    const refused = await api(server.url, 'POST', '/v1/indexes/graphs/graph', bad);
    expect([refused.status, refused.json.error.code, refused.json.error.param]).toEqual([400, 'invalid_graph', 'line:2']);
    expect((await api(server.url, 'GET', '/v1/indexes/graphs/graph')).json.boards).toBe(1);
    expect((await api(server.url, 'POST', '/v1/indexes/graphs/graph', { boards: [] })).status).toBe(400);
    expect((await api(server.url, 'DELETE', '/v1/indexes/graphs/graph')).json).toEqual({ index: 'graphs', deleted: true });
    expect((await api(server.url, 'POST', '/v1/jobs', { type: 'align', index: 'graphs' })).json.error.code).toBe('graph_not_found');
  });
});

describe('neighbor alignment', () => {
  it('learns a head on the graph as a new model version; the index switches to it and back while searches answer, queries going through the head', async () => {
    const { items, boards } = plantedCatalog(8, 24);
    await api(server.url, 'POST', '/v1/indexes', { name: 'aligned' });
    for (let start = 0; start < items.length; start += 100) {
      const added = await api(server.url, 'POST', '/v1/indexes/aligned/items', { items: items.slice(start, start + 100) });
      expect(added.json.failed).toBe(0);
    }
    const jpeg = await gradientJpeg(80, 60, 5);
    await api(server.url, 'POST', '/v1/indexes/aligned/items', { items: [{ id: 'pictured', image: dataUri(jpeg), text: 'a striped scarf' }] });
    await api(server.url, 'POST', '/v1/indexes/aligned/graph', { boards });

    const submitted = await api(server.url, 'POST', '/v1/jobs', { type: 'align', index: 'aligned', steps: 150, batch: 64, rank: 16, evaluate_every: 25, learning_rate: 0.01, temperature: 0.1, patience: 6 });
    expect(submitted.status).toBe(202);
    const job = jobResponse.parse(await waitForJob(server.url, submitted.json.id, undefined, 120_000));
    expect(job.state).toBe('completed');
    expect(job.progress.done).toBe(job.progress.total);
    const result = job.result as any;
    expect(result).toMatchObject({ model: 'lookbook-fixture', model_version: '0.0.1+align.1', base_version: '0.0.1' });
    const recall = result.metrics.neighbor_recall_at_10;
    expect(recall.after).toBeGreaterThan(recall.before + 0.1);
    // Aligning does not switch the index.
    expect((await api(server.url, 'GET', '/v1/indexes/aligned')).json.model.version).toBe('0.0.1');
    const models = (await api(server.url, 'GET', '/v1/models')).json.data;
    expect(models).toHaveLength(1);
    expect(models[0].versions.map((v: any) => [v.version, v.kind])).toEqual([
      ['0.0.1', 'base'],
      ['0.0.1+align.1', 'alignment_head'],
    ]);
    expect(models[0].versions[1].training.metrics.neighbor_recall_at_10).toEqual(recall);

    const headFile = readFileSync(join(server.dataDir, 'model-versions', 'lookbook-fixture', '0.0.1+align.1', 'head.safetensors'));
    const query = items[5]!.vector;
    const member = items[6]!;

    // Searches run through both switches.
    let searching = true;
    const failures: unknown[] = [];
    const loop = (async () => {
      while (searching) {
        const response = await api(server.url, 'POST', '/v1/indexes/aligned/search', { query: { text: 'a scarf' }, limit: 3 });
        if (response.status !== 200) failures.push(response.json);
      }
    })();
    try {
      const switched = await api(server.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'aligned', model_version: '0.0.1+align.1' });
      expect(switched.json).toMatchObject({ source_model: { version: '0.0.1' }, target_model: { version: '0.0.1+align.1' } });
      expect(await waitForJob(server.url, switched.json.id)).toMatchObject({ state: 'completed', progress: { total: 193, done: 193, failed: 0 } });
      expect((await api(server.url, 'GET', '/v1/indexes/aligned')).json.model).toEqual({ id: 'lookbook-fixture', version: '0.0.1+align.1', dimension: D, base: '0.0.1' });

      // A base vector query goes through the head; the score is the cosine of the projected vectors.
      const aligned = await api(server.url, 'POST', '/v1/indexes/aligned/search', { query: { vector: query, model_version: '0.0.1' }, limit: 300, exact: true });
      const hit = aligned.json.data.find((entry: any) => entry.id === member.id);
      expect(hit.score).toBeCloseTo(dot(referenceProjection(headFile, query), referenceProjection(headFile, member.vector)), 4);
      // So does a text query (its base embedding from /v1/embeddings).
      const text = (await api(server.url, 'POST', '/v1/embeddings', { input: 'a scarf' })).json.data[0].embedding;
      const image = (await api(server.url, 'POST', '/v1/embeddings', { input: [{ image: dataUri(jpeg) }] })).json.data[0].embedding;
      const byText = await api(server.url, 'POST', '/v1/indexes/aligned/search', { query: { text: 'a scarf' }, limit: 300, exact: true });
      expect(byText.json.data.find((entry: any) => entry.id === 'pictured').score).toBeCloseTo(dot(referenceProjection(headFile, text), referenceProjection(headFile, image)), 4);
      // New items are projected as they arrive.
      await api(server.url, 'POST', '/v1/indexes/aligned/items', { items: [{ id: 'late', vector: member.vector }] });
      const late = (await api(server.url, 'POST', '/v1/indexes/aligned/search', { query: { item_id: 'late' }, limit: 1 })).json.data[0];
      expect([late.id, late.score]).toEqual([member.id, expect.closeTo(1, 5)]);

      // Rollback: back to the base version, the base embeddings as they were.
      const back = await api(server.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'aligned', model_version: '0.0.1' });
      expect(await waitForJob(server.url, back.json.id)).toMatchObject({ state: 'completed', progress: { failed: 0 } });
      expect((await api(server.url, 'GET', '/v1/indexes/aligned')).json.model).toEqual({ id: 'lookbook-fixture', version: '0.0.1', dimension: D });
      const base = await api(server.url, 'POST', '/v1/indexes/aligned/search', { query: { vector: query }, limit: 300, exact: true });
      expect(base.json.data.find((entry: any) => entry.id === member.id).score).toBeCloseTo(dot(query, member.vector), 4);
    } finally {
      searching = false;
      await loop;
    }
    expect(failures).toEqual([]);
    const unknown = await api(server.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'aligned', model_version: '0.0.1+align.9' });
    expect([unknown.status, unknown.json.error.code, unknown.json.error.available]).toEqual([404, 'model_version_not_found', ['0.0.1', '0.0.1+align.1']]);
  }, 120_000);
});
