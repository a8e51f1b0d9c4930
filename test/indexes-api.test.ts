import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { postJson, startTestServer, type TestServer } from './helpers/server.js';
import { rng } from '../src/util/random.js';

let server: TestServer;
let jpegs: Buffer[];

beforeAll(async () => {
  server = await startTestServer();
  jpegs = await Promise.all(Array.from({ length: 12 }, (_, i) => gradientJpeg(80 + i * 7, 60 + i * 3, i + 1)));
});
afterAll(async () => {
  await server?.close();
});

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

async function seed(name: string) {
  await call('POST', '/v1/indexes', { name });
  const items = jpegs.map((jpeg, i) => ({
    id: `sku-${i}`,
    image: dataUri(jpeg),
    category: i % 3 === 0 ? 'shoes' : 'bags',
    attributes: { colour: i % 2 ? 'red' : 'blue', size: i },
    metadata: { title: `Product ${i}` },
  }));
  return call('POST', `/v1/indexes/${name}/items`, { items });
}

describe('index management', () => {
  it('creates, lists, describes and deletes indexes', async () => {
    const created = await call('POST', '/v1/indexes', { name: 'catalog-a', vector_storage: 'f16' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      name: 'catalog-a',
      model: { id: 'lookbook-fixture', version: '0.0.1', dimension: 512 },
      model_loaded: true,
      count: 0,
      settings: { vector_storage: 'f16' },
      filter_copies: { filters: 0, bytes: 0, building: 0, budget_bytes: 0 },
      filter_graphs: { filters: 0, bytes: 0, building: 0, budget_bytes: 0 },
      // The ef grown with the index (64 up to 100k items).
      // Nothing measured yet, and no more items than exact_threshold: scanned.
      search_expansion: { expansion_search: 64, exact_scan: true, source: 'size', target_recall: 0.99, measured: null },
    });
    expect((await call('POST', '/v1/indexes', { name: 'catalog-a' })).json.error.code).toBe('index_exists');
    expect((await call('POST', '/v1/indexes', { name: '../etc' })).status).toBe(400);
    expect((await call('POST', '/v1/indexes', { name: 'x', model: 'nope' })).status).toBe(404);
    expect((await call('GET', '/v1/indexes')).json.data.map((i: any) => i.name)).toContain('catalog-a');
    expect((await call('DELETE', '/v1/indexes/catalog-a')).json).toEqual({ name: 'catalog-a', deleted: true });
    expect((await call('GET', '/v1/indexes/catalog-a')).status).toBe(404);
  });
});

