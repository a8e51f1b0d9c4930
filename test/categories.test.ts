import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUri } from './helpers/images.js';
import { postJson, startTestServer, type TestServer } from './helpers/server.js';

/**
 * A catalog whose own category names share no word with the detector's labels: the objects of
 * the held-out-style fixture scenes, cut out of their scenes, filed under synonyms.
 */
const SCENES = 'test/fixtures/scenes';
const SYNONYMS: Record<string, string> = {
  clothing: 'apparel',
  shoes: 'footwear',
  bags: 'luggage',
  accessories: 'jewellery',
  food: 'groceries',
  drink: 'beverages',
  home: 'household',
  sport: 'athletics',
  'toys-games': 'playthings',
  tools: 'hardware',
  office: 'stationery',
  electronics: 'gadgets',
  'musical-instruments': 'band gear',
  vehicles: 'transport',
};
const index = JSON.parse(readFileSync(`${SCENES}/index.json`, 'utf8')) as {
  scenes: { file: string; objects: { label: string; concept: string; bbox: [number, number, number, number] }[] }[];
};

let server: TestServer;
const truth = new Map<string, string>();

beforeAll(async () => {
  server = await startTestServer({ LOOKBOOK_MODELS: 'models/lookbook-emoji', LOOKBOOK_DETECTOR: 'models/lookbook-detector/model.onnx' });
  expect((await postJson(`${server.url}/v1/indexes`, { name: 'synonyms' })).status).toBe(201);
  const items = [];
  for (const scene of index.scenes) {
    for (const [i, object] of scene.objects.entries()) {
      const [x1, y1, x2, y2] = object.bbox.map(Math.round) as [number, number, number, number];
      const crop = await sharp(`${SCENES}/${scene.file}`).extract({ left: x1, top: y1, width: x2 - x1, height: y2 - y1 }).png().toBuffer();
      const category = SYNONYMS[object.label]!;
      truth.set(category, object.label);
      items.push({ id: `${scene.file}-${i}-${object.concept}`, image: dataUri(crop, 'image/png'), category });
    }
  }
  expect((await postJson(`${server.url}/v1/indexes/synonyms/items`, { items })).json.failed).toBe(0);
}, 60_000);
afterAll(async () => {
  await server?.close();
});

describe('detector labels and a catalog’s own categories', () => {
  it('derive the mapping from the catalog: most categories go to their true label', async () => {
    const response = await fetch(`${server.url}/v1/indexes/synonyms/categories`);
    const mapping = await response.json();
    expect(mapping.categories.length).toBe(truth.size);
    const right = mapping.categories.filter((entry: any) => entry.labels.includes(truth.get(entry.category)));
    // Crops cut out of busy scenes (neighbours, patterned backgrounds), 1 to 6 per category: at least half are right.
    expect(right.length / mapping.categories.length).toBeGreaterThanOrEqual(0.5);
    expect(mapping.categories.filter((entry: any) => entry.labels.length > 0).length / mapping.categories.length).toBeGreaterThanOrEqual(0.7);
    expect(mapping.categories.every((entry: any) => entry.count > 0)).toBe(true);
    const sources = new Set(mapping.labels.map((label: any) => label.source));
    expect([...sources].every((source) => source === 'derived' || source === 'none')).toBe(true);
    for (const label of mapping.labels) expect(label.searched).toBe(label.categories.length > 0 ? 'filtered' : 'unfiltered');
  });

  it('never answer an object with no products because of naming', async () => {
    for (const scene of index.scenes.slice(0, 4)) {
      const png = readFileSync(`${SCENES}/${scene.file}`);
      const { json } = await postJson(`${server.url}/v1/shop-the-look`, { image: dataUri(png, 'image/png'), index: 'synonyms', limit: 3 });
      expect(json.objects.length).toBeGreaterThan(0);
      for (const object of json.objects) {
        expect(object.products.length).toBeGreaterThan(0);
        expect(['derived', 'none']).toContain(object.category_source);
        if (object.category_source === 'none') expect(object.categories).toBeNull();
        else for (const product of object.products) expect(object.categories).toContain(product.category);
      }
    }
  });

  it('takes per-index overrides first, reflects new items at once, and forgets overrides on delete', async () => {
    const put = await fetch(`${server.url}/v1/indexes/synonyms/categories`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ labels: { shoes: ['footwear', 'luggage'] } }),
    });
    const overridden = await put.json();
    expect(overridden.labels.find((label: any) => label.label === 'shoes')).toMatchObject({ categories: ['footwear', 'luggage'], source: 'index' });
    expect(overridden.categories.find((entry: any) => entry.category === 'luggage').labels).toContain('shoes');
    await postJson(`${server.url}/v1/indexes/synonyms/items`, { items: [{ id: 'new-one', text: 'a red umbrella', category: 'rain wear' }] });
    const fresh = await (await fetch(`${server.url}/v1/indexes/synonyms/categories`)).json();
    expect(fresh.categories.find((entry: any) => entry.category === 'rain wear')).toMatchObject({ count: 1 });
    expect((await (await fetch(`${server.url}/v1/indexes/synonyms/categories`, { method: 'DELETE' })).json()).labels.find((label: any) => label.label === 'shoes').source).not.toBe('index');
    const bad = await fetch(`${server.url}/v1/indexes/synonyms/categories`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ labels: { shoes: 'footwear' } }) });
    expect(bad.status).toBe(400);
    // A label the detector does not have (misspelt) is refused, and the overrides stay as they were.
    const before = await (await fetch(`${server.url}/v1/indexes/synonyms/categories`)).json();
    const misspelt = await fetch(`${server.url}/v1/indexes/synonyms/categories`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ labels: { shoos: ['footwear'], shoes: ['footwear'] } }) });
    expect(misspelt.status).toBe(400);
    expect((await misspelt.json()).error).toMatchObject({ code: 'unknown_label', param: 'labels', message: expect.stringMatching(/^unknown detector label "shoos"; the detector's labels are: .*shoes/) });
    expect(await (await fetch(`${server.url}/v1/indexes/synonyms/categories`)).json()).toEqual(before);
    // A label named __proto__ is refused, not dropped without a word.
    const proto = await fetch(`${server.url}/v1/indexes/synonyms/categories`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"labels": {"__proto__": ["footwear"]}}' });
    expect(proto.status).toBe(400);
    expect((await proto.json()).error.message).toMatch(/__proto__/);
  });
});
