import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUri } from './helpers/images.js';
import { api, startJobServer, waitForJob, type JobServer } from './helpers/jobs.js';
import { postJson } from './helpers/server.js';

/**
 * Complete the Look over HTTP, with the project's encoder, detector and compatibility model
 * (models/lookbook-ctl), on a catalog of the held-out-style fixture scenes' objects.
 */
const SCENES = 'test/fixtures/scenes';
const index = JSON.parse(readFileSync(`${SCENES}/index.json`, 'utf8')) as {
  scenes: { file: string; objects: { label: string; concept: string; bbox: [number, number, number, number] }[] }[];
};
const OWN_NAMES: Record<string, string> = { clothing: 'apparel', shoes: 'footwear', bags: 'luggage', food: 'groceries', office: 'stationery', electronics: 'gadgets', tools: 'hardware' };

let server: JobServer;
const boards: { id: string; items: string[] }[] = [];
const scene = (i: number) => dataUri(readFileSync(`${SCENES}/${index.scenes[i]!.file}`), 'image/png');

beforeAll(async () => {
  server = await startJobServer({ LOOKBOOK_MODELS: 'models/lookbook-emoji,models/fixture', LOOKBOOK_DETECTOR: 'models/lookbook-detector/model.onnx' });
  const items = [];
  // The catalog: objects of scenes 2 to 7 (scenes 0 and 1 are the queries).
  for (const entry of index.scenes.slice(2)) {
    for (const [i, object] of entry.objects.entries()) {
      const [x1, y1, x2, y2] = object.bbox.map(Math.round) as [number, number, number, number];
      const crop = await sharp(`${SCENES}/${entry.file}`).extract({ left: x1, top: y1, width: x2 - x1, height: y2 - y1 }).png().toBuffer();
      items.push({ id: `${entry.file}-${i}`, image: dataUri(crop, 'image/png'), category: object.label, metadata: { concept: object.concept } });
    }
    boards.push({ id: entry.file, items: entry.objects.map((_, i) => `${entry.file}-${i}`) });
  }
  for (const [name, rename, model] of [['looks', (c: string) => c, undefined], ['own-names', (c: string) => OWN_NAMES[c] ?? `other ${c}`, undefined], ['fixture', (c: string) => c, 'lookbook-fixture'], ['aligned', (c: string) => c, undefined]] as const) {
    expect((await postJson(`${server.url}/v1/indexes`, { name, ...(model && { model }) })).status).toBe(201);
    const added = await postJson(`${server.url}/v1/indexes/${name}/items`, { items: items.map((item) => ({ ...item, category: rename(item.category) })) });
    expect(added.json.failed).toBe(0);
  }
}, 120_000);
afterAll(async () => {
  await server?.close();
});

