import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relabelDetector } from './helpers/detector-model.js';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { api } from './helpers/jobs.js';
import { postJson, readResponse, startTestServer, type TestServer } from './helpers/server.js';

const DETECTOR = 'test/fixtures/models/yolo-handmade/model.onnx';
let server: TestServer;
let products: Buffer[];
let scene: Buffer;

/** 48×48 PNG "products" and a 256×256 PNG scene with product i pasted at (16 + 64·(i mod 3), 16 + 80·⌊i/3⌋). */
async function makeScene() {
  products = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => sharp(await gradientJpeg(48, 48, i * 5 + 2)).png().toBuffer()),
  );
  scene = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 240, g: 240, b: 240 } } })
    .composite(products.map((input, i) => ({ input, left: 16 + 64 * (i % 3), top: 16 + 80 * Math.floor(i / 3) })))
    .png()
    .toBuffer();
}

beforeAll(async () => {
  await makeScene();
  // The hand-made detector answers every image alike, so it cannot derive a mapping: it is configured.
  server = await startTestServer({ LOOKBOOK_DETECTOR: DETECTOR, LOOKBOOK_LABEL_CATEGORIES: JSON.stringify({ shirt: ['shirt'], bag: ['bag'], shoe: ['shoes', 'sneakers'] }) });
  await postJson(`${server.url}/v1/indexes`, { name: 'catalog' });
  const categories = ['shirt', 'shoes', 'bag', 'sneakers', 'shirt', 'bag'];
  const items = products.map((png, i) => ({ id: `p${i}`, image: dataUri(png, 'image/png'), category: categories[i] }));
  const added = await postJson(`${server.url}/v1/indexes/catalog/items`, { items });
  expect(added.json.succeeded).toBe(6);
});
afterAll(async () => {
  await server?.close();
});

describe('POST /v1/detect', () => {
  it("returns the hand-made detector's boxes in original pixels, after thresholding and class-aware NMS", async () => {
    const image = await sharp({ create: { width: 128, height: 128, channels: 3, background: '#808080' } }).png().toBuffer();
    const { status, json } = await postJson(`${server.url}/v1/detect`, { image: dataUri(image, 'image/png') });
    expect(status).toBe(200);
    expect(json.image).toEqual({ width: 128, height: 128 });
    // The model's 64-px input is the image at half scale: boxes double.
    expect(json.objects).toEqual([
      { bbox: [44, 24, 84, 56], label: 'shirt', score: 0.9 },
      { bbox: [46, 26, 86, 58], label: 'shoe', score: 0.85 },
      { bbox: [8, 88, 32, 112], label: 'bag', score: 0.7 },
      { bbox: [110, 110, 128, 128], label: 'shoe', score: 0.6 },
    ]);
  });

  it('maps boxes through the letterbox of a wide image and takes uploads', async () => {
    const image = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#404040' } }).jpeg().toBuffer();
    const form = new FormData();
    form.append('file', new Blob([image], { type: 'image/jpeg' }), 'wide.jpg');
    form.append('confidence', '0.8');
    const response = await fetch(`${server.url}/v1/detect`, { method: 'POST', body: form });
    const json = await response.json();
    // shirt box (22,12)-(42,28) in the input; scale 0.32, 16 px of padding on top.
    expect(json.objects).toEqual([
      { bbox: [68.8, 0, 131.3, 37.5], label: 'shirt', score: 0.9 },
      { bbox: [71.9, 0, 134.4, 40.6], label: 'shoe', score: 0.85 },
    ]);
  });

  it('answers a scene with no objects above the threshold with an empty list', async () => {
    const { status, json } = await postJson(`${server.url}/v1/detect`, { image: dataUri(scene, 'image/png'), confidence: 0.95 });
    expect(status).toBe(200);
    expect(json.objects).toEqual([]);
  });

  it('answers bad images and missing images with 4xx', async () => {
    const text = await postJson(`${server.url}/v1/detect`, { image: Buffer.from('not an image at all').toString('base64') });
    expect(text.status).toBe(415);
    expect(text.json.error.param).toBe('image');
    const missing = await postJson(`${server.url}/v1/detect`, {});
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe('missing_image');
  });

  it('refuses to start on a detector file that is not there, saying how to run without one', async () => {
    await expect(startTestServer({ LOOKBOOK_DETECTOR: 'models/no-such-detector.onnx' })).rejects.toThrow(
      /models\/no-such-detector\.onnx not found .*"none" runs without a detector/,
    );
  });

  it('answers 503 when no detector is configured', async () => {
    const plain = await startTestServer();
    try {
      const { status, json } = await postJson(`${plain.url}/v1/detect`, { image: dataUri(scene, 'image/png') });
      expect(status).toBe(503);
      expect(json.error.code).toBe('detector_unavailable');
    } finally {
      await plain.close();
    }
  });
});

