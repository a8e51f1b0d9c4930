import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, sha256Hex } from '../src/api/auth.js';
import { dataUri, gradientJpeg } from './helpers/images.js';
import { startJobServer, type JobServer } from './helpers/jobs.js';
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
let queued: JobServer;
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
  [browser, server, keyed, queued] = await Promise.all([
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'] }),
    startTestServer({ LOOKBOOK_DETECTOR: DETECTOR, LOOKBOOK_LABEL_CATEGORIES: labels }),
    startTestServer({ LOOKBOOK_API_KEYS: `web:read,write:${sha256Hex(KEY)}` }),
    startJobServer(),
  ]);
  await Promise.all([addCatalog(server), addCatalog(keyed, { authorization: `Bearer ${KEY}` })]);
});

afterAll(async () => {
  await Promise.all([browser?.close(), server?.close(), keyed?.close(), queued?.close()]);
});

/** A folder on disk, as a user would choose it: `{relative path: bytes}`. */
function folder(files: Record<string, Buffer>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'lookbook-web-')), 'photos');
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
  return dir;
}

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
      // A dropped image searches too.
      await page.evaluate(async (bytes) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], 'p4.png', { type: 'image/png' }));
        document.querySelector('.drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      }, [...products[4]!]);
      await poll(() => page.locator('.grid .card-id').first().textContent()).toBe('p4');
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
      // A box of one's own, drawn with the mouse over product 4 (at 80..128, 96..144 of 256 px).
      await page.getByRole('button', { name: 'Draw your own box' }).click();
      const frame = (await page.locator('.scene').boundingBox())!;
      const at = (x: number, y: number) => [frame.x + (x / 256) * frame.width, frame.y + (y / 256) * frame.height] as const;
      await page.mouse.move(...at(80, 96));
      await page.mouse.down();
      await page.mouse.move(...at(104, 120));
      await page.mouse.move(...at(128, 144));
      await page.mouse.up();
      await poll(() => page.getByRole('button', { name: 'your box' }).getAttribute('aria-pressed')).toBe('true');
      await poll(() => page.getByRole('list', { name: 'Products for your box' }).locator('.card-id').first().textContent()).toBe('p4');
      // And one from the keyboard, over product 5 (144..192, 96..144): the box starts as the middle half and moves 8 px a step.
      await page.getByRole('button', { name: 'Draw your own box' }).click();
      await poll(() => page.evaluate(() => document.activeElement?.classList.contains('scene'))).toBe(true);
      for (const key of [...Array(10).fill('Shift+ArrowLeft'), ...Array(10).fill('Shift+ArrowUp'), ...Array(10).fill('ArrowRight'), ...Array(4).fill('ArrowDown')]) await page.keyboard.press(key);
      expect(await page.locator('.scene [aria-live]').textContent()).toBe('Box 56% to 75% across, 38% to 56% down');
      await page.keyboard.press('Enter');
      await poll(() => page.getByRole('list', { name: 'Products for your box' }).locator('.card-id').first().textContent()).toBe('p5');
      // Escape leaves drawing without a search.
      await page.getByRole('button', { name: 'Draw your own box' }).click();
      await poll(() => page.evaluate(() => document.activeElement?.classList.contains('scene'))).toBe(true);
      await page.keyboard.press('Escape');
      await poll(() => page.getByRole('button', { name: 'Draw your own box' }).getAttribute('aria-pressed')).toBe('false');
    } finally {
      await closeAll(page);
    }
  });

  it('creates an index and uploads a folder as a bulk job, with live progress opened only then', async () => {
    const page = await open(queued, '#/catalog');
    const streams: string[] = [];
    page.on('request', (request) => request.url().includes('/events') && streams.push(request.url()));
    try {
      await page.getByLabel('Name').fill('photos');
      await page.getByRole('button', { name: 'Create' }).click();
      await poll(() => page.getByRole('cell', { name: 'photos', exact: true }).count()).toBe(1);
      await poll(() => page.getByRole('heading', { name: 'Add images to photos' }).count()).toBe(1);
      expect(streams).toEqual([]);
      await page.locator('#folder-input').setInputFiles(folder({ 'shirts/p0.png': products[0]!, 'shirts/p1.png': products[1]!, 'bags/p2.png': products[2]!, 'notes.txt': Buffer.from('left out') }));
      await poll(() => page.locator('.panel').filter({ hasText: '3 images' }).count()).toBe(1);
      await page.getByRole('button', { name: 'Upload as a bulk job' }).click();
      await poll(() => page.locator('.job').textContent()).toMatch(/completed · 3 of 3 items/);
      expect(streams.length).toBeGreaterThan(0);
      // Ids are the paths under the folder; categories its folders' names.
      const added = await (await fetch(`${queued.url}/v1/indexes/photos/items`)).json();
      expect(added.data.map((item: { id: string; category: string }) => `${item.id}:${item.category}`).sort()).toEqual(['bags/p2.png:bags', 'shirts/p0.png:shirts', 'shirts/p1.png:shirts']);
      // The browser shows the items the job added; one can be deleted.
      const items = page.getByRole('list', { name: 'Items of photos' }).getByRole('listitem');
      await poll(() => items.count()).toBe(3);
      page.once('dialog', (dialog) => dialog.accept());
      await page.getByRole('button', { name: 'Delete shirts/p1.png' }).click();
      await poll(() => items.count()).toBe(2);
      // The index's recent jobs: this one, and one started elsewhere (through the API), listed within the idle refresh (10 s).
      const recent = page.getByRole('table', { name: 'Recent jobs on photos' }).getByRole('row');
      await poll(() => recent.filter({ hasText: 'completed' }).filter({ hasText: '3 of 3' }).count()).toBe(1);
      const elsewhere = await (
        await fetch(`${queued.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'ingest', index: 'photos', items: [{ id: 'api/p3.png', image: dataUri(products[3]!, 'image/png') }] }) })
      ).json();
      await expect.poll(() => recent.filter({ hasText: elsewhere.id }).filter({ hasText: '1 of 1' }).count(), { timeout: 20_000, interval: 100 }).toBe(1);
    } finally {
      await closeAll(page);
    }
  });

  it('says when jobs need Redis, and adds a folder directly instead', async () => {
    const page = await open(server, '#/catalog');
    try {
      await page.getByRole('button', { name: 'Open catalog' }).or(page.getByRole('heading', { name: 'Add images to catalog' })).first().waitFor();
      await page.locator('#folder-input').setInputFiles(folder({ 'extra.png': products[4]! }));
      await page.getByRole('button', { name: 'Upload as a bulk job' }).click();
      await poll(() => page.getByRole('alert').textContent()).toMatch(/503 queue_unavailable.*Redis/);
      await page.getByRole('button', { name: 'Add them directly instead' }).click();
      await poll(() => page.locator('.job').textContent()).toContain('Added 1 of 1');
    } finally {
      await closeAll(page);
    }
  });

  it('completes the look of a result, and lists models with their execution providers', async () => {
    const page = await open(server);
    try {
      await poll(() => page.locator('#search-index').inputValue()).toBe('catalog');
      await page.locator('#query').fill('a bag');
      await page.locator('#query').press('Enter');
      await page.getByRole('button', { name: 'Complete the look of p0' }).click();
      await poll(() => page.getByRole('heading', { name: 'Item p0' }).count()).toBe(1);
      // The hand-made detector sees a shirt, a shoe and a bag in every image: every category of
      // this catalog is in the scene, so none is left to recommend.
      await poll(() => page.locator('.view').textContent()).toContain('In the scene: ');
      expect(await page.locator('.view').textContent()).toContain('No other category to recommend from.');
      await page.getByRole('link', { name: 'Models' }).click();
      const row = page.getByRole('row').filter({ hasText: 'lookbook-fixture' });
      await poll(() => row.textContent()).toMatch(/image: cpu/);
      await poll(() => page.getByRole('heading', { name: 'Detector' }).count()).toBe(1);
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
