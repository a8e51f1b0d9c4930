import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { maxAbsDiff, postJson, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let jpegs: Buffer[];

beforeAll(async () => {
  // Max batch 32 (the default) and a 250 ms wait (default 50 ms): the 64 requests decode their images
  // before they reach the batcher, and on a CI machine busy with another test file they arrive over
  // more than 50 ms (9 runs were seen), which says nothing about batching itself.
  server = await startTestServer({ LOOKBOOK_BATCH_MAX_WAIT_MS: '250' });
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
    console.log(`64 concurrent requests: ${runs} runs`);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(runs).toBeLessThanOrEqual(8);
    responses.forEach((response, i) => {
      expect(maxAbsDiff(response.json.data[0].embedding, single[i]!)).toBeLessThanOrEqual(1e-5);
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/lookbook_encoder_batch_size_count\{model="lookbook-fixture",tower="image"\} \d+/);
  });

  it('answers 429 with Retry-After when a request does not fit in the encoder queue, and serves the rest', async () => {
    const small = await startTestServer({ LOOKBOOK_QUEUE_MAX: '10', LOOKBOOK_BATCH_MAX_SIZE: '4' });
    try {
      const model = small.services.registry.get();
      const runsBefore = model.runs.text;
      const refused = await postJson(`${small.url}/v1/embeddings`, { input: Array.from({ length: 11 }, (_, i) => `item ${i}`) });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(refused.json.error).toMatchObject({ code: 'overloaded', type: 'rate_limit_error' });
      // Refused as a whole: none of its inputs cost a run.
      expect(model.runs.text).toBe(runsBefore);
      const accepted = await postJson(`${small.url}/v1/embeddings`, { input: Array.from({ length: 10 }, (_, i) => `item ${i}`) });
      expect(accepted.status).toBe(200);
      expect(model.runs.text - runsBefore).toBe(3);
    } finally {
      await small.close();
    }
  });
});