describe('items', () => {
  it('adds a batch and answers per item, keeping the good ones when some fail', async () => {
    await call('POST', '/v1/indexes', { name: 'mixed' });
    const { status, json } = await call('POST', '/v1/indexes/mixed/items', {
      items: [
        { id: 'ok-image', image: dataUri(jpegs[0]!) },
        { id: 'ok-text', text: 'a red leather handbag', category: 'bags' },
        { id: 'broken', image: dataUri(jpegs[0]!.subarray(0, 200)) },
        { id: 'nothing' },
        { id: 'private', image: 'http://10.0.0.1/x.jpg' },
      ],
    });
    expect(status).toBe(200);
    expect(json.results.map((r: any) => [r.id, r.status, r.error?.code])).toEqual([
      ['ok-image', 'ok', undefined],
      ['ok-text', 'ok', undefined],
      ['broken', 'error', 'invalid_image'],
      ['nothing', 'error', 'invalid_item'],
      ['private', 'error', 'url_not_allowed'],
    ]);
    expect(json).toMatchObject({ succeeded: 2, failed: 3 });
    expect((await call('GET', '/v1/indexes/mixed')).json.count).toBe(2);
  });

  it('upserts, gets, pages and deletes items', async () => {
    await seed('paging');
    const first = await call('GET', '/v1/indexes/paging/items?limit=5');
    expect(first.json.data).toHaveLength(5);
    const second = await call('GET', `/v1/indexes/paging/items?limit=5&after=${first.json.next_after}`);
    const third = await call('GET', `/v1/indexes/paging/items?limit=5&after=${second.json.next_after}`);
    const ids = [...first.json.data, ...second.json.data, ...third.json.data].map((item: any) => item.id);
    expect(new Set(ids).size).toBe(12);
    expect(third.json.next_after).toBeNull();
    // Far below the size a filter needs for a copy of its codes; the budget is the default's 26 bytes an item.
    expect((await call('GET', '/v1/indexes/paging')).json.filter_copies).toEqual({ filters: 0, bytes: 0, building: 0, budget_bytes: 26 * 12 });
    // Far below the size a filter needs for a graph of its own; the default's 128 bytes an item.
    expect((await call('GET', '/v1/indexes/paging')).json.filter_graphs).toEqual({ filters: 0, bytes: 0, building: 0, budget_bytes: 128 * 12 });

    const before = (await call('GET', '/v1/indexes/paging/items/sku-4')).json;
    await call('POST', '/v1/indexes/paging/items', { items: [{ id: 'sku-4', text: 'now a text item', category: 'hats', metadata: { title: 'Changed' } }] });
    const after = (await call('GET', '/v1/indexes/paging/items/sku-4')).json;
    expect(after).toMatchObject({ category: 'hats', metadata: { title: 'Changed' }, text: 'now a text item', created_at: before.created_at });
    expect((await call('GET', '/v1/indexes/paging')).json.count).toBe(12);

    expect((await call('DELETE', '/v1/indexes/paging/items/sku-5')).status).toBe(200);
    expect((await call('DELETE', '/v1/indexes/paging/items/sku-5')).status).toBe(404);
    expect((await call('POST', '/v1/indexes/paging/items/delete', { ids: ['sku-6', 'ghost'] })).json).toEqual({ deleted: ['sku-6'], missing: ['ghost'] });
    const search = await call('POST', '/v1/indexes/paging/search', { query: { image: dataUri(jpegs[5]!) }, limit: 12 });
    expect(search.json.data.map((hit: any) => hit.id)).not.toContain('sku-5');
    expect(search.json.data).toHaveLength(10);
  });
});

