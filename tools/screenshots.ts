/**
 * tools/screenshots — the README's pictures of the web app, taken in Debian's chromium with
 * playwright-core against the real service (the project's emoji model, detector and Complete the
 * Look model) and a catalog of the objects of the fixture scenes (test/fixtures/scenes 2 to 7;
 * scenes 0 and 1 are the queries). Saved as WebP under docs/screens/, each under 80 KB: the tree
 * travels to GPU machines.
 *
 *   node scripts/ensure-setup.mjs && node dist/tools/screenshots.js [--out docs/screens] [--chromium /usr/bin/chromium]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { pino } from 'pino';
import sharp from 'sharp';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/screens' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    scenes: { type: 'string', default: 'test/fixtures/scenes' },
  },
});

/** The README's size budget per picture. */
const MAX_BYTES = 80 * 1024;
const VIEWPORT = { width: 900, height: 620 };

interface Scene {
  file: string;
  objects: { label: string; concept: string; bbox: [number, number, number, number] }[];
}

async function catalogItems(dir: string, scenes: Scene[]) {
  const items = [];
  for (const scene of scenes) {
    for (const [i, object] of scene.objects.entries()) {
      const [x1, y1, x2, y2] = object.bbox.map(Math.round) as [number, number, number, number];
      const crop = await sharp(join(dir, scene.file)).extract({ left: x1, top: y1, width: x2 - x1, height: y2 - y1 }).png().toBuffer();
      items.push({
        id: `${object.label}-${object.concept}-${scene.file.replace(/\D/g, '').slice(-2)}${i}`,
        image: `data:image/png;base64,${crop.toString('base64')}`,
        category: object.label,
        attributes: { style: 'twitter', scene: scene.file },
      });
    }
  }
  return items;
}

async function post(url: string, body: unknown): Promise<any> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function save(page: Page, name: string) {
  // Let thumbnails finish loading before the picture.
  await page.waitForLoadState('networkidle', { timeout: 10_000 });
  // A string, so the browser's `document` needs no DOM types in this Node project.
  // Lazy images below the fold never load: wait at most two seconds for the rest.
  await page.evaluate(`Promise.race([
    Promise.all([...document.images].map((img) => img.complete ? undefined : new Promise((resolve) => { img.addEventListener('load', resolve, { once: true }); img.addEventListener('error', resolve, { once: true }); }))),
    new Promise((resolve) => setTimeout(resolve, 2000)),
  ])`);
  const png = await page.screenshot();
  let quality = 80;
  let webp = await sharp(png).webp({ quality, effort: 6 }).toBuffer();
  while (webp.length > MAX_BYTES && quality > 30) {
    quality -= 10;
    webp = await sharp(png).webp({ quality, effort: 6 }).toBuffer();
  }
  if (webp.length > MAX_BYTES) throw new Error(`${name}: ${webp.length} bytes even at quality ${quality}`);
  writeFileSync(join(values.out, `${name}.webp`), webp);
  console.log(`${name}.webp: ${(webp.length / 1024).toFixed(1)} KB (quality ${quality})`);
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'lookbook-screens-'));
  const config = loadConfig({
    LOOKBOOK_DATA_DIR: dataDir,
    LOOKBOOK_PORT: '0',
    LOOKBOOK_HOST: '127.0.0.1',
    LOOKBOOK_PROVIDERS: 'cpu',
    LOOKBOOK_MODELS: 'models/lookbook-emoji',
    LOOKBOOK_DETECTOR: 'models/lookbook-detector/model.onnx',
    LOOKBOOK_REDIS_URL: 'none',
    LOOKBOOK_LOG_LEVEL: 'warn',
  });
  const server = await startServer(config, pino({ level: 'warn' }));
  const browser = await chromium.launch({ executablePath: values.chromium, args: ['--no-sandbox', '--disable-background-networking'] });
  try {
    const index = JSON.parse(readFileSync(join(values.scenes, 'index.json'), 'utf8')) as { scenes: Scene[] };
    await post(`${server.url}/v1/indexes`, { name: 'looks' });
    const added = await post(`${server.url}/v1/indexes/looks/items`, { items: await catalogItems(values.scenes, index.scenes.slice(2)) });
    console.log(`catalog: ${added.succeeded} items`);
    mkdirSync(values.out, { recursive: true });

    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.locator('#search-index').selectOption('looks');

    // Search: a kept image of the catalog as the query, with the category facet open.
    await page.locator('#search-image').setInputFiles(join(values.scenes, index.scenes[1]!.file));
    await page.locator('.grid .card').first().waitFor();
    await page.locator('#query').fill('guitar');
    await page.locator('#query').press('Enter');
    await page.getByText('Results for “guitar”').waitFor();
    await page.locator('.grid .card').first().waitFor();
    await save(page, 'search');

    // Shop The Look: a scene, its hotspots, the products of one.
    await page.goto(`${server.url}/#/shop`);
    await page.locator('#shop-image').setInputFiles(join(values.scenes, index.scenes[0]!.file));
    await page.locator('button.hotspot').first().waitFor();
    await page.locator('button.hotspot').nth(1).click();
    await page.locator('.panel .grid .card').first().waitFor();
    await save(page, 'shop-the-look');

    // Complete the Look: the other categories for a scene.
    await page.goto(`${server.url}/#/complete`);
    await page.locator('#complete-image').setInputFiles(join(values.scenes, index.scenes[0]!.file));
    await page.locator('.category-group .panel').first().waitFor();
    await save(page, 'complete-the-look');

    // Catalog: indexes with their model and version, the folder upload, the items.
    await page.goto(`${server.url}/#/catalog`);
    await page.getByRole('list', { name: 'Items of looks' }).waitFor();
    await page.setViewportSize({ width: VIEWPORT.width, height: 860 });
    await save(page, 'catalog');

    // A phone-sized screen.
    const phone = await browser.newContext({ viewport: { width: 390, height: 720 }, deviceScaleFactor: 1 });
    const small = await phone.newPage();
    await small.goto(`${server.url}/`);
    await small.locator('#query').fill('shoes');
    await small.locator('#query').press('Enter');
    await small.locator('.grid .card').first().waitFor();
    await save(small, 'search-phone');
  } finally {
    await browser.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
