import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startJobServer, waitForJob, type JobServer } from './helpers/jobs.js';

// Bad input a black-box sweep found answered 500 (or leaving files behind): each is a clear 4xx now.

let server: JobServer;

beforeAll(async () => {
  // No in-process worker: the tests play the worker over HTTP, and chunks stay unprocessed.
  server = await startJobServer({ LOOKBOOK_WORKER_CONCURRENCY: '0' });
  for (const name of ['shop', 'graphs']) expect((await api(server.url, 'POST', '/v1/indexes', { name })).status).toBe(201);
});
afterAll(async () => {
  await server?.close();
});

const staged = () => readdirSync(join(server.dataDir, 'uploads'));

/** Sends a request; `left` lists the files it left staged in the upload directory. */
async function sendCounting(method: string, path: string, body: FormData) {
  const before = new Set(staged());
  const response = await api(server.url, method, path, body);
  return { ...response, left: staged().filter((name) => !before.has(name)) };
}

const jsonl = (...lines: unknown[]) => new Blob([lines.map((line) => JSON.stringify(line)).join('\n')], { type: 'application/x-ndjson' });

const multipart = (fields: [string, string | Blob][]) => {
  const form = new FormData();
  for (const [name, value] of fields) form.append(name, value, ...(value instanceof Blob ? ['upload.jsonl'] : []));
  return form;
};

const base64Vector = (values: ArrayLike<number>) => Buffer.from(Float32Array.from(values).buffer).toString('base64');

describe('chunk results from a worker', () => {
  let job: string;
  let model: { id: string; version: string };
  let dimension: number;
  const results = (vectors: { pos: number; vector: string }[]) => ({ model, final: true, vectors, failures: [] });

  beforeAll(async () => {
    job = (await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'shop', open: true, items: [{ id: 'item-1', text: 'a red scarf' }] })).json.id;
    const work = await api(server.url, 'GET', `/v1/worker/jobs/${job}/chunks/0`);
    expect(work.json.status).toBe('ready');
    model = work.json.model;
    dimension = (await api(server.url, 'GET', '/v1/indexes/shop')).json.model.dimension;
  });

  it('refuses a base64 vector that is not whole float32 values with 400, naming the vector', async () => {
    const response = await api(server.url, 'POST', `/v1/worker/jobs/${job}/chunks/0/results`, results([{ pos: 0, vector: 'AAA=' }]));
    expect(response.status).toBe(400);
    expect(response.json.error).toMatchObject({ code: 'invalid_vector', param: 'vectors[0].vector' });
  });

  it("refuses a vector of another dimension than the job's model with 400 before writing it", async () => {
    const response = await api(server.url, 'POST', `/v1/worker/jobs/${job}/chunks/0/results`, results([{ pos: 0, vector: base64Vector([1, 0]) }]));
    expect(response.status).toBe(400);
    expect(response.json.error).toMatchObject({ code: 'dimension_mismatch', param: 'vectors[0].vector' });
    expect((await api(server.url, 'GET', '/v1/indexes/shop')).json.count).toBe(0);
  });

  it('answers 404 for results of a chunk the job does not have', async () => {
    const response = await api(server.url, 'POST', `/v1/worker/jobs/${job}/chunks/1/results`, results([]));
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('chunk_not_found');
  });

  it('still applies a vector of the right dimension', async () => {
    const vector = new Float32Array(dimension);
    vector[0] = 1;
    const response = await api(server.url, 'POST', `/v1/worker/jobs/${job}/chunks/0/results`, results([{ pos: 0, vector: base64Vector(vector) }]));
    expect(response.status).toBe(200);
    expect(response.json.pending).toBe(0);
    expect((await api(server.url, 'GET', '/v1/jobs/' + job)).json.progress).toMatchObject({ total: 1, done: 1, failed: 0 });
  });
});

