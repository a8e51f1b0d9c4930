import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { postJson, startTestServer, type TestServer } from './helpers/server.js';

/** What a black-box sweep of the search side (search, filters, looks, categories) found answered wrongly. */
let server: TestServer;

const LONG = 'L'.repeat(300);

beforeAll(async () => {
  server = await startTestServer();
  expect((await postJson(`${server.url}/v1/indexes`, { name: 'shop' })).status).toBe(201);
  const items = [
    { id: 'true', text: 'a red shoe', attributes: { sale: true, code: true } },
    { id: 'one', text: 'a red bag', attributes: { sale: 1, code: 1 } },
    { id: 'false', text: 'a blue shoe', attributes: { sale: false, code: false } },
    { id: 'zero', text: 'a blue bag', attributes: { sale: 0, code: 0 } },
    { id: 'string', text: 'a green hat', attributes: { sale: '1', code: '1' } },
    // A value longer than the posting lists index: a filter on "code" that names one is answered by the catalog's SQL.
    { id: 'long', text: 'a green shoe', attributes: { code: LONG } },
  ];
  expect((await postJson(`${server.url}/v1/indexes/shop/items`, { items })).json.failed).toBe(0);
  expect((await postJson(`${server.url}/v1/indexes`, { name: 'looks' })).status).toBe(201);
  const products = await Promise.all(
    ['shoes', 'bags', 'hats', 'shoes', 'bags', 'hats'].map(async (category, i) => ({ id: `p${i}`, image: dataUri(await gradientJpeg(48, 48, i)), category })),
  );
  expect((await postJson(`${server.url}/v1/indexes/looks/items`, { items: products })).json.failed).toBe(0);
});
afterAll(async () => {
  await server?.close();
});

const found = async (filter: unknown) => {
  const { status, json } = await postJson(`${server.url}/v1/indexes/shop/search`, { query: { text: 'shoe' }, limit: 100, filter });
  expect(status).toBe(200);
  return (json.data as { id: string }[]).map((hit) => hit.id).sort();
};

describe('attribute filters', () => {
  it('match a value of its own JSON type only: 1 is not true, 0 is not false', async () => {
    expect(await found({ attributes: { sale: true } })).toEqual(['true']);
    expect(await found({ attributes: { sale: 1 } })).toEqual(['one']);
    expect(await found({ attributes: { sale: false } })).toEqual(['false']);
    expect(await found({ attributes: { sale: 0 } })).toEqual(['zero']);
    expect(await found({ attributes: { sale: '1' } })).toEqual(['string']);
    expect(await found({ attributes: { sale: [true, 0] } })).toEqual(['true', 'zero']);
  });

  it('answer the same when the catalog answers them (a value too long for the posting lists)', async () => {
    expect(await found({ attributes: { code: [true, LONG] } })).toEqual(['long', 'true']);
    expect(await found({ attributes: { code: [1, LONG] } })).toEqual(['long', 'one']);
    expect(await found({ attributes: { code: [false, 0, LONG] } })).toEqual(['false', 'long', 'zero']);
    expect(await found({ attributes: { code: ['1', LONG] } })).toEqual(['long', 'string']);
  });
});

describe('POST /v1/complete-the-look', () => {
  it('answers a category asked for twice once', async () => {
    const { status, json } = await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks', item_id: 'p0', categories: ['bags', 'hats', 'bags'], limit: 1 });
    expect(status).toBe(200);
    expect(json.categories.map((group: { category: string }) => group.category)).toEqual(['bags', 'hats']);
  });
});

