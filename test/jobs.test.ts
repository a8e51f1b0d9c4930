import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { failuresResponse, jobListResponse, jobResponse } from '../src/api/schemas/jobs.js';
import { blobHash } from '../src/index/blob-store.js';
import { processChunk } from '../src/queue/chunk-worker.js';
import { CHUNK_QUEUE } from '../src/queue/job-queues.js';
import { api, REDIS_URL, startJobServer, waitForJob, type JobServer } from './helpers/jobs.js';
import { listenLocal } from './helpers/http-server.js';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { startTestServer } from './helpers/server.js';

let server: JobServer;
let jpegs: Buffer[];

beforeAll(async () => {
  server = await startJobServer({ LOOKBOOK_FETCH_ALLOW_PRIVATE: 'true' });
  jpegs = await Promise.all(Array.from({ length: 12 }, (_, i) => gradientJpeg(70 + i * 5, 50 + i * 3, i + 1)));
});
afterAll(async () => {
  await server?.close();
});

async function createIndex(name: string, target = server) {
  const response = await api(target.url, 'POST', '/v1/indexes', { name });
  expect(response.status).toBe(201);
}

describe('ingest jobs', () => {
  it('ingests a manifest upload with good and bad items, counting each once and giving each failure its reason', async () => {
    await createIndex('manifest');
    const lines = [
      ...jpegs.slice(0, 10).map((jpeg, i) => JSON.stringify({ id: `img-${i}`, image: dataUri(jpeg), category: i % 2 ? 'shoes' : 'bags', attributes: { n: i } })),
      JSON.stringify({ id: 'text-1', text: 'a red leather handbag' }),
      JSON.stringify({ id: 'no-source' }),
      '{"id": "broken json',
      '',
      JSON.stringify({ id: 'not-an-image', image: dataUri(Buffer.from('definitely not an image')) }),
      JSON.stringify({ id: 'short-vector', vector: [1, 2, 3] }),
    ];
    const form = new FormData();
    form.append('type', 'ingest');
    form.append('index', 'manifest');
    form.append('manifest', new Blob([lines.join('\n')], { type: 'application/x-ndjson' }), 'catalog.jsonl');
    const submitted = await api(server.url, 'POST', '/v1/jobs', form);
    expect(submitted.status).toBe(202);
    expect(submitted.headers.get('location')).toBe(`/v1/jobs/${submitted.json.id}`);
    jobResponse.parse(submitted.json);

    const job = jobResponse.parse(await waitForJob(server.url, submitted.json.id));
    expect(job).toMatchObject({ type: 'ingest', index: 'manifest', state: 'completed', progress: { total: 15, done: 11, failed: 4 }, eta_seconds: 0 });
    expect(job.started_at).not.toBeNull();
    expect(job.finished_at).not.toBeNull();

    const failures = failuresResponse.parse((await api(server.url, 'GET', `/v1/jobs/${job.id}/failures`)).json);
    expect(failures.data.map((failure) => [failure.id, failure.code])).toEqual([
      ['no-source', 'invalid_item'],
      ['line:13', 'invalid_json'],
      ['not-an-image', 'unsupported_image'],
      ['short-vector', 'dimension_mismatch'],
    ]);
    expect(failures.data.every((failure) => failure.message.length > 0)).toBe(true);
    const paged = await api(server.url, 'GET', `/v1/jobs/${job.id}/failures?limit=3`);
    expect(paged.json.data).toHaveLength(3);
    expect((await api(server.url, 'GET', `/v1/jobs/${job.id}/failures?limit=3&after=${paged.json.next_after}`)).json.data.map((f: any) => f.id)).toEqual(['short-vector']);

    expect((await api(server.url, 'GET', '/v1/indexes/manifest')).json.count).toBe(11);
    const item = (await api(server.url, 'GET', '/v1/indexes/manifest/items/img-3')).json;
    expect(item).toMatchObject({ category: 'shoes', attributes: { n: 3 }, source_kind: 'image', image_url: '/v1/indexes/manifest/items/img-3/image' });
    const image = await fetch(`${server.url}${item.image_url}`);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await image.arrayBuffer()).equals(jpegs[3]!)).toBe(true);
    const search = await api(server.url, 'POST', '/v1/indexes/manifest/search', { query: { image: dataUri(jpegs[5]!) }, limit: 1 });
    expect(search.json.data[0].id).toBe('img-5');
  });

  it('takes inline items beyond the per-request limit of /items', async () => {
    await createIndex('inline');
    const items = Array.from({ length: 300 }, (_, i) => ({ id: `t-${i}`, text: `product number ${i}`, category: `c${i % 3}` }));
    const submitted = await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'inline', items });
    expect(submitted.status).toBe(202);
    const job = await waitForJob(server.url, submitted.json.id);
    expect(job).toMatchObject({ state: 'completed', progress: { total: 300, done: 300, failed: 0 } });
    expect((await api(server.url, 'GET', '/v1/indexes/inline')).json.count).toBe(300);
    const listed = jobListResponse.parse((await api(server.url, 'GET', '/v1/jobs?index=inline')).json);
    expect(listed.data.map((entry) => entry.id)).toEqual([job.id]);
  });

  it('fetches a manifest URL and image URLs, retrying a failing server but never a missing image', async () => {
    const hits = new Map<string, number>();
    const images = await listenLocal((req, res) => {
      const path = req.url ?? '';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path === '/manifest.jsonl') {
        res.setHeader('content-type', 'application/x-ndjson');
        res.end(['ok', 'flaky', 'missing'].map((name) => JSON.stringify({ id: name, image: `${images.origin}/${name}.jpg` })).join('\n'));
      } else if (path === '/missing.jpg') {
        res.statusCode = 404;
        res.end();
      } else if (path === '/flaky.jpg' && hits.get(path)! <= 2) {
        res.statusCode = 503;
        res.end();
      } else {
        res.setHeader('content-type', 'image/jpeg');
        res.end(path === '/ok.jpg' ? jpegs[0] : jpegs[1]);
      }
    });
    try {
      await createIndex('urls');
      const submitted = await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'urls', manifest_url: `${images.origin}/manifest.jsonl` });
      const job = await waitForJob(server.url, submitted.json.id);
      expect(job).toMatchObject({ state: 'completed', progress: { total: 3, done: 2, failed: 1 } });
      expect(hits.get('/flaky.jpg')).toBe(3);
      expect(hits.get('/missing.jpg')).toBe(1);
      const failures = (await api(server.url, 'GET', `/v1/jobs/${job.id}/failures`)).json.data;
      expect(failures).toEqual([{ id: 'missing', code: 'url_fetch_failed', message: expect.stringContaining('404') }]);
      // URL items keep the image they were embedded from, and their URL.
      const item = (await api(server.url, 'GET', '/v1/indexes/urls/items/flaky')).json;
      expect(item.source_url).toBe(`${images.origin}/flaky.jpg`);
      expect(Buffer.from(await (await fetch(`${server.url}${item.image_url}`)).arrayBuffer()).equals(jpegs[1]!)).toBe(true);
    } finally {
      await images.close();
    }
  });

  it('fails a job once, saying why, when its manifest URL serves a web page instead of JSON lines', async () => {
    const page = '<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body><form>…</form></body>\n</html>\n';
    const manifest = `\n${JSON.stringify({ id: 'scarf', text: 'a wool scarf' })}\n{"id": "broken\n`;
    const origin = await listenLocal((req, res) => {
      const [type, body] =
        req.url === '/login' ? ['text/html; charset=utf-8', page]
        : req.url === '/xhtml' ? ['application/xhtml+xml', page]
        : req.url === '/plain-page' ? ['text/plain', page]
        : ['text/plain', manifest];
      res.setHeader('content-type', type);
      res.end(body);
    });
    try {
      await createIndex('pages');
      const ingest = async (path: string) => {
        const submitted = await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'pages', manifest_url: `${origin.origin}${path}` });
        expect(submitted.status).toBe(202);
        const job = await waitForJob(server.url, submitted.json.id);
        return { job, failures: (await api(server.url, 'GET', `/v1/jobs/${job.id}/failures`)).json.data };
      };
      for (const [path, served] of [['/login', 'text/html'], ['/xhtml', 'application/xhtml+xml']] as const) {
        const { job, failures } = await ingest(path);
        expect(job).toMatchObject({ state: 'failed', progress: { total: 0, done: 0, failed: 0 }, error: { code: 'manifest_not_jsonl' } });
        expect(job.error.message).toBe(`${origin.origin}${path} served ${served}, expected JSON lines (one item per line): a web page, such as an error or sign-in page, answered in place of the manifest`);
        expect(failures).toEqual([]);
      }
      // A page whose server calls it text: its first non-blank line is not JSON.
      const plain = await ingest('/plain-page');
      expect(plain.job).toMatchObject({ state: 'failed', progress: { total: 0 }, error: { code: 'manifest_not_jsonl' } });
      expect(plain.job.error.message).toBe(`${origin.origin}/plain-page is not JSON lines (one item per line): its first line is "<!DOCTYPE html>"`);
      expect(plain.failures).toEqual([]);
      // A manifest that starts well still fails its bad lines one by one, whatever its content type.
      const good = await ingest('/catalog.jsonl');
      expect(good.job).toMatchObject({ state: 'completed', progress: { total: 2, done: 1, failed: 1 }, error: null });
      expect(good.failures).toEqual([{ id: 'line:3', code: 'invalid_json', message: expect.stringContaining('line 3 is not JSON') }]);
    } finally {
      await origin.close();
    }
  });

  it('shuts down while a job still reads its manifest: the read stops, nothing throws, and the next start fails the job as interrupted', async () => {
    // The manifest's first line, then nothing: the job is reading when the service closes.
    let reading!: () => void;
    const started = new Promise<void>((resolve) => (reading = resolve));
    const origin = await listenLocal((_req, res) => {
      res.setHeader('content-type', 'application/x-ndjson');
      res.write(`${JSON.stringify({ id: 'first', text: 'a linen shirt' })}\n`);
      reading();
    });
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    const own = await startJobServer({ LOOKBOOK_FETCH_ALLOW_PRIVATE: 'true', LOOKBOOK_WORKER_CONCURRENCY: '0' });
    let reopened: JobServer | undefined;
    try {
      await createIndex('shutdown', own);
      const submitted = await api(own.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'shutdown', manifest_url: `${origin.origin}/slow.jsonl` });
      expect(submitted.status).toBe(202);
      await started;
      await own.close();
      // A turn of the event loop for a rejection left behind to surface.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(rejections).toEqual([]);
      reopened = await startJobServer({ LOOKBOOK_DATA_DIR: own.dataDir, LOOKBOOK_WORKER_CONCURRENCY: '0' });
      const job = (await api(reopened.url, 'GET', `/v1/jobs/${submitted.json.id}`)).json;
      expect(job).toMatchObject({ state: 'failed', error: { code: 'interrupted' } });
    } finally {
      process.off('unhandledRejection', onRejection);
      await reopened?.close();
      await origin.close();
    }
  });

  it('appends JSON items, image files and a manifest to an open job, which completes once closed', async () => {
    await createIndex('stream');
    const opened = await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'stream', open: true });
    expect(opened.json).toMatchObject({ state: 'queued', open: true });
    const id = opened.json.id;
    expect((await api(server.url, 'POST', `/v1/jobs/${id}/items`, { items: [{ id: 'json-1', text: 'blue sneakers' }] })).status).toBe(200);
    const files = new FormData();
    files.append('file', new Blob([jpegs[2]!], { type: 'image/jpeg' }), 'a.jpg');
    files.append('file', new Blob([jpegs[3]!], { type: 'image/jpeg' }), 'b.jpg');
    files.append('items', JSON.stringify([{ id: 'file-a', category: 'hats' }, {}]));
    expect((await api(server.url, 'POST', `/v1/jobs/${id}/items`, files)).status).toBe(200);
    const manifest = new FormData();
    manifest.append('manifest', new Blob([`${JSON.stringify({ id: 'line-1', text: 'a straw hat' })}\n`]), 'more.jsonl');
    expect((await api(server.url, 'POST', `/v1/jobs/${id}/items`, manifest)).status).toBe(200);
    // Still open: more may come, so the job has not completed even if every chunk is done.
    await waitForJob(server.url, id, (job) => job.progress.done === 4);
    expect((await api(server.url, 'GET', `/v1/jobs/${id}`)).json).toMatchObject({ state: 'running', open: true, eta_seconds: null });
    const closed = await api(server.url, 'POST', `/v1/jobs/${id}/close`);
    expect(closed.json.open).toBe(false);
    expect(await waitForJob(server.url, id)).toMatchObject({ state: 'completed', progress: { total: 4, done: 4, failed: 0 } });
    const ids = (await api(server.url, 'GET', '/v1/indexes/stream/items')).json.data.map((item: any) => [item.id, item.category]);
    expect(ids).toEqual([['b.jpg', null], ['file-a', 'hats'], ['json-1', null], ['line-1', null]]);
    const late = await api(server.url, 'POST', `/v1/jobs/${id}/items`, { items: [{ id: 'late', text: 'x' }] });
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe('job_not_open');
  });

  it('does not duplicate items when a job is resubmitted or a chunk is applied twice', async () => {
    const own = await startJobServer({ LOOKBOOK_WORKER_CONCURRENCY: '0' });
    try {
      await createIndex('twice', own);
      const items = jpegs.map((jpeg, i) => ({ id: `sku-${i}`, image: dataUri(jpeg) }));
      const first = await api(own.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'twice', items });
      const second = await api(own.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'twice', items });
      // This test's own worker takes each chunk and processes it twice, as a worker that died
      // after the owner applied its vectors but before BullMQ heard of it would be retried.
      const worker = new Worker(CHUNK_QUEUE, null, { connection: { url: REDIS_URL }, prefix: own.prefix });
      const service = own.services.jobs.service;
      try {
        let processed = 0;
        let sealed = 0;
        while (processed < 4 || sealed < 2) {
          const job = await worker.getNextJob('test-token', { block: true });
          if (!job) continue;
          if (job.name === 'seal') {
            await job.moveToCompleted('sealed', 'test-token', false);
            sealed += 1;
            continue;
          }
          await processChunk(job as any, { owner: service, embedder: service.embedder });
          await processChunk(job as any, { owner: service, embedder: service.embedder });
          await job.moveToCompleted('done', 'test-token', false);
          processed += 1;
        }
      } finally {
        await worker.close();
      }
      for (const id of [first.json.id, second.json.id]) {
        expect(await waitForJob(own.url, id)).toMatchObject({ state: 'completed', progress: { total: 12, done: 12, failed: 0 } });
      }
      const index = (await api(own.url, 'GET', '/v1/indexes/twice')).json;
      expect(index.count).toBe(12);
      const listed = (await api(own.url, 'GET', '/v1/indexes/twice/items?limit=100')).json.data.map((item: any) => item.id);
      expect(new Set(listed).size).toBe(12);
      expect(listed).toHaveLength(12);
    } finally {
      await own.close();
    }
  });

  it('cancels a job: its queued chunks are dropped and the job says cancelled', async () => {
    const own = await startJobServer({ LOOKBOOK_WORKER_CONCURRENCY: '0' });
    try {
      await createIndex('cancel', own);
      const items = Array.from({ length: 100 }, (_, i) => ({ id: `t-${i}`, text: `item ${i}` }));
      const submitted = await api(own.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'cancel', items });
      // 13 chunks of 8, and the seal that let the job finish once they are done.
      expect(await own.services.queues!.chunks.getWaitingCount()).toBe(14);
      const cancelled = await api(own.url, 'DELETE', `/v1/jobs/${submitted.json.id}`);
      expect(cancelled.json).toMatchObject({ state: 'cancelled' });
      expect(await own.services.queues!.chunks.getWaitingCount()).toBe(0);
      expect(await waitForJob(own.url, submitted.json.id)).toMatchObject({ state: 'cancelled', progress: { done: 0 } });
      const again = await api(own.url, 'DELETE', `/v1/jobs/${submitted.json.id}`);
      expect(again.status).toBe(409);
      expect(again.json.error.code).toBe('job_finished');
      expect((await api(own.url, 'GET', '/v1/indexes/cancel')).json.count).toBe(0);
    } finally {
      await own.close();
    }
  });

  it('streams progress as server-sent events until the job ends', async () => {
    await createIndex('events');
    const submitted = await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'events', items: [{ id: 'a', text: 'a' }] });
    const response = await fetch(`${server.url}/v1/jobs/${submitted.json.id}/events`);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const text = await response.text(); // the stream ends with the job
    const events = text.split('\n\n').filter((block) => block.startsWith('event:'));
    expect(events[0]).toMatch(/^event: (progress|end)/);
    expect(events.at(-1)).toMatch(/^event: end/);
    expect(JSON.parse(events.at(-1)!.split('\n').find((line) => line.startsWith('data: '))!.slice(6))).toMatchObject({ state: 'completed' });
  });

  it('shows the queues on the Bull Board dashboard', async () => {
    const page = await fetch(`${server.url}/admin/queues`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const queues = await (await fetch(`${server.url}/admin/queues/api/queues`)).json();
    expect(queues.queues.map((queue: any) => queue.name).sort()).toEqual(['chunks', 'jobs']);
  });

  it('refuses bad job requests with 4xx and the reason', async () => {
    const cases: [unknown, number, string][] = [
      [{ type: 'ingest', index: 'nope', items: [{ id: 'a', text: 'a' }] }, 404, 'index_not_found'],
      [{ type: 'teleport', index: 'events' }, 400, 'invalid_request'],
      [{ type: 'ingest', index: 'events' }, 400, 'invalid_request'],
      [{ type: 'ingest', index: 'events', items: [{ id: 'a', text: 'a' }], manifest_url: 'http://x/y' }, 400, 'invalid_request'],
      [{ type: 'reembed', index: 'events', model: 'missing-model' }, 404, 'model_not_found'],
      [{ type: 'reembed', index: 'events', model_version: '9.9.9' }, 404, 'model_version_not_found'],
    ];
    for (const [body, status, code] of cases) {
      const response = await api(server.url, 'POST', '/v1/jobs', body);
      expect([JSON.stringify(body), response.status, response.json.error.code]).toEqual([JSON.stringify(body), status, code]);
    }
    expect((await api(server.url, 'GET', '/v1/jobs/job_missing')).status).toBe(404);
    expect((await api(server.url, 'GET', '/v1/jobs?limit=0')).status).toBe(400);
  });

  it('fails the jobs of an index that is deleted', async () => {
    const own = await startJobServer({ LOOKBOOK_WORKER_CONCURRENCY: '0' });
    try {
      await createIndex('doomed', own);
      const submitted = await api(own.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'doomed', items: [{ id: 'a', text: 'a' }] });
      await api(own.url, 'DELETE', '/v1/indexes/doomed');
      expect((await api(own.url, 'GET', `/v1/jobs/${submitted.json.id}`)).json).toMatchObject({ state: 'failed', error: { code: 'index_deleted' } });
    } finally {
      await own.close();
    }
  });
});