describe('POST /v1/shop-the-look', () => {
  it('retrieves products per detected object, restricted to the categories of its label', async () => {
    const { status, json } = await postJson(`${server.url}/v1/shop-the-look`, { image: dataUri(scene, 'image/png'), index: 'catalog', limit: 3 });
    expect(status).toBe(200);
    expect(json.objects.map((o: any) => o.label)).toEqual(['shirt', 'shoe', 'bag', 'shoe']);
    for (const object of json.objects) {
      const allowed = object.label === 'shoe' ? ['shoes', 'sneakers'] : [object.label];
      expect(object.categories).toEqual(allowed);
      expect(object.products.length).toBeGreaterThan(0);
      expect(object.products.every((p: any) => allowed.includes(p.category))).toBe(true);
    }
    // shirt: p0 and p4 are the only shirts.
    expect(json.objects[0].products.map((p: any) => p.id).sort()).toEqual(['p0', 'p4']);
  });

  it('searches a crop box the caller sends, finding the product pasted there', async () => {
    for (const i of [1, 5]) {
      const left = 16 + 64 * (i % 3);
      const top = 16 + 80 * Math.floor(i / 3);
      const form = new FormData();
      form.append('file', new Blob([scene], { type: 'image/png' }), 'scene.png');
      form.append('index', 'catalog');
      form.append('crop', JSON.stringify([left, top, left + 48, top + 48]));
      const response = await fetch(`${server.url}/v1/shop-the-look`, { method: 'POST', body: form });
      const json = await response.json();
      expect(json.objects).toHaveLength(1);
      expect(json.objects[0]).toMatchObject({ bbox: [left, top, left + 48, top + 48], label: null, score: null, categories: null });
      expect(json.objects[0].products[0].id).toBe(`p${i}`);
      expect(json.objects[0].products[0].score).toBeGreaterThan(0.999);
    }
  });

  it('does not filter by category when the catalog has none, and validates its input', async () => {
    await postJson(`${server.url}/v1/indexes`, { name: 'plain' });
    await postJson(`${server.url}/v1/indexes/plain/items`, { items: products.map((png, i) => ({ id: `q${i}`, image: dataUri(png, 'image/png') })) });
    const { json } = await postJson(`${server.url}/v1/shop-the-look`, { image: dataUri(scene, 'image/png'), index: 'plain', limit: 2 });
    expect(json.objects.every((o: any) => o.categories === null && o.products.length === 2)).toBe(true);
    const badCrop = await postJson(`${server.url}/v1/shop-the-look`, { image: dataUri(scene, 'image/png'), index: 'plain', crop: [10, 10, 5, 5] });
    expect(badCrop.status).toBe(400);
    expect(badCrop.json.error.code).toBe('invalid_crop');
    const noIndex = await postJson(`${server.url}/v1/shop-the-look`, { image: dataUri(scene, 'image/png'), index: 'missing' });
    expect(noIndex.status).toBe(404);
  });
});

describe('labels and categories named as Object.prototype properties', () => {
  it('map "constructor", "__proto__" and "toString" like any other names, in Shop The Look, Complete the Look and the mapping', async () => {
    // The hand-made detector with shirt, shoe and bag renamed.
    const detector = join(mkdtempSync(join(tmpdir(), 'lookbook-detector-')), 'model.onnx');
    relabelDetector(DETECTOR, detector, ['constructor', '__proto__', 'toString']);
    const odd = await startTestServer({ LOOKBOOK_DETECTOR: detector, LOOKBOOK_LABEL_CATEGORIES: JSON.stringify({ constructor: ['constructor'] }) });
    try {
      await postJson(`${odd.url}/v1/indexes`, { name: 'odd' });
      const categories = ['constructor', 'hasOwnProperty', 'bag', 'constructor', 'hasOwnProperty', 'bag'];
      const added = await postJson(`${odd.url}/v1/indexes/odd/items`, { items: products.map((png, i) => ({ id: `p${i}`, image: dataUri(png, 'image/png'), category: categories[i] })) });
      expect(added.json.succeeded).toBe(6);

      const mapping = await readResponse(await fetch(`${odd.url}/v1/indexes/odd/categories`));
      expect(mapping.status).toBe(200);
      expect(mapping.json.labels).toEqual([
        { label: 'constructor', categories: ['constructor'], source: 'configured', searched: 'filtered' },
        { label: '__proto__', categories: [], source: 'none', searched: 'unfiltered' },
        { label: 'toString', categories: [], source: 'none', searched: 'unfiltered' },
      ]);
      const put = await api(odd.url, 'PUT', '/v1/indexes/odd/categories', { labels: { toString: ['bag', 'hasOwnProperty'] } });
      expect(put.status).toBe(200);
      expect(put.json.labels[2]).toEqual({ label: 'toString', categories: ['bag', 'hasOwnProperty'], source: 'index', searched: 'filtered' });

      const shop = await postJson(`${odd.url}/v1/shop-the-look`, { image: dataUri(scene, 'image/png'), index: 'odd', limit: 6 });
      expect(shop.status).toBe(200);
      expect(shop.json.objects.map((o: any) => [o.label, o.categories, o.category_source])).toEqual([
        ['constructor', ['constructor'], 'configured'],
        ['__proto__', null, 'none'],
        ['toString', ['bag', 'hasOwnProperty'], 'index'],
        ['__proto__', null, 'none'],
      ]);
      expect(shop.json.objects[0].products.map((p: any) => p.id).sort()).toEqual(['p0', 'p3']);
      expect(shop.json.objects[1].products).toHaveLength(6);

      const look = await postJson(`${odd.url}/v1/complete-the-look`, { image: dataUri(scene, 'image/png'), index: 'odd', exclude_present: false });
      expect(look.status).toBe(200);
      expect(look.json.present_categories.sort()).toEqual(['bag', 'constructor', 'hasOwnProperty']);
    } finally {
      await odd.close();
    }
  });
});
