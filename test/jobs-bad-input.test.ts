import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startJobServer, type JobServer } from './helpers/jobs.js';

let server: JobServer;
let job: string;

beforeAll(async () => {
  server = await startJobServer({ LOOKBOOK_WORKER_CONCURRENCY: '0' });
  await api(server.url, 'POST', '/v1/indexes', { name: 'bad' });
  job = (await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'bad', open: true })).json.id;
});
afterAll(async () => {
  await server?.close();
});

const multipart = (fields: Record<string, string | Blob>) => {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return form;
};

describe('malformed requests to the job, graph and worker routes', () => {
  it('answer 4xx with the error envelope, never 5xx, and the server keeps serving', async () => {
    const cases: [string, string, unknown][] = [
      ['POST', '/v1/jobs', []],
      ['POST', '/v1/jobs', { type: 'ingest' }],
      ['POST', '/v1/jobs', { type: 'ingest', index: 'bad', items: 'not a list' }],
      ['POST', '/v1/jobs', { type: 'ingest', index: 'bad', items: [], open: 'yes' }],
      ['POST', '/v1/jobs', { type: 'ingest', index: 'bad', manifest_url: 'ftp://example.com/x.jsonl' }],
      ['POST', '/v1/jobs', { type: 'ingest', index: 'bad', items: [{ id: 'x', text: 'x' }], extra: 1 }],
      ['POST', '/v1/jobs', { type: 'reembed', index: 'bad', model: 7 }],
      ['POST', '/v1/jobs', { type: 'reembed', index: 'nope' }],
      ['POST', '/v1/jobs', { type: 'align', index: 'bad', steps: -1 }],
      ['POST', '/v1/jobs', { type: 'align', index: 'bad' }],
      ['POST', '/v1/jobs', multipart({ type: 'ingest', index: 'bad' })],
      ['POST', '/v1/jobs', multipart({ type: 'ingest', index: 'bad', open: 'perhaps', manifest: new Blob(['{}']) })],
      ['POST', '/v1/jobs', multipart({ type: 'ingest', index: 'bad', picture: new Blob(['x']) })],
      ['GET', '/v1/jobs?limit=abc', undefined],
      ['GET', '/v1/jobs?state=sleeping', undefined],
      ['GET', '/v1/jobs/job_nope', undefined],
      ['GET', '/v1/jobs/job_nope/events', undefined],
      ['GET', `/v1/jobs/${job}/failures?after=zz`, undefined],
      ['POST', `/v1/jobs/${job}/items`, { items: [] }],
      ['POST', `/v1/jobs/${job}/items`, { items: [{ id: 'a', text: 'a' }], more: true }],
      ['POST', `/v1/jobs/${job}/items`, multipart({ items: 'not json', file: new Blob(['x']) })],
      ['POST', `/v1/jobs/${job}/items`, multipart({ items: '[{}, {}]', file: new Blob(['x']) })],
      ['POST', '/v1/jobs/job_nope/close', undefined],
      ['DELETE', '/v1/jobs/job_nope', undefined],
      ['GET', '/v1/worker/jobs/job_nope/chunks/0', undefined],
      ['GET', `/v1/worker/jobs/${job}/chunks/minus`, undefined],
      ['POST', `/v1/worker/jobs/${job}/chunks/0/results`, { model: { id: 'm', version: '1' }, final: true, vectors: [{ pos: 'x' }], failures: [] }],
      ['POST', `/v1/worker/jobs/${job}/blobs`, undefined],
      ['GET', '/v1/worker/blobs/../../etc/passwd', undefined],
      ['GET', `/v1/worker/blobs/${'0'.repeat(64)}`, undefined],
      ['POST', '/v1/indexes/bad/graph', { boards: [{ id: 'b', items: [1, 2] }] }],
      ['POST', '/v1/indexes/bad/graph', { pairs: [['a']] }],
      ['POST', '/v1/indexes/bad/graph', { pairs: [['a', 'b', -1]] }],
      ['POST', '/v1/indexes/nope/graph', { pairs: [['a', 'b']] }],
      ['POST', '/v1/indexes/bad/graph', multipart({ graph: new Blob(['not json at all']) })],
      ['POST', '/v1/indexes/bad/graph', multipart({ graph: new Blob(['\n\n']) })],
      ['DELETE', '/v1/indexes/bad/graph', undefined],
      ['GET', '/v1/indexes/bad/items/ghost/image', undefined],
    ];
    for (const [method, path, body] of cases) {
      const response = await api(server.url, method, path, body);
      const label = `${method} ${path} ${body instanceof FormData ? 'multipart' : JSON.stringify(body)}`;
      expect([label, response.status >= 400 && response.status < 500]).toEqual([label, true]);
      expect([label, typeof response.json?.error?.code]).toEqual([label, 'string']);
    }
    expect((await api(server.url, 'GET', '/healthz')).status).toBe(200);
    expect((await api(server.url, 'GET', `/v1/jobs/${job}`)).json.state).toBe('queued');
  });

  it('refuse a `before` cursor that names no job, instead of answering the first page again', async () => {
    const response = await api(server.url, 'GET', '/v1/jobs?before=job_nope');
    expect(response.status).toBe(400);
    expect(response.json.error).toMatchObject({ code: 'invalid_request', param: 'before' });
    const page = await api(server.url, 'GET', `/v1/jobs?limit=1&before=${job}`);
    expect(page.status).toBe(200);
    expect(page.json.data.map((listed: { id: string }) => listed.id)).not.toContain(job);
  });
});
