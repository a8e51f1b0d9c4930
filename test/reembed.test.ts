import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobResponse } from '../src/api/schemas/jobs.js';
import { createWorker } from '../src/queue/chunk-worker.js';
import { api, dropPrefix, REDIS_URL, startJobServer, waitForJob, type JobServer } from './helpers/jobs.js';
import { listenLocal } from './helpers/http-server.js';
import { dataUri, gradientJpeg } from './helpers/images.js';

const TWO_MODELS = 'models/fixture,test/fixtures/models/hf-clip-tiny';
let jpegs: Buffer[];

beforeAll(async () => {
  jpegs = await Promise.all(Array.from({ length: 24 }, (_, i) => gradientJpeg(60 + i * 4, 40 + i * 3, i + 20)));
});

/** A chunk worker of the test's own, started when the test wants chunks to be embedded. */
function startWorker(server: JobServer) {
  const service = server.services.jobs.service;
  return createWorker({
    settings: { redisUrl: REDIS_URL, prefix: server.prefix, attempts: 5, backoffMs: 100, lockMs: 2000 },
    concurrency: 2,
    owner: service,
    embedder: service.embedder,
    logger: server.services.jobs.service.deps.logger,
  });
}

async function seed(server: JobServer, name: string, count: number) {
  expect((await api(server.url, 'POST', '/v1/indexes', { name })).status).toBe(201);
  const items = jpegs.slice(0, count).map((jpeg, i) => ({ id: `sku-${i}`, image: dataUri(jpeg), category: i % 2 ? 'shoes' : 'bags' }));
  const added = await api(server.url, 'POST', `/v1/indexes/${name}/items`, { items });
  expect(added.json.failed).toBe(0);
}

