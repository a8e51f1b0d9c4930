import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, sha256Hex } from '../src/api/auth.js';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { postJson, startTestServer, type TestServer } from './helpers/server.js';

/**
 * The web app in a real browser: Debian's chromium driven by playwright-core against the real
 * service (fixture model, the hand-made detector) with a small catalog. `.ci/run` installs
 * chromium; without it these tests are skipped with a message.
 */
const CHROMIUM = '/usr/bin/chromium';
const DETECTOR = 'test/fixtures/models/yolo-handmade/model.onnx';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`web-app tests skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`);

const KEY = generateApiKey('web');
const CATEGORIES = ['shirt', 'shoes', 'bag', 'sneakers', 'shirt', 'bag'];
const COLORS = ['red', 'blue', 'red', 'green', 'blue', 'red'];

/** Waits for the page: the first search also warms the model up. */
const poll = <T,>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 10_000, interval: 50 });

let browser: Browser;
let server: TestServer;
let keyed: TestServer;
let products: Buffer[];
let scene: Buffer;

/** Builds dist/web when `npx vitest` runs without the set-up step that `npm test` runs first. */
function ensureWebBuild() {
  const root = join(import.meta.dirname, '..');
  const page = join(root, 'dist', 'web', 'index.html');
  if (existsSync(page)) return;
  execFileSync(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
}

async function addCatalog(target: TestServer, headers: Record<string, string> = {}) {
  expect((await postJson(`${target.url}/v1/indexes`, { name: 'catalog' }, headers)).status).toBe(201);
  const items = [
    ...products.map((png, i) => ({ id: `p${i}`, image: dataUri(png, 'image/png'), category: CATEGORIES[i], attributes: { color: COLORS[i] } })),
    // An item without a kept image: the grid shows a placeholder for it.
    { id: 'note', text: 'a plain shirt', category: 'shirt' },
  ];
  const added = await postJson(`${target.url}/v1/indexes/catalog/items`, { items }, headers);
  expect(added.json.succeeded).toBe(items.length);
}

beforeAll(async () => {
  if (!hasChromium) return;
  ensureWebBuild();
  products = await Promise.all(Array.from({ length: 6 }, async (_, i) => sharp(await gradientJpeg(48, 48, i * 5 + 2)).png().toBuffer()));
  scene = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 240, g: 240, b: 240 } } })
    .composite(products.map((input, i) => ({ input, left: 16 + 64 * (i % 3), top: 16 + 80 * Math.floor(i / 3) })))
    .png()
    .toBuffer();
  const labels = JSON.stringify({ shirt: ['shirt'], bag: ['bag'], shoe: ['shoes', 'sneakers'] });
  [browser, server, keyed] = await Promise.all([
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'] }),
    startTestServer({ LOOKBOOK_DETECTOR: DETECTOR, LOOKBOOK_LABEL_CATEGORIES: labels }),
    startTestServer({ LOOKBOOK_API_KEYS: `web:read,write:${sha256Hex(KEY)}` }),
  ]);
  await Promise.all([addCatalog(server), addCatalog(keyed, { authorization: `Bearer ${KEY}` })]);
});

afterAll(async () => {
  await Promise.all([browser?.close(), server?.close(), keyed?.close()]);
});

/** A fresh page (own storage) on a server's app, with the catalog preselected. */
async function open(target: TestServer, hash = ''): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(error.message));
  page.on('close', () => expect(failures, 'uncaught errors in the page').toEqual([]));
  await page.goto(`${target.url}/${hash}`);
  return page;
}

async function closeAll(page: Page) {
  await page.context().close();
}

