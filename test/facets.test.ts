import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await postJson(`${server.url}/v1/indexes`, { name: 'shop' });
  const items = [
    { id: 'a', text: 'red shirt', category: 'shirt', attributes: { color: 'red', size: 2, sale: true } },
    { id: 'b', text: 'red bag', category: 'bag', attributes: { color: 'red', sale: false } },
    { id: 'c', text: 'blue shirt', category: 'shirt', attributes: { color: 'blue', size: 2 } },
    { id: 'd', text: 'plain thing' },
    { id: 'e', text: 'gone', category: 'gone', attributes: { color: 'gone' } },
  ];
  expect((await postJson(`${server.url}/v1/indexes/shop/items`, { items })).json.succeeded).toBe(5);
  expect((await fetch(`${server.url}/v1/indexes/shop/items/e`, { method: 'DELETE' })).status).toBe(200);
});
afterAll(async () => {
  await server?.close();
});

describe('GET /v1/indexes/{name}/facets', () => {
  it("counts the live items' categories and scalar attribute values, largest first", async () => {
    const response = await fetch(`${server.url}/v1/indexes/shop/facets`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      object: 'facets',
      index: 'shop',
      count: 4,
      categories: [
        { value: 'shirt', count: 2 },
        { value: 'bag', count: 1 },
      ],
      // Booleans stay booleans (SQLite's json_each gives 1 and 0).
      attributes: [
        { name: 'color', values: [{ value: 'red', count: 2 }, { value: 'blue', count: 1 }] },
        { name: 'sale', values: [{ value: false, count: 1 }, { value: true, count: 1 }] },
        { name: 'size', values: [{ value: 2, count: 2 }] },
      ],
    });
  });

  it('answers 404 for an index that does not exist', async () => {
    const response = await fetch(`${server.url}/v1/indexes/nope/facets`);
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe('index_not_found');
  });
});