describe('documents staged by multipart uploads', () => {
  const manifest = () => jsonl({ id: 'line-1', text: 'a straw hat' });

  it('refuses a second manifest or a graph sent to /v1/jobs with 400, and keeps none of them', async () => {
    for (const extra of [['manifest', manifest()], ['graph', manifest()]] as [string, Blob][]) {
      const response = await sendCounting('POST', '/v1/jobs', multipart([['type', 'ingest'], ['index', 'shop'], ['manifest', manifest()], extra]));
      expect([extra[0], response.status, response.json.error.code, response.left]).toEqual([extra[0], 400, 'unexpected_file_field', []]);
    }
  });

  it('deletes every staged document of a job request that is refused', async () => {
    const response = await sendCounting('POST', '/v1/jobs', multipart([['type', 'ingest'], ['index', 'nope'], ['manifest', manifest()]]));
    expect([response.status, response.left]).toEqual([404, []]);
  });

  it('deletes the manifest of an accepted job once the job has read it', async () => {
    const before = new Set(staged());
    const response = await api(server.url, 'POST', '/v1/jobs', multipart([['type', 'ingest'], ['index', 'shop'], ['manifest', manifest()]]));
    expect(response.status).toBe(202);
    // The job is sealed (no longer open) only after its manifest was read and deleted.
    const job = await waitForJob(server.url, response.json.id, (state) => !state.open);
    expect(job.progress.total).toBe(1);
    expect(staged().filter((name) => !before.has(name))).toEqual([]);
  });

  it('refuses extra documents appended to an open job with 400, and keeps none of them', async () => {
    const job = (await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'shop', open: true })).json.id;
    for (const extra of [['manifest', manifest()], ['graph', manifest()]] as [string, Blob][]) {
      const response = await sendCounting('POST', `/v1/jobs/${job}/items`, multipart([['manifest', manifest()], extra]));
      expect([extra[0], response.status, response.json.error.code, response.left]).toEqual([extra[0], 400, 'unexpected_file_field', []]);
    }
    const unknown = await sendCounting('POST', '/v1/jobs/job_nope/items', multipart([['manifest', manifest()]]));
    expect([unknown.status, unknown.left]).toEqual([404, []]);
    const appended = await sendCounting('POST', `/v1/jobs/${job}/items`, multipart([['manifest', manifest()]]));
    expect([appended.json.progress.total, appended.left]).toEqual([1, []]);
  });

  it('refuses a second graph or a manifest sent with a graph with 400, and keeps none of them', async () => {
    const graph = () => jsonl(['item-1', 'item-2']);
    for (const extra of [['graph', graph()], ['manifest', graph()]] as [string, Blob][]) {
      const response = await sendCounting('POST', '/v1/indexes/graphs/graph', multipart([['graph', graph()], extra]));
      expect([extra[0], response.status, response.json.error.code, response.left]).toEqual([extra[0], 400, 'unexpected_file_field', []]);
    }
    const unknown = await sendCounting('POST', '/v1/indexes/nope/graph', multipart([['graph', graph()]]));
    expect([unknown.status, unknown.left]).toEqual([404, []]);
  });
});

describe('graph JSONL lines', () => {
  it('takes a board named with "board" as with "id"', async () => {
    const graph = jsonl({ board: 'b2', items: ['item-8', 'item-9'] }, { id: 'b3', items: ['item-1'] }, ['item-1', 'item-2', 2]);
    const response = await api(server.url, 'POST', '/v1/indexes/graphs/graph', multipart([['graph', graph]]));
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ boards: 2, pairs: 1, items: 4 });
  });

  it('refuses a line that names its board both ways', async () => {
    const graph = jsonl({ board: 'b2', id: 'b3', items: ['item-8'] });
    const response = await api(server.url, 'POST', '/v1/indexes/graphs/graph', multipart([['graph', graph]]));
    expect(response.status).toBe(400);
    expect(response.json.error).toMatchObject({ code: 'invalid_graph', param: 'line:1' });
  });
});
