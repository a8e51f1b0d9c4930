import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { postJson, readResponse, startTestServer, type TestServer } from './helpers/server.js';

/** The malformed requests that once answered 500 (or were silently misread), by name. */
let server: TestServer;
let jpeg: Buffer;

beforeAll(async () => {
  jpeg = await gradientJpeg(64, 48, 3);
  server = await startTestServer();
  expect((await postJson(`${server.url}/v1/indexes`, { name: 'shop' })).status).toBe(201);
  const added = await postJson(`${server.url}/v1/indexes/shop/items`, { items: [{ id: 'a', image: dataUri(jpeg), category: 'shoes', attributes: { colour: 'red' } }] });
  expect(added.json.failed).toBe(0);
});
afterAll(async () => {
  await server?.close();
});

const envelope = (json: any, code: string, status: number, actual: number) => {
  expect(actual).toBe(status);
  expect(json.error).toMatchObject({ code, type: 'invalid_request_error' });
  expect(typeof json.error.message).toBe('string');
};

function scene(fields: Record<string, string>) {
  const form = new FormData();
  form.append('file', new Blob([jpeg], { type: 'image/jpeg' }), 'scene.jpg');
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return form;
}

describe('malformed input that once reached a 5xx', () => {
  it('a data: URI with a malformed percent escape is a 400; a percent-encoded binary one is decoded', async () => {
    const bad = await postJson(`${server.url}/v1/embeddings`, { input: [{ image: 'data:image/jpeg,%E0%A4%A' }] });
    envelope(bad.json, 'invalid_image_reference', 400, bad.status);
    const search = await postJson(`${server.url}/v1/indexes/shop/search`, { query: { image: 'data:image/png,%zz' } });
    envelope(search.json, 'invalid_image_reference', 400, search.status);
    // RFC 2397: every byte may be percent-encoded (the JPEG's bytes are not UTF-8).
    const encoded = `data:image/jpeg,${[...jpeg].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')}`;
    const ok = await postJson(`${server.url}/v1/embeddings`, { input: [{ image: encoded }, { image: dataUri(jpeg) }] });
    expect(ok.status).toBe(200);
    expect(ok.json.data[0].embedding).toEqual(ok.json.data[1].embedding);
  });

  it('a filter attribute name that is not a valid identifier is a 400 invalid_filter', async () => {
    for (const name of ['a b', "x')--", '', 'é']) {
      const { status, json } = await postJson(`${server.url}/v1/indexes/shop/search`, { query: { text: 'shoe' }, filter: { attributes: { [name]: 'red' } } });
      expect(status, name).toBe(400);
      expect(json.error.code).toBe('invalid_filter');
    }
    const fine = await postJson(`${server.url}/v1/indexes/shop/search`, { query: { text: 'shoe' }, filter: { attributes: { colour: 'red' } } });
    expect(fine.json.data.map((hit: any) => hit.id)).toEqual(['a']);
  });

  it('multipart crop and categories are JSON, anything else a 400 invalid_json', async () => {
    const crop = await readResponse(await fetch(`${server.url}/v1/shop-the-look`, { method: 'POST', body: scene({ index: 'shop', crop: '0,0,10,10' }) }));
    envelope(crop.json, 'invalid_json', 400, crop.status);
    expect(crop.json.error.param).toBe('crop');
    const categories = await readResponse(await fetch(`${server.url}/v1/shop-the-look`, { method: 'POST', body: scene({ index: 'shop', crop: '[0,0,10,10]', categories: 'shoes' }) }));
    envelope(categories.json, 'invalid_json', 400, categories.status);
    expect(categories.json.error.param).toBe('categories');
    // JSON, but not a box / not a list of names.
    const shape = await readResponse(await fetch(`${server.url}/v1/shop-the-look`, { method: 'POST', body: scene({ index: 'shop', crop: '[0,0,10]' }) }));
    envelope(shape.json, 'invalid_request', 400, shape.status);
    const ok = await readResponse(await fetch(`${server.url}/v1/shop-the-look`, { method: 'POST', body: scene({ index: 'shop', crop: '[0,0,32,32]', categories: '["shoes"]' }) }));
    expect(ok.status).toBe(200);
    expect(ok.json.objects[0].products.map((product: any) => product.id)).toEqual(['a']);
  });
});

describe('input that was once silently misread', () => {
  it('Shop The Look and Complete the Look refuse a JSON limit of true, null, [] or "" instead of reading 1 or 0', async () => {
    for (const limit of [true, false, null, [], [2], '', ' ', 'five', '0x10']) {
      const shop = await postJson(`${server.url}/v1/shop-the-look`, { index: 'shop', image: dataUri(jpeg), crop: [0, 0, 32, 32], limit });
      envelope(shop.json, 'invalid_request', 400, shop.status);
      expect(shop.json.error.param, JSON.stringify(limit)).toBe('limit');
      const look = await postJson(`${server.url}/v1/complete-the-look`, { index: 'shop', image: dataUri(jpeg), limit });
      envelope(look.json, 'invalid_request', 400, look.status);
      expect(look.json.error.param, JSON.stringify(limit)).toBe('limit');
    }
    const score = await postJson(`${server.url}/v1/shop-the-look`, { index: 'shop', image: dataUri(jpeg), crop: [0, 0, 32, 32], min_product_score: true });
    envelope(score.json, 'invalid_request', 400, score.status);
    expect(score.json.error.param).toBe('min_product_score');
    const confidence = await postJson(`${server.url}/v1/detect`, { image: dataUri(jpeg), confidence: false });
    envelope(confidence.json, 'invalid_request', 400, confidence.status);
    expect(confidence.json.error.param).toBe('confidence');
  });

  it('numeric fields take numbers in JSON and decimal strings in JSON or multipart, an empty multipart field being a 400', async () => {
    for (const limit of [1, '1']) {
      const json = await postJson(`${server.url}/v1/shop-the-look`, { index: 'shop', image: dataUri(jpeg), crop: [0, 0, 32, 32], limit });
      expect(json.status).toBe(200);
      expect(json.json.objects[0].products.map((product: any) => product.id)).toEqual(['a']);
    }
    const form = await readResponse(await fetch(`${server.url}/v1/shop-the-look`, { method: 'POST', body: scene({ index: 'shop', crop: '[0,0,32,32]', limit: '1', min_product_score: '-1' }) }));
    expect(form.status).toBe(200);
    expect(form.json.objects[0].products.map((product: any) => product.id)).toEqual(['a']);
    const empty = await readResponse(await fetch(`${server.url}/v1/shop-the-look`, { method: 'POST', body: scene({ index: 'shop', crop: '[0,0,32,32]', min_product_score: '' }) }));
    envelope(empty.json, 'invalid_request', 400, empty.status);
    expect(empty.json.error).toMatchObject({ param: 'min_product_score', message: expect.stringContaining('expected a number') });
  });
});