describe('reembed', () => {
  let server: JobServer;
  let otherModel: { id: string; version: string; dimension: number };

  beforeAll(async () => {
    server = await startJobServer({ LOOKBOOK_MODELS: TWO_MODELS, LOOKBOOK_WORKER_CONCURRENCY: '0' });
    otherModel = (await api(server.url, 'GET', '/v1/models')).json.data.find((model: any) => model.id !== 'lookbook-fixture');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('builds the new version beside the old, takes the writes made meanwhile, and switches while searches never fail', async () => {
    await seed(server, 'live', 20);
    const indexDir = join(server.dataDir, 'indexes');
    expect(readdirSync(indexDir)).toContain('live');

    // Searches run all along, by text and by item, counting every answer that is not a 200.
    let searching = true;
    let searches = 0;
    const errors: unknown[] = [];
    const loop = (async () => {
      while (searching) {
        const byText = await api(server.url, 'POST', '/v1/indexes/live/search', { query: { text: 'a bag' }, limit: 5 });
        const byItem = await api(server.url, 'POST', '/v1/indexes/live/search', { query: { item_id: 'sku-1' }, limit: 5 });
        for (const response of [byText, byItem]) {
          searches += 1;
          if (response.status !== 200 || response.json.data.length === 0) errors.push(response.json);
        }
      }
    })();

    const submitted = await api(server.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'live', model: otherModel.id });
    expect(submitted.status).toBe(202);
    expect(jobResponse.parse(submitted.json)).toMatchObject({
      type: 'reembed',
      source_model: { id: 'lookbook-fixture', version: '0.0.1' },
      target_model: { id: otherModel.id, version: otherModel.version },
    });
    // No worker yet: the snapshot is chunked, nothing is embedded.
    await waitForJob(server.url, submitted.json.id, (job) => job.progress.total === 20 && !job.open);
    const again = await api(server.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'live' });
    expect([again.status, again.json.error.code]).toEqual([409, 'rebuild_in_progress']);

    // Writes during the rebuild: a new item, a replaced item, a deleted item.
    await api(server.url, 'POST', '/v1/indexes/live/items', { items: [{ id: 'new-1', image: dataUri(jpegs[21]!), category: 'hats' }, { id: 'sku-2', text: 'a straw hat', category: 'hats' }] });
    await api(server.url, 'DELETE', '/v1/indexes/live/items/sku-3');
    // The old version still serves, with the old model.
    expect((await api(server.url, 'GET', '/v1/indexes/live')).json).toMatchObject({ model: { id: 'lookbook-fixture' }, count: 20 });

    const worker = startWorker(server);
    try {
      const done = jobResponse.parse(await waitForJob(server.url, submitted.json.id));
      expect(done).toMatchObject({ state: 'completed', progress: { failed: 0 } });
      expect(done.result).toMatchObject({ model: { id: otherModel.id, version: otherModel.version }, previous_model: { id: 'lookbook-fixture' }, count: 20 });
    } finally {
      searching = false;
      await loop;
      await worker.close();
    }
    expect(errors).toEqual([]);
    expect(searches).toBeGreaterThan(4);

    const index = (await api(server.url, 'GET', '/v1/indexes/live')).json;
    expect(index).toMatchObject({ model: { id: otherModel.id, version: otherModel.version, dimension: otherModel.dimension }, count: 20, model_loaded: true });
    expect((await api(server.url, 'GET', '/v1/indexes/live/items/sku-3')).status).toBe(404);
    expect((await api(server.url, 'GET', '/v1/indexes/live/items/sku-2')).json).toMatchObject({ text: 'a straw hat', category: 'hats', model: { id: otherModel.id } });
    const found = await api(server.url, 'POST', '/v1/indexes/live/search', { query: { image: dataUri(jpegs[21]!) }, limit: 1 });
    expect(found.json.data[0]).toMatchObject({ id: 'new-1', category: 'hats' });
    expect(found.json.model.id).toBe(otherModel.id);
    // Kept images survive the switch; the old version's files are gone.
    expect(Buffer.from(await (await fetch(`${server.url}/v1/indexes/live/items/sku-5/image`)).arrayBuffer()).equals(jpegs[5]!)).toBe(true);
    const aliases = JSON.parse(readFileSync(join(indexDir, 'aliases.json'), 'utf8'));
    expect(readdirSync(indexDir).filter((dir) => dir.startsWith('live'))).toEqual([aliases.live]);
  });

  it('rebuilds from the kept images with the model it already has', async () => {
    await seed(server, 'same', 10);
    const before = await api(server.url, 'POST', '/v1/indexes/same/search', { query: { image: dataUri(jpegs[4]!) }, limit: 3 });
    const submitted = await api(server.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'same' });
    expect(submitted.json).toMatchObject({ source_model: { id: 'lookbook-fixture', version: '0.0.1' }, target_model: { id: 'lookbook-fixture', version: '0.0.1' } });
    const worker = startWorker(server);
    try {
      expect(await waitForJob(server.url, submitted.json.id)).toMatchObject({ state: 'completed', progress: { total: 10, done: 10, failed: 0 } });
    } finally {
      await worker.close();
    }
    const after = await api(server.url, 'POST', '/v1/indexes/same/search', { query: { image: dataUri(jpegs[4]!) }, limit: 3 });
    expect(after.json.data.map((hit: any) => hit.id)).toEqual(before.json.data.map((hit: any) => hit.id));
    expect(after.json.data[0].score).toBeCloseTo(before.json.data[0].score, 5);
  });

  it('leaves the index untouched when the rebuild is cancelled', async () => {
    await seed(server, 'kept', 6);
    const dirBefore = readdirSync(join(server.dataDir, 'indexes')).filter((dir) => dir.startsWith('kept'));
    const submitted = await api(server.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'kept', model: otherModel.id });
    await waitForJob(server.url, submitted.json.id, (job) => job.progress.total === 6 && !job.open);
    expect(readdirSync(join(server.dataDir, 'indexes')).filter((dir) => dir.startsWith('kept'))).toHaveLength(2);
    const cancelled = await api(server.url, 'DELETE', `/v1/jobs/${submitted.json.id}`);
    expect(cancelled.json.state).toBe('cancelled');
    expect(readdirSync(join(server.dataDir, 'indexes')).filter((dir) => dir.startsWith('kept'))).toEqual(dirBefore);
    expect((await api(server.url, 'GET', '/v1/indexes/kept')).json).toMatchObject({ model: { id: 'lookbook-fixture' }, count: 6 });
    expect((await api(server.url, 'POST', '/v1/indexes/kept/search', { query: { text: 'shoe' } })).status).toBe(200);
  });

  it('says which items could not be embedded again, and why', async () => {
    const images = await listenLocal((_req, res) => {
      res.setHeader('content-type', 'image/jpeg');
      res.end(jpegs[9]);
    });
    const discarding = await startJobServer({ LOOKBOOK_MODELS: TWO_MODELS, LOOKBOOK_KEEP_SOURCES: 'false', LOOKBOOK_FETCH_ALLOW_PRIVATE: 'true' });
    try {
      await api(discarding.url, 'POST', '/v1/indexes', { name: 'mixed' });
      const vector = Array.from({ length: 512 }, (_, i) => Math.sin(i));
      await api(discarding.url, 'POST', '/v1/indexes/mixed/items', {
        items: [
          { id: 'uploaded', image: dataUri(jpegs[0]!) },
          { id: 'linked', image: `${images.origin}/a.jpg` },
          { id: 'words', text: 'a wool scarf' },
          { id: 'raw', vector },
        ],
      });
      const submitted = await api(discarding.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'mixed', model: otherModel.id });
      const job = await waitForJob(discarding.url, submitted.json.id);
      expect(job).toMatchObject({ state: 'completed', progress: { total: 4, done: 2, failed: 2 } });
      const failures = (await api(discarding.url, 'GET', `/v1/jobs/${job.id}/failures`)).json.data;
      expect(failures.map((failure: any) => [failure.id, failure.code])).toEqual([
        ['uploaded', 'source_not_kept'],
        ['raw', 'no_source'],
      ]);
      expect((await api(discarding.url, 'GET', '/v1/indexes/mixed')).json).toMatchObject({ model: { id: otherModel.id }, count: 2 });
    } finally {
      await discarding.close();
      await images.close();
    }
  });
});