describe('kept sources', () => {
  it('keeps each image once across items and indexes, and frees it with its last item', async () => {
    await createIndex('keep-a');
    await createIndex('keep-b');
    const jpeg = await gradientJpeg(91, 67, 99); // used by no other test
    const image = dataUri(jpeg);
    await api(server.url, 'POST', '/v1/indexes/keep-a/items', { items: [{ id: 'one', image }, { id: 'two', image }] });
    await api(server.url, 'POST', '/v1/indexes/keep-b/items', { items: [{ id: 'three', image }] });
    const blobs = server.services.blobs;
    const hash = blobHash(jpeg);
    expect(blobs.has(hash)).toBe(true);
    expect(blobs.references(hash)).toBe(3);
    await api(server.url, 'DELETE', '/v1/indexes/keep-a/items/one');
    // Replaced by a text item: its image reference goes.
    await api(server.url, 'POST', '/v1/indexes/keep-a/items', { items: [{ id: 'two', text: 'now words' }] });
    expect(blobs.references(hash)).toBe(1);
    expect(blobs.has(hash)).toBe(true);
    await api(server.url, 'DELETE', '/v1/indexes/keep-b');
    expect(blobs.references(hash)).toBe(0);
    expect(blobs.has(hash)).toBe(false);
  });

  it('says why an item has no kept image', async () => {
    await createIndex('no-image');
    await api(server.url, 'POST', '/v1/indexes/no-image/items', { items: [{ id: 'words', text: 'just text' }] });
    const response = await api(server.url, 'GET', '/v1/indexes/no-image/items/words/image');
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('image_not_kept');
    expect((await api(server.url, 'GET', '/v1/indexes/no-image/items/ghost/image')).json.error.code).toBe('item_not_found');

    const discarding = await startTestServer({ LOOKBOOK_KEEP_SOURCES: 'false' });
    try {
      await createIndex('discard', discarding as JobServer);
      await api(discarding.url, 'POST', '/v1/indexes/discard/items', { items: [{ id: 'pic', image: dataUri(jpegs[0]!) }] });
      const refused = await api(discarding.url, 'GET', '/v1/indexes/discard/items/pic/image');
      expect([refused.status, refused.json.error.code]).toEqual([404, 'image_not_kept']);
      expect(refused.json.error.message).toContain('LOOKBOOK_KEEP_SOURCES=false');
      expect(discarding.services.blobs.usage().blobs).toBe(0);
    } finally {
      await discarding.close();
    }
  });
});

