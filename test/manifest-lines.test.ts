import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startJobServer, waitForJob, type JobServer } from './helpers/jobs.js';

// Manifest lines a black-box sweep of the job flows found answered unclearly.

let server: JobServer;

beforeAll(async () => {
  server = await startJobServer();
  expect((await api(server.url, 'POST', '/v1/indexes', { name: 'lines' })).status).toBe(201);
});
afterAll(async () => {
  await server?.close();
});

async function ingest(manifest: string) {
  const form = new FormData();
  form.append('type', 'ingest');
  form.append('index', 'lines');
  form.append('manifest', new Blob([manifest], { type: 'application/x-ndjson' }), 'catalog.jsonl');
  const submitted = await api(server.url, 'POST', '/v1/jobs', form);
  expect(submitted.status).toBe(202);
  const job = await waitForJob(server.url, submitted.json.id);
  const failures = (await api(server.url, 'GET', `/v1/jobs/${job.id}/failures`)).json.data;
  return { job, failures };
}

describe('manifest lines', () => {
  it('names a vector value that overflows to Infinity once, as beyond float32', async () => {
    // JSON.parse reads 1e999 as Infinity; zod said "expected number, received number" for each of 512 values.
    const values = Array.from({ length: 512 }, () => '1e999').join(',');
    const { failures } = await ingest(`{"id": "overflow", "vector": [${values}]}`);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ id: 'overflow', code: 'invalid_item' });
    expect(failures[0].message).toContain('vector.0: is beyond the float32 range');
    expect(failures[0].message.length).toBeLessThan(500);
  });

  it('fails the lines whose id is "." or "..", and only them, saying why', async () => {
    const lines = ['.', 'shoes/sku-1', '..', '...'].map((id) => JSON.stringify({ id, text: `item ${id}` }));
    const { job, failures } = await ingest(`${lines.join('\n')}\n`);
    expect(job.state).toBe('completed');
    expect(job.progress).toEqual({ total: 4, done: 2, failed: 2 });
    expect(failures.map((failure: any) => [failure.id, failure.code])).toEqual([
      ['.', 'invalid_item'],
      ['..', 'invalid_item'],
    ]);
    expect(failures[0].message).toContain('may not be "." or ".."');
    expect((await api(server.url, 'GET', `/v1/indexes/lines/items/${encodeURIComponent('shoes/sku-1')}`)).json.text).toBe('item shoes/sku-1');
  });

  it('fails inline job items whose id is "." or "..", and keeps the others', async () => {
    const submitted = await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'lines', items: [{ id: '..', text: 'a belt' }, { id: 'belt', text: 'a belt' }] });
    expect(submitted.status).toBe(202);
    const job = await waitForJob(server.url, submitted.json.id);
    expect(job.progress).toEqual({ total: 2, done: 1, failed: 1 });
    const failures = (await api(server.url, 'GET', `/v1/jobs/${job.id}/failures`)).json.data;
    expect(failures).toEqual([expect.objectContaining({ id: '..', code: 'invalid_item', message: expect.stringContaining('may not be "." or ".."') })]);
  });

  it('skips a leading UTF-8 byte order mark, as the CLI does', async () => {
    const { job, failures } = await ingest(`\uFEFF${JSON.stringify({ id: 'bom-1', text: 'a scarf' })}\n${JSON.stringify({ id: 'bom-2', text: 'a hat' })}\n`);
    expect(failures).toEqual([]);
    expect(job.progress).toEqual({ total: 2, done: 2, failed: 0 });
  });
});
