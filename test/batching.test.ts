import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { maxAbsDiff, postJson, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let jpegs: Buffer[];

beforeAll(async () => {
  server = await startTestServer({ LOOKBOOK_BATCH_MAX_SIZE: '32', LOOKBOOK_BATCH_MAX_WAIT_MS: '10' });
  jpegs = await Promise.all(Array.from({ length: 64 }, (_, i) => gradientJpeg(64 + (i % 5) * 10, 64, i)));
});
afterAll(async () => {
  await server?.close();
});

describe('micro-batching', () => {
  it('serves 64 concurrent single-image requests in at most 8 runs, each within 1e-5 of an unbatched run', async () => {
    // Unbatched references: one request at a time, so each run holds one image.
    const model = server.services.registry.get();
    const single: number[][] = [];
    for (const jpeg of jpegs) {
      const runsBefore = model.runs.image;
      const { json } = await postJson(`${server.url}/v1/embeddings`, { input: [{ image: dataUri(jpeg) }] });
      expect(model.runs.image - runsBefore).toBe(1);
      single.push(json.data[0].embedding);
    }

    const runsBefore = model.runs.image;
    const responses = await Promise.all(jpegs.map((jpeg) => postJson(`${server.url}/v1/embeddings`, { input: [{ image: dataUri(jpeg) }] })));
    const runs = model.runs.image - runsBefore;
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(runs).toBeLessThanOrEqual(8);
    responses.forEach((response, i) => {
      expect(maxAbsDiff(response.json.data[0].embedding, single[i]!)).toBeLessThanOrEqual(1e-5);
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/lookbook_encoder_batch_size_count\{model="lookbook-fixture",tower="image"\} \d+/);
  });

  it('answers 429 with Retry-After when the encoder queue is full', async () => {
    const small = await startTestServer({ LOOKBOOK_QUEUE_MAX: '2', LOOKBOOK_BATCH_MAX_SIZE: '1', LOOKBOOK_BATCH_MAX_WAIT_MS: '50' });
    try {
      const texts = Array.from({ length: 40 }, (_, i) => `item number ${i}`);
      const responses = await Promise.all(texts.map((text) => postJson(`${small.url}/v1/embeddings`, { input: text })));
      const refused = responses.filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThan(0);
      expect(responses.filter((r) => r.status === 200).length).toBeGreaterThan(0);
      expect(refused[0]!.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(refused[0]!.json.error).toMatchObject({ code: 'overloaded', type: 'rate_limit_error' });
    } finally {
      await small.close();
    }
  });
});
