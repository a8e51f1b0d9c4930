/**
 * bench/shop-the-look — the end-to-end Shop The Look evaluation, over real HTTP:
 *   1. starts the service (embedded defaults unless overridden) with a detector;
 *   2. indexes the catalog: every product image of the training styles, category = class;
 *   3. sends each held-out-style scene to POST /v1/shop-the-look, with and without the category
 *      filter, and each ground-truth box as a caller crop (detection taken out of the loop);
 *   4. reports the share of ground-truth objects that are detected (IoU ≥ 0.5, any label) and
 *      whose exact concept is among the top `limit` products, per class and in all, and the
 *      latency per scene against POST /v1/detect on the same scenes (the baseline);
 *   4. POST /v1/complete-the-look on each scene (the catalog's other categories, 5 products each):
 *      latency per scene against the same baseline.
 *
 * Data: `cd training && python3 -m lookbook_training.detector.shop_eval` (see training/README.md).
 *
 *   npm run bench:shop-the-look -- [--data training/data/shop-eval] [--detector models/lookbook-detector/model.onnx]
 *                                  [--models models/lookbook-emoji] [--scenes 300] [--limit 5]
 *                                  [--threads 2] [--providers cpu]   (e.g. webgpu,cpu on a GPU host)
 *                                  [--categories class|subgroup]     (subgroup: the catalog's own names, CLDR subgroups)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { cornersIou } from '../src/detection/yolo-decoder.js';
import { startServer } from '../src/server.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'training/data/shop-eval' },
    detector: { type: 'string', default: 'models/lookbook-detector/model.onnx' },
    models: { type: 'string' },
    scenes: { type: 'string' },
    limit: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    providers: { type: 'string', default: 'cpu' },
    json: { type: 'string' },
    // class: category = the detector class (the identity map); subgroup: the concept's CLDR
    // subgroup, names the detector has never heard of (the mapping is derived from the catalog).
    categories: { type: 'string', default: 'class' },
    concepts: { type: 'string', default: 'training/data/emoji-v1/concepts.json' },
  },
});

type Box = [number, number, number, number];
interface CatalogItem {
  id: string;
  file: string;
  category: string;
  concept: string;
  style: string;
}
interface SceneObject {
  label: string;
  concept: string;
  bbox: Box;
}
interface SceneEntry {
  file: string;
  width: number;
  height: number;
  objects: SceneObject[];
}
interface Product {
  id: string;
  metadata: { concept?: string } | null;
}
interface FoundObject {
  bbox: Box;
  label: string | null;
  score: number | null;
  products: Product[];
}

const limit = Number(values.limit);
if (!['class', 'subgroup'].includes(values.categories)) throw new Error('--categories is class or subgroup');
const subgroupOf =
  values.categories === 'subgroup' ? new Map((JSON.parse(readFileSync(values.concepts, 'utf8')) as { key: string; subgroup: string }[]).map((c) => [c.key, c.subgroup])) : undefined;
const catalog = JSON.parse(readFileSync(join(values.data, 'catalog.json'), 'utf8')) as { styles: string[]; items: CatalogItem[] };
const sceneIndex = JSON.parse(readFileSync(join(values.data, 'scenes', 'index.json'), 'utf8')) as { style: string[]; scenes: SceneEntry[] };
const scenes = sceneIndex.scenes.slice(0, values.scenes ? Number(values.scenes) : undefined);

const iou = (a: Box, b: Box) => cornersIou(...a, ...b);

/** Greedy matching, highest-scoring detection first, each to its best unmatched ground truth. */
function match(truth: SceneObject[], found: FoundObject[]): (FoundObject | undefined)[] {
  const assigned: (FoundObject | undefined)[] = truth.map(() => undefined);
  for (const det of [...found].sort((a, b) => (b.score ?? 0) - (a.score ?? 0))) {
    let best = -1;
    let bestIou = 0.5;
    truth.forEach((gt, i) => {
      const overlap = iou(gt.bbox, det.bbox);
      if (!assigned[i] && overlap >= bestIou) {
        best = i;
        bestIou = overlap;
      }
    });
    if (best >= 0) assigned[best] = det;
  }
  return assigned;
}

const hasConcept = (found: FoundObject | undefined, concept: string) => !!found && found.products.some((p) => p.metadata?.concept === concept);