describe('POST /v1/shop-the-look', () => {
  it('says what a crop box is when one is not four finite numbers', async () => {
    const image = dataUri(await gradientJpeg(64, 64, 1));
    for (const crop of [[0, 0, 10], [0, 0, 10, 10, 20], [[0, 0, 10, 10], [0, 0, 20, 20]], [0, '0', 10, 10]]) {
      const { status, json } = await postJson(`${server.url}/v1/shop-the-look`, { index: 'looks', image, crop });
      expect([JSON.stringify(crop), status, json.error.code]).toEqual([JSON.stringify(crop), 400, 'invalid_request']);
      expect(json.error.message).toMatch(/^crop[.\d]*: a box is \[x1, y1, x2, y2\]: four finite numbers$/);
    }
    // JSON's 1e999 is Infinity.
    const response = await fetch(`${server.url}/v1/shop-the-look`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"index": "looks", "image": "${image}", "crop": [0, 0, 1e999, 10]}` });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatchObject({ param: 'crop[2]', message: 'crop.2: a box is [x1, y1, x2, y2]: four finite numbers' });
    const ok = await postJson(`${server.url}/v1/shop-the-look`, { index: 'looks', image, crop: [0, 0, 32, 32] });
    expect(ok.status).toBe(200);
  });
});

describe('an option no route takes', () => {
  it('is refused by detection and Shop The Look, JSON or multipart, as by search and Complete the Look', async () => {
    const jpeg = await gradientJpeg(64, 64, 2);
    const image = dataUri(jpeg);
    for (const [path, body] of [
      ['/v1/shop-the-look', { index: 'looks', image, crop: [0, 0, 32, 32], limt: 3 }],
      ['/v1/detect', { image, max_object: 3 }],
      ['/v1/complete-the-look', { index: 'looks', image, limt: 3 }],
    ] as const) {
      const { status, json } = await postJson(`${server.url}${path}`, body);
      expect([path, status, json.error.code]).toEqual([path, 400, 'invalid_request']);
      expect(json.error.message).toMatch(/limt|max_object/);
    }
    const form = new FormData();
    form.append('file', new Blob([jpeg], { type: 'image/jpeg' }), 'scene.jpg');
    form.append('index', 'looks');
    form.append('crop', '[0, 0, 32, 32]');
    form.append('limt', '3');
    const response = await fetch(`${server.url}/v1/shop-the-look`, { method: 'POST', body: form });
    expect(response.status).toBe(400);
    expect((await response.json()).error.message).toMatch(/limt/);
  });
});

describe('PUT /v1/indexes/{name}/categories', () => {
  const put = (labels: unknown) => fetch(`${server.url}/v1/indexes/looks/categories`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ labels }) });

  it('takes any label name of 1 to 256 characters, "constructor" too', async () => {
    const response = await put({ constructor: ['shoes'], shoes: ['shoes'] });
    expect(response.status).toBe(200);
  });

  it('says what is wrong with a label name it refuses', async () => {
    for (const label of ['', 'x'.repeat(257)]) {
      const response = await put({ [label]: ['shoes'] });
      expect(response.status).toBe(400);
      expect((await response.json()).error.message).toBe(`labels.${label}: a detector label has 1 to 256 characters`);
    }
  });
});

describe('a search query zod cannot take', () => {
  const search = (body: unknown) => postJson(`${server.url}/v1/indexes/shop/search`, body);

  it('says what a query is when it is none of the four kinds, or more than one', async () => {
    for (const query of [{}, { text: 'a', item_id: 'b' }, [], null, { txt: 'a' }]) {
      const { status, json } = await search({ query });
      expect([JSON.stringify(query), status]).toEqual([JSON.stringify(query), 400]);
      expect(json.error).toMatchObject({ param: 'query', message: 'query: a query is exactly one of {"text"}, {"image"}, {"item_id"} or {"vector"} (with "model" and "model_version")' });
    }
  });

  it('says what is wrong with a query of one kind', async () => {
    const vector = await search({ query: { vector: [1, '2'] } });
    expect(vector.status).toBe(400);
    expect(vector.json.error.message).toBe('query: vector.1: Invalid input: expected number, received string');
    const extra = await search({ query: { text: 'a', model: 'x' } });
    expect(extra.json.error.message).toBe('query: Unrecognized key: "model"');
  });

  it('says that no JSON body was read when the body is not sent as JSON', async () => {
    const response = await fetch(`${server.url}/v1/indexes/shop/search`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: { text: 'shoe' } }) });
    expect(response.status).toBe(400);
    expect((await response.json()).error.message).toMatch(/^no JSON body was read \(send it with Content-Type: application\/json\); query: /);
  });
});

describe('fields of one type or another', () => {
  it('say which types they take when given another', async () => {
    const cases: [string, unknown, string][] = [
      ['/v1/indexes/shop/search', { query: { text: 'shoe' }, filter: { category: null } }, 'filter.category: one category (a string) or a list of them'],
      ['/v1/indexes/shop/search', { query: { text: 'shoe' }, filter: { category: ['shoes', 5] } }, 'filter.category: one category (a string) or a list of them'],
      ['/v1/indexes/shop/search', { query: { text: 'shoe' }, filter: { attributes: { sale: null } } }, 'filter.attributes.sale: a value (a string, a number or a boolean) or a list of them'],
      ['/v1/indexes/shop/search', { query: { text: 'shoe' }, filter: { attributes: { sale: { $ne: 1 } } } }, 'filter.attributes.sale: a value (a string, a number or a boolean) or a list of them'],
      ['/v1/complete-the-look', { index: 'looks', item_id: 'p0', exclude_present: 'yes' }, 'exclude_present: true or false'],
    ];
    for (const [path, body, message] of cases) {
      const { status, json } = await postJson(`${server.url}${path}`, body);
      expect([JSON.stringify(body), status, json.error.message]).toEqual([JSON.stringify(body), 400, message]);
    }
  });
});

describe('unknown categories asked of Complete the Look', () => {
  it('are named up to twenty in the 400, with how many more there are', async () => {
    const categories = Array.from({ length: 500 }, (_, i) => `nope-${i}`);
    const { status, json } = await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks', item_id: 'p0', categories });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'unknown_category', known: ['bags', 'hats', 'shoes'] });
    expect(json.error.message).toBe(`unknown categories ${categories.slice(0, 20).map((c) => JSON.stringify(c)).join(', ')} and 480 more; index looks has: bags, hats, shoes`);
  });
});