describe.skipIf(!hasChromium)('the web app in chromium', () => {
  it('searches by text from the first text input with Enter: image thumbnails, scores, facets, a placeholder', async () => {
    const page = await open(server);
    try {
      await poll(() => page.locator('#search-index').inputValue()).toBe('catalog');
      const query = page.locator('input[type="text"], input:not([type])').first();
      expect(await query.getAttribute('id')).toBe('query');
      await query.fill('a shirt');
      await query.press('Enter');
      const cards = page.getByRole('list', { name: 'Results' }).getByRole('listitem');
      await poll(() => cards.count()).toBe(7);
      // Six thumbnails loaded from the kept images, one labelled placeholder (no image was kept).
      const images = page.locator('.grid img.thumb');
      await poll(() => images.count()).toBe(6);
      await poll(() => images.evaluateAll((all) => all.every((img) => (img as HTMLImageElement).naturalWidth === 48))).toBe(true);
      await poll(() => page.getByRole('img', { name: 'No image kept for note' }).count()).toBe(1);
      const scores = await page.locator('.grid .score').allTextContents();
      expect(scores.every((score) => /^-?\d\.\d{3}$/.test(score))).toBe(true);
      // Facets from GET /v1/indexes/catalog/facets filter the results.
      await page.getByRole('checkbox', { name: /^bag/ }).check();
      await poll(() => cards.count()).toBe(2);
      expect(await page.locator('.grid .tag').allTextContents()).toEqual(['bag', 'bag']);
      await page.getByRole('checkbox', { name: /^red/ }).check();
      await poll(async () => (await page.locator('.grid .card-id').allTextContents()).sort()).toEqual(['p2', 'p5']);
    } finally {
      await closeAll(page);
    }
  });

  it('searches by an uploaded image and by an item ("more like this")', async () => {
    const page = await open(server);
    try {
      await poll(() => page.locator('#search-index').inputValue()).toBe('catalog');
      await page.locator('#search-image').setInputFiles({ name: 'p3.png', mimeType: 'image/png', buffer: products[3]! });
      await poll(() => page.locator('.grid .card-id').first().textContent()).toBe('p3');
      expect(Number(await page.locator('.grid .score').first().textContent())).toBeGreaterThan(0.99);
      await page.getByRole('button', { name: 'More like p1' }).click();
      await poll(() => page.locator('.query-summary').textContent()).toContain('More like p1');
      // The item itself is left out of its own neighbours.
      await poll(() => page.locator('.grid .card-id').count()).toBe(6);
      expect(await page.locator('.grid .card-id').allTextContents()).not.toContain('p1');
    } finally {
      await closeAll(page);
    }
  });

  it('shows the error of a file that is not an image, instead of swallowing it', async () => {
    const page = await open(server);
    try {
      await poll(() => page.locator('#search-index').inputValue()).toBe('catalog');
      await page.locator('#search-image').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image at all') });
      const alert = page.getByRole('alert');
      await poll(() => alert.textContent()).toMatch(/Error 415/);
      await poll(() => page.locator('.grid').count()).toBe(0);
    } finally {
      await closeAll(page);
    }
  });

  it('shows the objects of a scene as hotspots; clicking one shows its products', async () => {
    const page = await open(server, '#/shop');
    try {
      await poll(() => page.locator('#shop-index').inputValue()).toBe('catalog');
      await page.locator('#shop-image').setInputFiles({ name: 'scene.png', mimeType: 'image/png', buffer: scene });
      const hotspots = page.locator('button.hotspot');
      await poll(() => hotspots.count()).toBeGreaterThan(0);
      const labels = await page.locator('.hotspot-label').allTextContents();
      expect(labels.some((label) => label.startsWith('bag'))).toBe(true);
      await page.getByRole('button', { name: /^bag/ }).first().click();
      const products = page.getByRole('list', { name: /Products for bag/ }).getByRole('listitem');
      await poll(() => products.count()).toBeGreaterThan(0);
      expect(await products.locator('.tag').allTextContents()).toEqual(expect.arrayContaining(['bag']));
      expect(await page.locator('.grid img.thumb').count()).toBeGreaterThan(0);
    } finally {
      await closeAll(page);
    }
  });

  it('loads without a key on a key-protected server, shows the 401 until a key is entered, then searches', async () => {
    for (const path of ['/', '/favicon.svg']) expect((await fetch(`${keyed.url}${path}`)).status, path).toBe(200);
    const page = await open(keyed);
    try {
      const alert = page.getByRole('alert');
      await poll(() => alert.textContent()).toMatch(/401 missing_api_key/);
      expect(await alert.textContent()).toContain('API key');
      // The page's scripts and styles came without a key.
      const assets = await page.evaluate(() => [...document.querySelectorAll('script[src], link[rel="stylesheet"]')].map((el) => (el as HTMLScriptElement).src || (el as HTMLLinkElement).href));
      expect(assets.length).toBeGreaterThan(0);
      for (const asset of assets) expect((await fetch(asset)).status, asset).toBe(200);
      await page.getByLabel('API key').fill(KEY);
      await page.getByRole('button', { name: 'Save key' }).click();
      await poll(() => page.locator('#search-index').inputValue()).toBe('catalog');
      await poll(() => alert.count()).toBe(0);
      await page.locator('#query').fill('a shoe');
      await page.locator('#query').press('Enter');
      // Thumbnails need the key too: they are fetched with it.
      await poll(() => page.locator('.grid img.thumb').count()).toBe(6);
      expect(await page.evaluate(() => localStorage.getItem('lookbook.apiKey'))).toBe(KEY);
    } finally {
      await closeAll(page);
    }
  });
});