async function post(url: string, body: unknown): Promise<{ json: any; ms: number }> {
  const start = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await response.json();
  const ms = performance.now() - start;
  if (!response.ok) throw new Error(`${url}: ${response.status} ${JSON.stringify(json)}`);
  return { json, ms };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (n: number, d: number) => (d ? ((100 * n) / d).toFixed(1) : '–');

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'lookbook-bench-stl-'));
  const env: Record<string, string> = {
    LOOKBOOK_DATA_DIR: dataDir,
    LOOKBOOK_PORT: '0',
    LOOKBOOK_HOST: '127.0.0.1',
    LOOKBOOK_PROVIDERS: values.providers,
    LOOKBOOK_INTRA_OP_THREADS: values.threads,
    LOOKBOOK_DETECTOR: values.detector,
    LOOKBOOK_LOG_LEVEL: 'warn',
  };
  if (values.models) env.LOOKBOOK_MODELS = values.models;
  const config = loadConfig({ ...process.env, ...env });
  const server = await startServer(config, pino({ level: 'warn' }));
  const base = server.url;
  try {
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: { id: string; version: string; providers?: unknown }[] };
    const provider = server.services.detector?.info.provider;
    console.log(`model ${models.data[0]!.id} ${models.data[0]!.version} on ${JSON.stringify(models.data[0]!.providers)}; detector ${values.detector} on ${provider}`);

    // 1. the catalog
    await post(`${base}/v1/indexes`, { name: 'products' });
    const t0 = performance.now();
    for (let i = 0; i < catalog.items.length; i += 64) {
      const items = catalog.items.slice(i, i + 64).map((item) => ({
        id: item.id,
        image: `data:image/png;base64,${readFileSync(join(values.data, 'catalog', item.file)).toString('base64')}`,
        category: subgroupOf ? (subgroupOf.get(item.concept) ?? item.category) : item.category,
        metadata: { concept: item.concept, style: item.style },
      }));
      const { json } = await post(`${base}/v1/indexes/products/items`, { items });
      if (json.failed) throw new Error(`catalog upsert: ${JSON.stringify(json.results.filter((r: any) => r.status !== 'ok').slice(0, 3))}`);
    }
    const indexSeconds = (performance.now() - t0) / 1000;
    console.log(`indexed ${catalog.items.length} products (${catalog.styles.join(', ')}) in ${indexSeconds.toFixed(1)} s`);

    // 2. the scenes
    const rows = new Map<string, { n: number; detected: number; hit: number; hitNoFilter: number; hitCrop: number }>();
    const row = (label: string) => rows.get(label) ?? rows.set(label, { n: 0, detected: 0, hit: 0, hitNoFilter: 0, hitCrop: 0 }).get(label)!;
    const latency = { shop: [] as number[], shopNoFilter: [] as number[], detect: [] as number[], complete: [] as number[] };
    let detections = 0;
    const sources = new Map<string, number>();
    for (const scene of scenes) {
      const image = `data:image/png;base64,${readFileSync(join(values.data, 'scenes', scene.file)).toString('base64')}`;
      const detect = await post(`${base}/v1/detect`, { image });
      const shop = await post(`${base}/v1/shop-the-look`, { image, index: 'products', limit });
      const open = await post(`${base}/v1/shop-the-look`, { image, index: 'products', limit, category_filter: false });
      latency.detect.push(detect.ms);
      latency.shop.push(shop.ms);
      latency.shopNoFilter.push(open.ms);
      const complete = await post(`${base}/v1/complete-the-look`, { image, index: 'products', limit });
      latency.complete.push(complete.ms);
      detections += shop.json.objects.length;
      for (const object of shop.json.objects) sources.set(object.category_source ?? 'null', (sources.get(object.category_source ?? 'null') ?? 0) + 1);
      const matched = match(scene.objects, shop.json.objects);
      const matchedOpen = match(scene.objects, open.json.objects);
      for (const [i, gt] of scene.objects.entries()) {
        const crop = await post(`${base}/v1/shop-the-look`, { image, index: 'products', limit, crop: gt.bbox });
        for (const r of [row(gt.label), row('all')]) {
          r.n++;
          if (matched[i]) r.detected++;
          if (hasConcept(matched[i], gt.concept)) r.hit++;
          if (hasConcept(matchedOpen[i], gt.concept)) r.hitNoFilter++;
          if (hasConcept(crop.json.objects[0], gt.concept)) r.hitCrop++;
        }
      }
    }

    // 3. the report
    const all = rows.get('all')!;
    console.log(`\n${scenes.length} ${sceneIndex.style.join('/')} scenes, ${all.n} ground-truth objects, ${detections} detections; catalog categories: ${values.categories}; where each detection's categories came from: ${JSON.stringify(Object.fromEntries(sources))}; top-${limit} exact-concept hit rate:`);
    console.log('class                 objects  detected  hit (category filter)  hit (no filter)  hit (ground-truth crop)');
    const labels = [...rows.keys()].filter((l) => l !== 'all').sort();
    for (const label of [...labels, 'all']) {
      const r = rows.get(label)!;
      console.log(
        `${label.padEnd(22)}${String(r.n).padStart(7)}  ${pct(r.detected, r.n).padStart(7)}%  ${pct(r.hit, r.n).padStart(20)}%  ${pct(r.hitNoFilter, r.n).padStart(14)}%  ${pct(r.hitCrop, r.n).padStart(22)}%`,
      );
    }
    const fmt = (xs: number[]) => `mean ${mean(xs).toFixed(1)} ms, p50 ${quantile(xs, 0.5).toFixed(1)}, p95 ${quantile(xs, 0.95).toFixed(1)}`;
    console.log(`\nlatency per scene, one request at a time (${values.threads} ONNX threads):`);
    console.log(`  /v1/detect (baseline)              ${fmt(latency.detect)}`);
    console.log(`  /v1/shop-the-look                  ${fmt(latency.shop)}  (${(mean(latency.shop) / mean(latency.detect)).toFixed(2)}× detect)`);
    console.log(`  /v1/shop-the-look, no filter       ${fmt(latency.shopNoFilter)}  (${(mean(latency.shopNoFilter) / mean(latency.detect)).toFixed(2)}× detect)`);
    console.log(`  /v1/complete-the-look              ${fmt(latency.complete)}  (${(mean(latency.complete) / mean(latency.detect)).toFixed(2)}× detect)`);
    if (values.json) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(values.json, JSON.stringify({ scenes: scenes.length, limit, rows: Object.fromEntries(rows), latency_ms: { detect: mean(latency.detect), shop: mean(latency.shop), shop_no_filter: mean(latency.shopNoFilter), complete_the_look: mean(latency.complete) } }, null, 1));
    }
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