describe('without Redis', () => {
  it('serves search and embeddings, answers job routes 503 queue_unavailable, and says how to start Redis', async () => {
    // A port nothing listens on: Redis "is down".
    const closed = await listenLocal(() => undefined);
    const port = closed.port;
    await closed.close();
    const offline = await startTestServer({ LOOKBOOK_REDIS_URL: `redis://127.0.0.1:${port}`, LOOKBOOK_QUEUE_PREFIX: 'lbtest-offline' });
    try {
      await createIndex('still', offline as JobServer);
      expect((await api(offline.url, 'POST', '/v1/indexes/still/items', { items: [{ id: 'a', text: 'red shoe' }] })).status).toBe(200);
      expect((await api(offline.url, 'POST', '/v1/indexes/still/search', { query: { text: 'red shoe' } })).json.data[0].id).toBe('a');
      expect((await api(offline.url, 'POST', '/v1/embeddings', { input: 'hello' })).status).toBe(200);
      for (const [method, path] of [['POST', '/v1/jobs'], ['GET', '/v1/jobs'], ['GET', '/v1/jobs/job_x']] as const) {
        const response = await api(offline.url, method, path, method === 'POST' ? { type: 'ingest', index: 'still', items: [{ id: 'b', text: 'b' }] } : undefined);
        expect([path, response.status, response.json.error.code]).toEqual([path, 503, 'queue_unavailable']);
      }
      const warning = offline.logs.find((line) => String(line.msg).includes('Redis is not reachable'));
      expect(String(warning?.msg)).toContain('redis-server');
    } finally {
      await offline.close();
    }
    const none = await startTestServer({ LOOKBOOK_REDIS_URL: 'none' });
    try {
      const response = await api(none.url, 'GET', '/v1/jobs');
      expect([response.status, response.json.error.code]).toEqual([503, 'queue_unavailable']);
      expect(response.json.error.message).toContain('LOOKBOOK_REDIS_URL=none');
    } finally {
      await none.close();
    }
  });
});
