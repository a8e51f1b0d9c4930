import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../src/queue/job-store.js';
import { api, REDIS_URL, startJobServer, waitForJob } from './helpers/jobs.js';

// Redis going away for a moment while a job's manifest is read, found by a black-box sweep of the job flows.

/** A TCP proxy to the test Redis that can be cut (connections dropped, new ones refused) and restored. */
async function redisProxy() {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let server: Server;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 6379), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();
  return {
    url: () => `redis://127.0.0.1:${port}`,
    cut: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
    restore: listen,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a Redis blip while a manifest is read', () => {
  it('does not fail the job: its chunks wait on record and are queued when Redis is back', async () => {
    const proxy = await redisProxy();
    const server = await startJobServer({ LOOKBOOK_REDIS_URL: proxy.url() });
    try {
      expect((await api(server.url, 'POST', '/v1/indexes', { name: 'blip' })).status).toBe(201);
      const form = new FormData();
      form.append('type', 'ingest');
      form.append('index', 'blip');
      const lines = Array.from({ length: 3_000 }, (_, i) => JSON.stringify({ id: `t-${i}`, text: `item ${i}` }));
      form.append('manifest', new Blob([lines.join('\n')], { type: 'application/x-ndjson' }), 'blip.jsonl');
      const submitted = await api(server.url, 'POST', '/v1/jobs', form);
      expect(submitted.status).toBe(202);
      const id = submitted.json.id as string;
      const cutAt = (await waitForJob(server.url, id, (job) => job.progress.total >= 16)).progress.total as number;

      // While Redis is away the job routes answer 503: follow the job on the service's own events.
      const events = server.services.jobs.service.events;
      const readOn = new Promise<JobRecord>((resolve) => {
        const listener = (job: JobRecord) => {
          if (job.id !== id || (job.state !== 'failed' && job.total < cutAt + 64)) return;
          events.off('job', listener);
          resolve(job);
        };
        events.on('job', listener);
      });
      await proxy.cut();
      const during = await readOn;
      expect(during.state).not.toBe('failed');
      expect(server.services.queues!.ready).toBe(false);
      await proxy.restore();
      expect(await server.services.queues!.link.waitReady(20_000)).toBe(true);

      const job = await waitForJob(server.url, id);
      expect(job).toMatchObject({ state: 'completed', progress: { total: 3_000, done: 3_000, failed: 0 } });
      expect((await api(server.url, 'GET', '/v1/indexes/blip')).json.count).toBe(3_000);
    } finally {
      await server.close();
      await proxy.close();
    }
  }, 120_000);

  it('leaves a chunk whose file is still being written to its writer when Redis comes back', async () => {
    const server = await startJobServer({ LOOKBOOK_WORKER_CONCURRENCY: '0' });
    try {
      expect((await api(server.url, 'POST', '/v1/indexes', { name: 'writing' })).status).toBe(201);
      const id = (await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'writing', open: true })).json.id as string;
      const service = server.services.jobs.service;
      // Recorded, its file not yet written: a worker given it now would skip it, and its items would fail.
      const n = service.deps.store.addChunk(id, 1);
      await service.reconcile();
      expect(await server.services.queues!.chunks.getJob(`${id}.${n}`)).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});
