import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, startJobServer, waitForJob, type JobServer } from './helpers/jobs.js';
import { listenLocal } from './helpers/http-server.js';

// Jobs that end while their input is still being taken in, found by a black-box sweep of the job flows.

/** Waits until `check` holds (a state on disk that no event announces), or fails after `ms`. */
async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const staged = (server: JobServer) => readdirSync(join(server.dataDir, 'uploads'));

/** A manifest long enough to be read for several seconds in chunks of 8. */
function longManifest(lines: number): FormData {
  const form = new FormData();
  form.append('type', 'ingest');
  form.append('index', 'long');
  const text = Array.from({ length: lines }, (_, i) => JSON.stringify({ id: `t-${i}`, text: `item ${i}` })).join('\n');
  form.append('manifest', new Blob([text], { type: 'application/x-ndjson' }), 'long.jsonl');
  return form;
}

describe('a job that ends while its manifest is read', () => {
  const endings: [string, (server: JobServer, id: string) => Promise<{ status: number }>, string][] = [
    ['cancelled', (server, id) => api(server.url, 'DELETE', `/v1/jobs/${id}`), 'cancelled'],
    ['its index deleted', (server) => api(server.url, 'DELETE', '/v1/indexes/long'), 'failed'],
  ];
  for (const [how, end, state] of endings) {
    it(`stops taking items in once ${how}: the answer is not 500, its total stays, no chunk file is left`, async () => {
      const server = await startJobServer();
      try {
        expect((await api(server.url, 'POST', '/v1/indexes', { name: 'long' })).status).toBe(201);
        const submitted = await api(server.url, 'POST', '/v1/jobs', longManifest(20_000));
        expect(submitted.status).toBe(202);
        const id = submitted.json.id as string;
        await waitForJob(server.url, id, (job) => job.progress.total >= 16);
        expect((await end(server, id)).status).toBeLessThan(300);
        const ended = (await api(server.url, 'GET', `/v1/jobs/${id}`)).json;
        expect(ended.state).toBe(state);
        // The reading step lets go of the staged manifest when it stops.
        await until(() => staged(server).length === 0);
        expect((await api(server.url, 'GET', `/v1/jobs/${id}`)).json.progress).toEqual(ended.progress);
        expect(existsSync(join(server.dataDir, 'jobs', id))).toBe(false);
        expect(server.logs.filter((line) => (line.level as number) >= 50)).toEqual([]);
      } finally {
        await server.close();
      }
    });
  }
});

describe('a job cancelled while its manifest URL is fetched', () => {
  it('stops the fetch instead of holding the connection until the manifest deadline', async () => {
    let opened!: () => void;
    let closed!: () => void;
    const requested = new Promise<void>((resolve) => (opened = resolve));
    const dropped = new Promise<void>((resolve) => (closed = resolve));
    // A manifest server that never answers.
    const origin = await listenLocal((req) => {
      req.on('close', closed);
      opened();
    });
    const server = await startJobServer({ LOOKBOOK_FETCH_ALLOW_PRIVATE: 'true' });
    try {
      expect((await api(server.url, 'POST', '/v1/indexes', { name: 'remote' })).status).toBe(201);
      const submitted = await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'remote', manifest_url: `${origin.origin}/catalog.jsonl` });
      expect(submitted.status).toBe(202);
      await requested;
      expect((await api(server.url, 'DELETE', `/v1/jobs/${submitted.json.id}`)).json.state).toBe('cancelled');
      const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still fetching'), 5_000));
      expect(await Promise.race([dropped.then(() => 'dropped'), timeout])).toBe('dropped');
    } finally {
      await server.close();
      await origin.close();
    }
  });
});