describe('search over HTTP', () => {
  beforeAll(async () => {
    await seed('shop');
  });

  it('finds an item by its image first, with metadata', async () => {
    const { status, json } = await call('POST', '/v1/indexes/shop/search', { query: { image: dataUri(jpegs[7]!) }, limit: 3 });
    expect(status).toBe(200);
    expect(json.data[0]).toMatchObject({ id: 'sku-7', category: 'bags', attributes: { colour: 'red', size: 7 }, metadata: { title: 'Product 7' } });
    expect(json.data[0].score).toBeCloseTo(1, 4);
    expect(json.model).toEqual({ id: 'lookbook-fixture', version: '0.0.1', dimension: 512 });
  });

  it('searches by an uploaded image', async () => {
    const form = new FormData();
    form.append('file', new Blob([jpegs[2]!], { type: 'image/jpeg' }), 'q.jpg');
    form.append('limit', '2');
    form.append('filter', JSON.stringify({ category: 'bags' }));
    const response = await fetch(`${server.url}/v1/indexes/shop/search/upload`, { method: 'POST', body: form });
    const json = await response.json();
    expect(json.data[0].id).toBe('sku-2');
    expect(json.data.every((hit: any) => hit.category === 'bags')).toBe(true);
  });

  it('searches by an existing item, leaving the item itself out', async () => {
    const { json } = await call('POST', '/v1/indexes/shop/search', { query: { item_id: 'sku-1' }, limit: 5 });
    expect(json.data).toHaveLength(5);
    expect(json.data.map((hit: any) => hit.id)).not.toContain('sku-1');
    expect((await call('POST', '/v1/indexes/shop/search', { query: { item_id: 'missing' } })).status).toBe(404);
  });

  it('searches by text and by raw vector', async () => {
    await call('POST', '/v1/indexes/shop/items', { items: [{ id: 'text-item', text: 'striped summer dress', category: 'dresses' }] });
    const byText = await call('POST', '/v1/indexes/shop/search', { query: { text: 'striped summer dress' }, limit: 1 });
    expect(byText.json.data[0]).toMatchObject({ id: 'text-item' });
    expect(byText.json.data[0].score).toBeCloseTo(1, 4);
    const embedded = await postJson(`${server.url}/v1/embeddings`, { input: 'striped summer dress' });
    const byVector = await call('POST', '/v1/indexes/shop/search', {
      query: { vector: embedded.json.data[0].embedding, model: 'lookbook-fixture', model_version: '0.0.1' },
      limit: 1,
    });
    expect(byVector.json.data[0].id).toBe('text-item');
  });

  it('filters inside the search by category and attributes', async () => {
    const { json } = await call('POST', '/v1/indexes/shop/search', {
      query: { image: dataUri(jpegs[1]!) },
      limit: 10,
      filter: { category: ['shoes'], attributes: { colour: 'blue' } },
    });
    // sku-0, 6 (shoes, blue): i % 3 === 0 and i even.
    expect(json.data.map((hit: any) => hit.id).sort()).toEqual(['sku-0', 'sku-6']);
    expect(json.strategy).toBe('filtered-exact');
  });

  it('counts searches by strategy for Prometheus', async () => {
    const count = async (strategy: string) => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(new RegExp(`lookbook_index_searches_total\\{strategy="${strategy}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    const before = await count('filtered-exact');
    const { json } = await call('POST', '/v1/indexes/shop/search', { query: { image: dataUri(jpegs[1]!) }, limit: 3, filter: { category: ['shoes'] } });
    expect(json.strategy).toBe('filtered-exact');
    expect(await count('filtered-exact')).toBe(before + 1);
  });

  it('refuses vectors from another model or of another size', async () => {
    const wrongModel = await call('POST', '/v1/indexes/shop/search', { query: { vector: new Array(512).fill(0.1), model: 'other-model' } });
    expect(wrongModel.status).toBe(409);
    expect(wrongModel.json.error.code).toBe('model_mismatch');
    const wrongSize = await call('POST', '/v1/indexes/shop/search', { query: { vector: [1, 2, 3] } });
    expect(wrongSize.status).toBe(400);
    expect(wrongSize.json.error.code).toBe('dimension_mismatch');
  });

  it('walks the graph with the ef a search asks for', async () => {
    // Random unit vectors, walked by the graph (no exact threshold): an ef over every item, rescored, answers as the exact scan does.
    await call('POST', '/v1/indexes', { name: 'walk', exact_threshold: 0, expansion_search: 8 });
    const random = rng(11);
    const items = Array.from({ length: 250 }, (_, i) => {
      const vector = Array.from({ length: 512 }, () => random() - 0.5);
      const norm = Math.hypot(...vector);
      return { id: `v-${i}`, vector: vector.map((x) => x / norm) };
    });
    const added = await call('POST', '/v1/indexes/walk/items', { items });
    expect(added.json).toMatchObject({ failed: 0 });
    // Every item rescored either way (limit × oversampling = 250).
    const query = { query: { item_id: 'v-42' }, limit: 5, oversampling: 50 };
    const exact = await call('POST', '/v1/indexes/walk/search', { ...query, exact: true });
    const wide = await call('POST', '/v1/indexes/walk/search', { ...query, expansion_search: 250 });
    expect(wide.status).toBe(200);
    // The walk, or when the walk over every item missed one (the walk guard's count check) a walk from the other start or a scan.
    expect(['hnsw', 'hnsw-seeded', 'hnsw-from-top', 'exact-after-hnsw']).toContain(wide.json.strategy);
    expect(wide.json.data.map((hit: any) => hit.id)).toEqual(exact.json.data.map((hit: any) => hit.id));
    for (const expansion_search of [0, 4097, 2.5, '64']) {
      const bad = await call('POST', '/v1/indexes/walk/search', { ...query, expansion_search });
      expect(bad.status).toBe(400);
      expect(bad.json.error.param).toBe('expansion_search');
    }
    // The upload form takes it as text.
    for (const [value, status] of [['250', 200], ['0', 400], ['many', 400]] as const) {
      const form = new FormData();
      form.append('file', new Blob([jpegs[0]!], { type: 'image/jpeg' }), 'q.jpg');
      form.append('expansion_search', value);
      const response = await fetch(`${server.url}/v1/indexes/walk/search/upload`, { method: 'POST', body: form });
      const json = await response.json();
      expect(response.status).toBe(status);
      if (status === 200) expect(['hnsw', 'hnsw-seeded', 'hnsw-from-top', 'exact-after-hnsw']).toContain(json.strategy);
      else expect(json.error.param).toBe('expansion_search');
    }
  });

  it("measures the ef unfiltered searches need on the index's own queries, and reports it", async () => {
    await call('POST', '/v1/indexes', { name: 'metered', exact_threshold: 0 });
    const random = rng(12);
    const vector = () => {
      const v = Array.from({ length: 512 }, () => random() - 0.5);
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    };
    for (let start = 0; start < 600; start += 200) {
      const items = Array.from({ length: 200 }, (_, i) => ({ id: `v-${start + i}`, vector: vector() }));
      expect((await call('POST', '/v1/indexes/metered/items', { items })).json).toMatchObject({ failed: 0 });
    }
    // An index created with an ef keeps it.
    expect((await call('GET', '/v1/indexes/walk')).json.search_expansion).toEqual({ expansion_search: 40, exact_scan: false, source: 'setting', target_recall: 0.99, measured: null });
    // One search in four is sampled; 32 sampled start a measurement in the background.
    for (let i = 0; i < 125; i++) expect((await call('POST', '/v1/indexes/metered/search', { query: { vector: vector() } })).status).toBe(200);
    let described: any;
    for (let tries = 0; tries < 100; tries++) {
      described = (await call('GET', '/v1/indexes/metered')).json;
      if (described.search_expansion.source === 'measured') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { search_expansion: expansion } = described;
    expect(expansion).toMatchObject({ source: 'measured', target_recall: 0.99, measured: { target_recall: 0.99, queries: 32, items: 600 } });
    expect(expansion.expansion_search).toBe(expansion.measured.expansion_search);
    const steps = expansion.measured.recall_by_expansion;
    expect(steps[0].expansion_search).toBe(64);
    expect(steps.at(-1).expansion_search).toBeGreaterThanOrEqual(expansion.measured.expansion_search);
    expect(steps.find((step: any) => step.expansion_search === expansion.measured.expansion_search).recall).toBe(expansion.measured.recall);
    for (const step of steps) expect(step.recall).toBeGreaterThan(0.5);
    // Searches walk at that ef, or scan every code where the measurement found that no slower.
    expect(expansion.exact_scan).toBe(expansion.measured.scan);
    const searched = await call('POST', '/v1/indexes/metered/search', { query: { vector: vector() } });
    if (expansion.measured.scan) expect(searched.json.strategy).toBe('exact');
    else expect(searched.json.strategy).toMatch(/^hnsw/);
  });

  it('validates search requests', async () => {
    expect((await call('POST', '/v1/indexes/shop/search', { query: {} })).status).toBe(400);
    expect((await call('POST', '/v1/indexes/shop/search', { query: { text: 'x' }, limit: 0 })).status).toBe(400);
    expect((await call('POST', '/v1/indexes/nope/search', { query: { text: 'x' } })).status).toBe(404);
  });
});

describe('compaction over HTTP', () => {
  it('moves live items into the slots of deleted ones and cuts the files, answering what it reclaimed', async () => {
    await call('POST', '/v1/indexes', { name: 'compacted' });
    const vectorOf = (i: number) => Array.from({ length: 512 }, (_, j) => Math.sin(i * 7.1 + j * 0.37));
    const items = Array.from({ length: 40 }, (_, i) => ({ id: `v-${i}`, vector: vectorOf(i), category: i % 2 ? 'odd' : 'even' }));
    expect((await call('POST', '/v1/indexes/compacted/items', { items })).status).toBe(200);
    expect((await call('POST', '/v1/indexes/compacted/items/delete', { ids: items.slice(0, 30).map((item) => item.id) })).status).toBe(200);
    const { status, json } = await call('POST', '/v1/indexes/compacted/compact');
    expect(status).toBe(200);
    expect(json).toMatchObject({ object: 'compaction', index: 'compacted', moved_items: 10, free_slots: 0 });
    // 40 slots of 512 floats, 64 sign-code bytes and a 68-byte magnitude code before, 10 after.
    const perSlot = 512 * 4 + 64 + 68;
    expect(json.file_bytes_before).toBe(40 * perSlot);
    expect(json.file_bytes_after).toBe(10 * perSlot);
    expect(json.truncated_bytes).toBe(30 * perSlot);
    const search = await call('POST', '/v1/indexes/compacted/search', { query: { vector: vectorOf(35) }, limit: 3, filter: { category: ['odd'] } });
    expect(search.json.data[0]).toMatchObject({ id: 'v-35', category: 'odd' });
    expect((await call('GET', '/v1/indexes/compacted/items/v-36')).json).toMatchObject({ id: 'v-36', category: 'even' });
    expect((await call('POST', '/v1/indexes/nope/compact')).status).toBe(404);
  });
});

describe('items the catalog could not keep as sent', () => {
  it('refuses, item by item, vectors beyond float32 or all zeros, lone surrogates, reserved attribute names and metadata nested too deep; keeps the rest of the batch and its space', async () => {
    await call('POST', '/v1/indexes', { name: 'odd-items' });
    const vector = Array.from({ length: 512 }, (_, j) => Math.cos(j * 0.21));
    const items = [
      // A metadata key "constructor" is a field like any other (zod's records refused it).
      { id: 'fine', vector, category: 'shoes', attributes: { colour: 'red' }, metadata: { title: 'ok', constructor: 'Acme', nested: { a: { b: [1, 2] } } } },
      { id: 'huge', vector: vector.map(() => 1e308) },
      { id: 'zero', vector: vector.map(() => 0) },
      { id: 'lone', vector, category: '\ud800zz' },
      { id: 'proto', vector, attributes: JSON.parse('{"__proto__": "x"}') },
      { id: 'ctor', vector, attributes: { constructor: 'x' } },
    ];
    // JSON.stringify itself cannot write 5,000 levels: the body is written by hand.
    const body = `{"items":[${items.map((item) => JSON.stringify(item)).join(',')},{"id":"deep","vector":${JSON.stringify(vector)},"metadata":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}]}`;
    const response = await fetch(`${server.url}/v1/indexes/odd-items/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(200);
    const json = await response.json();
    expect(json).toMatchObject({ succeeded: 1, failed: 6 });
    expect(json.results.map((result: any) => [result.id, result.status, result.error?.code])).toEqual([
      ['fine', 'ok', undefined],
      ['huge', 'error', 'invalid_item'],
      ['zero', 'error', 'invalid_item'],
      ['lone', 'error', 'invalid_item'],
      ['proto', 'error', 'invalid_item'],
      ['ctor', 'error', 'invalid_item'],
      ['deep', 'error', 'invalid_item'],
    ]);
    expect(json.results[1].error.message).toMatch(/float32/);
    expect(json.results[2].error.message).toMatch(/all zeros/);
    expect(json.results[3].error.message).toMatch(/surrogate/);
    expect(json.results[4].error.message).toMatch(/__proto__/);
    expect(json.results[5].error.message).toMatch(/attributes\.constructor: an attribute name/);
    expect(json.results[6].error.message).toMatch(/deeper than 64/);
    // One item, one slot: the refused ones took none.
    const described = await call('GET', '/v1/indexes/odd-items');
    expect(described.json.count).toBe(1);
    expect(described.json.bytes.vectors).toBe(512 * 4);
    expect((await call('GET', '/v1/indexes/odd-items/items/fine')).json).toMatchObject({ category: 'shoes', metadata: { constructor: 'Acme', nested: { a: { b: [1, 2] } } } });
    // Queries alike, and filters on a reserved name.
    const search = (body: unknown) => call('POST', '/v1/indexes/odd-items/search', body);
    expect((await search({ query: { vector: vector.map(() => 1e308) } })).status).toBe(400);
    expect((await search({ query: { vector: vector.map(() => 0) } })).status).toBe(400);
    expect((await search({ query: { vector }, filter: { attributes: JSON.parse('{"__proto__": "x"}') } })).status).toBe(400);
    const constructorFilter = await search({ query: { vector }, filter: { attributes: { constructor: 'x' } } });
    expect(constructorFilter.status).toBe(400);
    expect(constructorFilter.json.error.message).toMatch(/not __proto__ or constructor/);
    const found = await search({ query: { vector } });
    expect(found.json.data.map((hit: any) => [hit.id, hit.metadata.constructor])).toEqual([['fine', 'Acme']]);
  });

  it('refuses "." and ".." as item ids, which a URL path resolves away, and keeps ids with "/" addressable percent-encoded', async () => {
    await call('POST', '/v1/indexes', { name: 'path-ids' });
    const vector = Array.from({ length: 512 }, (_, j) => Math.sin(j * 0.37));
    const ids = ['.', '..', 'shoes/sku-1', '../sku-2', '.hidden', '...'];
    const added = await call('POST', '/v1/indexes/path-ids/items', { items: ids.map((id) => ({ id, vector })) });
    expect(added.status).toBe(200);
    expect(added.json.results.map((result: any) => [result.id, result.status, result.error?.code])).toEqual([
      ['.', 'error', 'invalid_item'],
      ['..', 'error', 'invalid_item'],
      ['shoes/sku-1', 'ok', undefined],
      ['../sku-2', 'ok', undefined],
      ['.hidden', 'ok', undefined],
      ['...', 'ok', undefined],
    ]);
    expect(added.json.results[0].error.message).toBe('id: may not be "." or "..": a URL resolves them as path segments, so …/items/{id} could not address the item');
    for (const id of ids.slice(2)) expect((await call('GET', `/v1/indexes/path-ids/items/${encodeURIComponent(id)}`)).json.id, id).toBe(id);
    expect((await call('GET', '/v1/indexes/path-ids')).json.count).toBe(4);

    const upload = (name: string, items?: unknown) => {
      const form = new FormData();
      form.append('file', new Blob([jpegs[0]!], { type: 'image/jpeg' }), name);
      if (items) form.append('items', JSON.stringify(items));
      return fetch(`${server.url}/v1/indexes/path-ids/items/upload`, { method: 'POST', body: form }).then(async (response) => ({ status: response.status, json: await response.json() }));
    };
    // (A file named ".." never names an item: busboy, under multer, takes such a part for a field.)
    for (const refused of [await upload('photo.jpg', [{ id: '.' }]), await upload('photo.jpg', [{ id: '..' }])]) {
      expect(refused.status).toBe(400);
      expect(refused.json.error).toMatchObject({ code: 'invalid_request', param: 'id', message: expect.stringContaining('may not be "." or ".."') });
    }
    expect((await upload('photo.jpg', [{ id: 'uploads/photo.jpg' }])).json.succeeded).toBe(1);
    const image = await fetch(`${server.url}/v1/indexes/path-ids/items/${encodeURIComponent('uploads/photo.jpg')}/image`);
    expect(Buffer.from(await image.arrayBuffer()).equals(jpegs[0]!)).toBe(true);
  });

  it('answers 404 for an unknown index whatever its items', async () => {
    const { status, json } = await call('POST', '/v1/indexes/no-such-index/items', { items: [{ id: 'x' }] });
    expect(status).toBe(404);
    expect(json.error.code).toBe('index_not_found');
  });
});

describe('restarts', () => {
  it('keeps indexes and answers the same after a restart, and refuses queries when the index model is not loaded', async () => {
    const first = await startTestServer();
    const url = first.url;
    await fetch(`${url}/v1/indexes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'durable' }) });
    const items = jpegs.slice(0, 6).map((jpeg, i) => ({ id: `d-${i}`, image: dataUri(jpeg), category: 'c' }));
    await postJson(`${url}/v1/indexes/durable/items`, { items });
    const before = await postJson(`${url}/v1/indexes/durable/search`, { query: { image: dataUri(jpegs[3]!) }, limit: 6 });
    await first.close();

    const second = await startTestServer({ LOOKBOOK_DATA_DIR: first.dataDir });
    try {
      const after = await postJson(`${second.url}/v1/indexes/durable/search`, { query: { image: dataUri(jpegs[3]!) }, limit: 6 });
      expect(after.json.data).toEqual(before.json.data);
    } finally {
      await second.close();
    }

    const otherModel = await startTestServer({ LOOKBOOK_DATA_DIR: first.dataDir, LOOKBOOK_MODELS: 'test/fixtures/models/openclip-tiny' });
    try {
      const described = await (await fetch(`${otherModel.url}/v1/indexes/durable`)).json();
      expect(described).toMatchObject({ count: 6, model_loaded: false });
      const refused = await postJson(`${otherModel.url}/v1/indexes/durable/search`, { query: { text: 'anything' } });
      expect(refused.status).toBe(409);
      expect(refused.json.error.code).toBe('index_model_unavailable');
      expect(refused.json.error.message).toContain('lookbook-fixture@0.0.1');
      const byItem = await postJson(`${otherModel.url}/v1/indexes/durable/search`, { query: { item_id: 'd-3' }, limit: 2 });
      expect(byItem.status).toBe(200);
    } finally {
      await otherModel.close();
    }
  });
});
