import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, startJobServer, waitForJob, type JobServer } from './helpers/jobs.js';

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