describe('POST /v1/complete-the-look', () => {
  it('recommends products of the categories not in the scene, scored by the compatibility model', async () => {
    const { status, json } = await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks', image: scene(0), limit: 3 });
    expect(status).toBe(200);
    expect(json).toMatchObject({ strategy: 'compatibility', compatibility_model: { id: 'lookbook-ctl' } });
    expect(json.objects.length).toBeGreaterThan(0);
    const present = new Set(json.present_categories);
    expect(present.size).toBeGreaterThan(0);
    expect(json.categories.length).toBeGreaterThan(0);
    for (const group of json.categories) {
      expect(present.has(group.category)).toBe(false);
      expect(group.products.length).toBeGreaterThan(0);
      expect(group.products.length).toBeLessThanOrEqual(3);
      for (const product of group.products) {
        expect(product.category).toBe(group.category);
        expect(product.score).toBeCloseTo(product.global_score + product.local_score, 5);
      }
      const scores = group.products.map((product: any) => product.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    }
    // With exclude_present off, the scene's own categories come back too.
    const all = await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks', image: scene(0), exclude_present: false });
    expect(all.json.categories.map((group: any) => group.category)).toEqual(expect.arrayContaining([...present]));
  });

  it('answers a scene with no detectable objects, leaving no category out', async () => {
    const blank = await sharp({ create: { width: 200, height: 150, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const { status, json } = await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks', image: dataUri(blank, 'image/png'), limit: 2 });
    expect(status).toBe(200);
    expect(json.objects).toEqual([]);
    expect(json.present_categories).toEqual([]);
    const known = (await (await fetch(`${server.url}/v1/indexes/looks/categories`)).json()).categories.map((entry: any) => entry.category);
    expect(json.categories.map((group: any) => group.category).sort()).toEqual([...known].sort());
  });

  it('takes an item as the query: its own category and the item itself are left out', async () => {
    const { json } = await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks', item_id: 'scene-0002.png-0', limit: 5 });
    const own = (await (await fetch(`${server.url}/v1/indexes/looks/items/scene-0002.png-0`)).json()).category;
    expect(json.present_categories).toContain(own);
    expect(json.categories.every((group: any) => group.category !== own)).toBe(true);
    expect(json.categories.flatMap((group: any) => group.products.map((product: any) => product.id))).not.toContain('scene-0002.png-0');
    expect((await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks', item_id: 'ghost' })).json.error.code).toBe('item_not_found');
  });

  it('works on a catalog with its own category names', async () => {
    const { status, json } = await postJson(`${server.url}/v1/complete-the-look`, { index: 'own-names', image: scene(1), limit: 2 });
    expect(status).toBe(200);
    expect(json.present_categories.length).toBeGreaterThan(0);
    const names = new Set(Object.values(OWN_NAMES).concat(Object.keys(OWN_NAMES).map((c) => `other ${c}`)));
    for (const category of json.present_categories) expect(names.has(category) || category.startsWith('other ')).toBe(true);
    for (const group of json.categories) expect(json.present_categories).not.toContain(group.category);
  });

  it('refuses an unknown category, listing the known ones, and malformed fields with 4xx', async () => {
    const unknown = await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks', image: scene(0), categories: ['hats', 'food'] });
    expect([unknown.status, unknown.json.error.code]).toEqual([400, 'unknown_category']);
    expect(unknown.json.error.known).toEqual(expect.arrayContaining(['food', 'office']));
    expect(unknown.json.error.message).toContain('"hats"');
    const form = new FormData();
    form.append('file', new Blob([readFileSync(`${SCENES}/${index.scenes[0]!.file}`)], { type: 'image/png' }), 'scene.png');
    form.append('index', 'looks');
    form.append('categories', 'food, office');
    const notJson = await fetch(`${server.url}/v1/complete-the-look`, { method: 'POST', body: form });
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).error.code).toBe('invalid_json');
    const known = (await (await fetch(`${server.url}/v1/indexes/looks/categories`)).json()).categories.map((entry: any) => entry.category);
    const chosen = new FormData();
    chosen.append('file', new Blob([readFileSync(`${SCENES}/${index.scenes[0]!.file}`)], { type: 'image/png' }), 'scene.png');
    chosen.append('index', 'looks');
    chosen.append('categories', JSON.stringify([known[0]]));
    chosen.append('exclude_present', 'false');
    const only = await (await fetch(`${server.url}/v1/complete-the-look`, { method: 'POST', body: chosen })).json();
    expect(only.categories.map((group: any) => group.category)).toEqual([known[0]]);
    expect((await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks' })).json.error.code).toBe('missing_image');
    expect((await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks', image: scene(0), item_id: 'x' })).status).toBe(400);
    expect((await postJson(`${server.url}/v1/complete-the-look`, { index: 'nope', image: scene(0) })).status).toBe(404);
  });

  it('ranks by visual similarity an index of another model than the compatibility model’s, and needs categories', async () => {
    const { json } = await postJson(`${server.url}/v1/complete-the-look`, { index: 'fixture', image: scene(0), limit: 2 });
    expect(json).toMatchObject({ strategy: 'visual_similarity', compatibility_model: null });
    expect(json.categories.every((group: any) => group.products.every((product: any) => product.local_score === 0))).toBe(true);
    await postJson(`${server.url}/v1/indexes`, { name: 'uncategorised' });
    await postJson(`${server.url}/v1/indexes/uncategorised/items`, { items: [{ id: 'a', text: 'a hat' }] });
    const refused = await postJson(`${server.url}/v1/complete-the-look`, { index: 'uncategorised', image: scene(0) });
    expect([refused.status, refused.json.error.code]).toEqual([409, 'no_categories']);
  });

  it('works from base embeddings: an index switched to an alignment head recommends as its base version does', async () => {
    expect((await api(server.url, 'POST', '/v1/indexes/aligned/graph', { boards })).status).toBeLessThan(300);
    const aligned = await api(server.url, 'POST', '/v1/jobs', { type: 'align', index: 'aligned', steps: 30, batch: 16, rank: 8, evaluate_every: 10 });
    const job = await waitForJob(server.url, aligned.json.id, undefined, 120_000);
    expect(job.state).toBe('completed');
    const switched = await api(server.url, 'POST', '/v1/jobs', { type: 'reembed', index: 'aligned', model_version: job.result.model_version });
    expect(await waitForJob(server.url, switched.json.id)).toMatchObject({ state: 'completed', progress: { failed: 0 } });
    expect((await api(server.url, 'GET', '/v1/indexes/aligned')).json.model).toMatchObject({ version: job.result.model_version, base: job.result.base_version });
    const onHead = await postJson(`${server.url}/v1/complete-the-look`, { index: 'aligned', image: scene(0), limit: 4 });
    const onBase = await postJson(`${server.url}/v1/complete-the-look`, { index: 'looks', image: scene(0), limit: 4 });
    expect(onHead.json.strategy).toBe('compatibility');
    const ranking = (json: any) => json.categories.map((group: any) => [group.category, group.products.map((product: any) => product.id)]);
    expect(ranking(onHead.json)).toEqual(ranking(onBase.json));
    const scores = (json: any) => json.categories.flatMap((group: any) => group.products.map((product: any) => product.score));
    scores(onHead.json).forEach((score: number, i: number) => expect(score).toBeCloseTo(scores(onBase.json)[i], 4));
  }, 120_000);
});