describe('restarts', () => {
  it('opens an index directory written before versions and kept sources, unchanged, and re-embeds what it can', async () => {
    const first = await startJobServer({ LOOKBOOK_MODELS: TWO_MODELS });
    const dataDir = first.dataDir;
    await api(first.url, 'POST', '/v1/indexes', { name: 'legacy' });
    await api(first.url, 'POST', '/v1/indexes/legacy/items', { items: [{ id: 'pic', image: dataUri(jpegs[1]!) }, { id: 'words', text: 'old words' }] });
    const before = (await api(first.url, 'POST', '/v1/indexes/legacy/search', { query: { text: 'old words' }, limit: 2 })).json.data;
    await first.close();
    // Make it as an older Lookbook wrote it: no source columns, no aliases, no blobs.
    const catalog = new Database(join(dataDir, 'indexes', 'legacy', 'catalog.sqlite'));
    catalog.exec('ALTER TABLE items DROP COLUMN source_kind; ALTER TABLE items DROP COLUMN source_blob;');
    catalog.close();
    const second = await startJobServer({ LOOKBOOK_MODELS: TWO_MODELS, LOOKBOOK_DATA_DIR: dataDir });
    try {
      expect((await api(second.url, 'GET', '/v1/indexes/legacy')).json).toMatchObject({ count: 2, model: { id: 'lookbook-fixture' } });
      const after = (await api(second.url, 'POST', '/v1/indexes/legacy/search', { query: { text: 'old words' }, limit: 2 })).json.data;
      expect(after).toEqual(before);
      const other = (await api(second.url, 'GET', '/v1/models')).json.data.find((model: any) => model.id !== 'lookbook-fixture');
      const submitted = await api(second.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'legacy', model: other.id });
      const job = await waitForJob(second.url, submitted.json.id);
      expect(job).toMatchObject({ state: 'completed', progress: { total: 2, done: 1, failed: 1 } });
      expect((await api(second.url, 'GET', `/v1/jobs/${job.id}/failures`)).json.data).toEqual([{ id: 'pic', code: 'no_source', message: expect.any(String) }]);
    } finally {
      await second.close();
    }
  });

  it('resumes a rebuild after the server restarts, and a second process on the data directory is refused meanwhile', async () => {
    const first = await startJobServer({ LOOKBOOK_MODELS: TWO_MODELS, LOOKBOOK_WORKER_CONCURRENCY: '0' });
    const dataDir = first.dataDir;
    const prefix = first.prefix;
    await seed(first, 'resume', 12);
    const other = (await api(first.url, 'GET', '/v1/models')).json.data.find((model: any) => model.id !== 'lookbook-fixture');
    const submitted = await api(first.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'resume', model: other.id });
    await waitForJob(first.url, submitted.json.id, (job) => job.progress.total === 12 && !job.open);
    await expect(startJobServer({ LOOKBOOK_DATA_DIR: dataDir, LOOKBOOK_QUEUE_PREFIX: prefix })).rejects.toThrow(/is in use by process/);
    // Stop without dropping the queue: the job's chunks wait in Redis for the next start.
    await first.services.close();
    first.server.close();
    const second = await startJobServer({ LOOKBOOK_MODELS: TWO_MODELS, LOOKBOOK_DATA_DIR: dataDir, LOOKBOOK_QUEUE_PREFIX: prefix });
    try {
      const job = await waitForJob(second.url, submitted.json.id);
      expect(job).toMatchObject({ state: 'completed', progress: { total: 12, done: 12, failed: 0 } });
      expect((await api(second.url, 'GET', '/v1/indexes/resume')).json).toMatchObject({ model: { id: other.id }, count: 12 });
      expect(existsSync(join(dataDir, 'owner.lock'))).toBe(true);
    } finally {
      await second.close();
      await dropPrefix(prefix);
    }
    expect(existsSync(join(dataDir, 'owner.lock'))).toBe(false);
  });
});
