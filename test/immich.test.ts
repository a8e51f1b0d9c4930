import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { maxAbsDiff, postJson, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

function predict(entries: unknown, extra: (form: FormData) => void) {
  const form = new FormData();
  form.append('entries', typeof entries === 'string' ? entries : JSON.stringify(entries));
  extra(form);
  return fetch(`${server.url}/predict`, { method: 'POST', body: form });
}

describe("Immich's machine-learning contract", () => {
  it('answers GET /ping with pong', async () => {
    const response = await fetch(`${server.url}/ping`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('pong');
  });

  it('embeds an image as a JSON-string vector with its size, equal to /v1/embeddings', async () => {
    const jpeg = await gradientJpeg(100, 70, 5);
    const response = await predict({ clip: { visual: { modelName: 'ViT-B-32__openai' } } }, (form) =>
      form.append('image', new Blob([jpeg], { type: 'image/jpeg' }), 'image'),
    );
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(typeof body.clip).toBe('string');
    expect(body).toMatchObject({ imageHeight: 70, imageWidth: 100 });
    const vector = JSON.parse(body.clip) as number[];
    const ours = await postJson(`${server.url}/v1/embeddings`, { input: [{ image: dataUri(jpeg) }] });
    expect(maxAbsDiff(vector, ours.json.data[0].embedding)).toBeLessThanOrEqual(1e-7);
  });

  it('embeds a text with the model it names when that model is loaded', async () => {
    const response = await predict({ clip: { textual: { modelName: 'lookbook-fixture', options: { language: 'en' } } } }, (form) =>
      form.append('text', 'a red dress'),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-lookbook-model')).toBe('lookbook-fixture@0.0.1');
    const vector = JSON.parse((await response.json()).clip) as number[];
    const ours = await postJson(`${server.url}/v1/embeddings`, { input: 'a red dress' });
    expect(maxAbsDiff(vector, ours.json.data[0].embedding)).toBeLessThanOrEqual(1e-7);
  });

  it('answers 422 for malformed entries or tasks it does not serve, 400 without image or text', async () => {
    expect((await predict('{not json', () => {})).status).toBe(422);
    expect((await predict({ 'facial-recognition': { detection: { modelName: 'buffalo_l' } } }, () => {})).status).toBe(422);
    const missing = await predict({ clip: { visual: { modelName: 'x' } } }, () => {});
    expect(missing.status).toBe(400);
    expect((await missing.json()).error.code).toBe('missing_input');
  });
});
