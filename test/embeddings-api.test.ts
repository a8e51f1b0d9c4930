import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packSignBits } from '../src/index/binary-codes.js';
import { gradientJpeg, dataUri } from './helpers/images.js';
import { decodeFloat32, fixtureImage, loadReference } from './helpers/reference.js';
import { maxAbsDiff, postJson, startTestServer, type TestServer } from './helpers/server.js';

const reference = loadReference('fixture');
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('GET /v1/models', () => {
  it('lists the loaded model with its version, dimension and provider', async () => {
    const body = await (await fetch(`${server.url}/v1/models`)).json();
    expect(body.object).toBe('list');
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toMatchObject({
      id: 'lookbook-fixture',
      object: 'model',
      version: '0.0.1',
      dimension: 512,
      layout: 'lookbook',
      providers: { image: 'cpu', text: 'cpu' },
      default: true,
    });
  });

  it('answers 404 with the available models for an unknown id', async () => {
    const response = await fetch(`${server.url}/v1/models/nope`);
    expect(response.status).toBe(404);
    const body = await response.json();
    expect(body.error).toMatchObject({ code: 'model_not_found', type: 'not_found_error', available: ['lookbook-fixture'] });
  });
});

describe('POST /v1/embeddings', () => {
  it('embeds texts exactly as the PyTorch reference (max abs diff ≤ 1e-5)', async () => {
    const { status, json } = await postJson(`${server.url}/v1/embeddings`, { input: reference.texts.map((t) => t.text) });
    expect(status).toBe(200);
    expect(json.model).toBe('lookbook-fixture');
    expect(json.model_version).toBe('0.0.1');
    expect(json.data).toHaveLength(reference.texts.length);
    reference.texts.forEach((ref, i) => {
      expect(json.data[i].index).toBe(i);
      expect(maxAbsDiff(json.data[i].embedding, ref.embedding)).toBeLessThanOrEqual(1e-5);
    });
  });

  it('says in usage which texts were truncated and counts their tokens', async () => {
    const { json } = await postJson(`${server.url}/v1/embeddings`, { input: reference.texts.map((t) => t.text) });
    const expectedTruncated = reference.texts.flatMap((t, i) => (t.truncated ? [i] : []));
    expect(expectedTruncated.length).toBeGreaterThan(0);
    expect(json.usage.truncated_inputs).toEqual(expectedTruncated);
    const tokens = reference.texts.reduce((sum, t) => sum + t.ids.filter((_, j) => (t.attention_mask ? t.attention_mask[j] === 1 : true)).length, 0);
    expect(json.usage.prompt_tokens).toBeGreaterThan(0);
    expect(json.usage.total_tokens).toBe(json.usage.prompt_tokens);
    expect(json.usage.prompt_tokens).toBeLessThanOrEqual(tokens);
  });

  it('embeds an image given as a data URI, matching the embedding of the reference tensor', async () => {
    const ref = reference.images.find((image) => image.file === 'square-64.png')!;
    const { status, json } = await postJson(`${server.url}/v1/embeddings`, {
      input: [{ image: dataUri(fixtureImage(ref.file), 'image/png') }],
    });
    expect(status).toBe(200);
    expect(json.usage.images).toBe(1);
    expect(maxAbsDiff(json.data[0].embedding, ref.embedding)).toBeLessThanOrEqual(1e-4);
  });

  it('accepts typed text items and a single typed image item', async () => {
    const jpeg = await gradientJpeg();
    const a = await postJson(`${server.url}/v1/embeddings`, { input: [{ text: 'red dress' }, 'red dress'] });
    expect(maxAbsDiff(a.json.data[0].embedding, a.json.data[1].embedding)).toBe(0);
    const b = await postJson(`${server.url}/v1/embeddings`, { input: { image: jpeg.toString('base64') } });
    expect(b.status).toBe(200);
    expect(b.json.data[0].embedding).toHaveLength(512);
  });

  it('returns base64 little-endian float32 and packed sign bits that equal the float output', async () => {
    const input = ['coffee cup', 'running shoe'];
    const float = await postJson(`${server.url}/v1/embeddings`, { input });
    const b64 = await postJson(`${server.url}/v1/embeddings`, { input, encoding_format: 'base64' });
    const bits = await postJson(`${server.url}/v1/embeddings`, { input, encoding_format: 'ubinary' });
    input.forEach((_, i) => {
      const floats: number[] = float.json.data[i].embedding;
      expect(Array.from(decodeFloat32(b64.json.data[i].embedding))).toEqual(floats);
      expect(bits.json.data[i].embedding).toEqual(Array.from(packSignBits(floats)));
      expect(bits.json.data[i].embedding).toHaveLength(64);
      const norm = Math.sqrt(floats.reduce((s, x) => s + x * x, 0));
      expect(Math.abs(norm - 1)).toBeLessThan(1e-5);
    });
  });

  it('refuses an unknown model with 404 and the list of models', async () => {
    const { status, json } = await postJson(`${server.url}/v1/embeddings`, { input: 'x', model: 'gpt-7' });
    expect(status).toBe(404);
    expect(json.error).toMatchObject({ code: 'model_not_found', param: 'model', available: ['lookbook-fixture'] });
  });

  it('selects a model by id and refuses a different dimension', async () => {
    const ok = await postJson(`${server.url}/v1/embeddings`, { input: 'x', model: 'lookbook-fixture', dimensions: 512 });
    expect(ok.status).toBe(200);
    const bad = await postJson(`${server.url}/v1/embeddings`, { input: 'x', dimensions: 256 });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'unsupported_dimensions', param: 'dimensions' });
  });
});

describe('POST /v1/embeddings/images (multipart)', () => {
  it('embeds uploaded files like the JSON route does', async () => {
    const jpeg = await gradientJpeg(90, 60, 3);
    const form = new FormData();
    form.append('file', new Blob([jpeg], { type: 'image/jpeg' }), 'a.jpg');
    form.append('file', new Blob([fixtureImage('square-64.png')], { type: 'image/png' }), 'b.png');
    const response = await fetch(`${server.url}/v1/embeddings/images`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.data.map((d: any) => [d.filename, d.width, d.height])).toEqual([
      ['a.jpg', 90, 60],
      ['b.png', 64, 64],
    ]);
    const viaJson = await postJson(`${server.url}/v1/embeddings`, { input: [{ image: dataUri(jpeg) }] });
    expect(maxAbsDiff(body.data[0].embedding, viaJson.json.data[0].embedding)).toBe(0);
  });

  it('answers 400 when no file is sent and 413 when a file is too large', async () => {
    const empty = await fetch(`${server.url}/v1/embeddings/images`, { method: 'POST', body: new FormData() });
    expect(empty.status).toBe(400);
    expect((await empty.json()).error.code).toBe('missing_file');
    const small = await startTestServer({ LOOKBOOK_MAX_IMAGE_BYTES: '1000' });
    try {
      const form = new FormData();
      form.append('file', new Blob([Buffer.alloc(5000, 1)]), 'big.jpg');
      const big = await fetch(`${small.url}/v1/embeddings/images`, { method: 'POST', body: form });
      expect(big.status).toBe(413);
      expect((await big.json()).error.code).toBe('image_too_large');
    } finally {
      await small.close();
    }
  });
});
