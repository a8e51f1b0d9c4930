/**
 * bench/align — neighbor alignment end to end, through the service's own job and search API.
 *
 * Emoji mode (default): every image of a style the default model never trained on (Twitter's),
 * each an item with its CLDR name as its text, boards = CLDR subgroups ("food-fruit",
 * "animal-mammal"…). It ingests them, uploads the graph, runs an `align` job (its held-out
 * figures: neighbor R@10 and text→image R@5 before and after), switches the index to the new
 * version with a `reembed` and measures text→image R@5 and subgroup-mate precision@10 over the
 * whole catalog through POST …/search, on the base and the aligned version.
 *
 *   node dist/bench/align.js [--data training/data/emoji-v1] [--style twitter] [--steps 400] …
 *
 * Scale mode: `--synthetic 100000` indexes that many raw 512-d vectors with a planted board
 * structure (boards of 10) and times the align job and the re-projecting switch.
 *
 * Build the data first: cd training/dataset && npm install && node build.mjs --out ../data/emoji-v1 --styles twitter
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { ApiClient, type JobView } from '../src/cli/api-client.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/server.js';
import { readNpy } from '../src/util/npy.js';
import { rng } from '../src/util/random.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'training/data/emoji-v1' },
    style: { type: 'string', default: 'twitter' },
    model: { type: 'string', default: 'models/lookbook-emoji' },
    synthetic: { type: 'string' },
    steps: { type: 'string' },
    rank: { type: 'string' },
    temperature: { type: 'string' },
    'learning-rate': { type: 'string' },
    'text-weight': { type: 'string' },
    'anchor-weight': { type: 'string' },
    seed: { type: 'string' },
  },
});

async function until(api: ApiClient, id: string): Promise<JobView> {
  for (;;) {
    const job = await api.job(id);
    if (['completed', 'failed', 'cancelled'].includes(job.state)) {
      if (job.state !== 'completed') throw new Error(`job ${id} ended ${job.state}: ${JSON.stringify(job.error)}`);
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const alignOptions = () => ({
  ...(values.steps && { steps: Number(values.steps) }),
  ...(values.rank && { rank: Number(values.rank) }),
  ...(values.temperature && { temperature: Number(values.temperature) }),
  ...(values['learning-rate'] && { learning_rate: Number(values['learning-rate']) }),
  ...(values['text-weight'] && { text_weight: Number(values['text-weight']) }),
  ...(values['anchor-weight'] && { anchor_weight: Number(values['anchor-weight']) }),
  ...(values.seed && { seed: Number(values.seed) }),
});

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - started) / 1000 };
}

/** Text→image R@5 and subgroup precision@10 over the whole catalog, through the search API. */
async function catalogFigures(api: ApiClient, items: { id: string; text: string; board: string }[], boardOf: Map<string, string>) {
  let textHits = 0;
  let precision = 0;
  for (const item of items) {
    const byText = await api.request<{ data: { id: string }[] }>('POST', '/v1/indexes/align/search', { query: { text: item.text }, limit: 5 });
    if (byText.data.some((hit) => hit.id === item.id)) textHits += 1;
    const byItem = await api.request<{ data: { id: string }[] }>('POST', '/v1/indexes/align/search', { query: { item_id: item.id }, limit: 10 });
    precision += byItem.data.filter((hit) => boardOf.get(hit.id) === item.board).length / 10;
  }
  return { textToImageAt5: textHits / items.length, subgroupPrecisionAt10: precision / items.length };
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'lookbook-bench-align-'));
  const config = loadConfig({
    ...process.env,
    LOOKBOOK_DATA_DIR: dataDir,
    LOOKBOOK_PORT: '0',
    LOOKBOOK_PROVIDERS: 'cpu',
    LOOKBOOK_DETECTOR: 'none',
    LOOKBOOK_MODELS: values.model!,
    LOOKBOOK_QUEUE_PREFIX: `bench-align-${process.pid}`,
    LOOKBOOK_JSON_LIMIT_BYTES: String(256 * 1024 * 1024),
    LOOKBOOK_JOB_CHUNK_SIZE: '256',
  });
  const server = await startServer(config, createLogger('warn'));
  const api = new ApiClient(server.url);
  try {
    await api.request('POST', '/v1/indexes', { name: 'align' });
    if (values.synthetic) await synthetic(api, Number(values.synthetic));
    else await emoji(api);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(0);
}

async function emoji(api: ApiClient) {
  const concepts = JSON.parse(readFileSync(join(values.data!, 'concepts.json'), 'utf8')) as { key: string; label: string; group: string; subgroup: string }[];
  const byKey = new Map(concepts.map((concept) => [concept.key, concept]));
  const keys = JSON.parse(readFileSync(join(values.data!, 'styles', `${values.style}.keys.json`), 'utf8')) as string[];
  const { shape, data } = readNpy(join(values.data!, 'styles', `${values.style}.npy`));
  const [count, height, width, channels] = shape as [number, number, number, number];
  const items = await Promise.all(
    keys.slice(0, count).map(async (key, i) => {
      const concept = byKey.get(key)!;
      const png = await sharp(data.subarray(i * height * width * channels, (i + 1) * height * width * channels), { raw: { width, height, channels: channels as 4 } }).png().toBuffer();
      return { id: key, text: concept.label, board: `${concept.group}/${concept.subgroup}`, image: `data:image/png;base64,${png.toString('base64')}` };
    }),
  );
  const members = new Map<string, string[]>();
  for (const item of items) members.set(item.board, [...(members.get(item.board) ?? []), item.id]);
  const boards = [...members].filter(([, ids]) => ids.length >= 3).map(([id, ids]) => ({ id, items: ids }));
  const boardOf = new Map(items.map((item) => [item.id, item.board]));
  const inBoards = items.filter((item) => (members.get(item.board)?.length ?? 0) >= 3);
  process.stderr.write(`${items.length} ${values.style} images, ${boards.length} subgroup boards of 3 or more (${inBoards.length} items)\n`);

  const ingest = await timed(async () => until(api, (await api.request<JobView>('POST', '/v1/jobs', { type: 'ingest', index: 'align', items: items.map(({ id, text, image, board }) => ({ id, text, image, metadata: { subgroup: board } })) })).id));
  const graph = await api.request<Record<string, unknown>>('POST', '/v1/indexes/align/graph', { boards });
  const before = await catalogFigures(api, inBoards, boardOf);
  const align = await timed(async () => until(api, (await api.request<JobView>('POST', '/v1/jobs', { type: 'align', index: 'align', ...alignOptions() })).id));
  const result = align.value.result as { model_version: string; metrics: Record<string, any> };
  const switched = await timed(async () => until(api, (await api.request<JobView>('POST', '/v1/jobs', { type: 'reembed', index: 'align', model_version: result.model_version })).id));
  const after = await catalogFigures(api, inBoards, boardOf);
  const m = result.metrics;
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  console.log(`\n${items.length} ${values.style}-style images (a style the default model never trained on), ${boards.length} CLDR-subgroup boards, graph ${JSON.stringify(graph)}`);
  console.log(`ingest ${ingest.seconds.toFixed(1)} s; align ${align.seconds.toFixed(1)} s (${m.steps} steps, best at ${m.best_step}${m.stopped_early ? ', stopped early' : ''}); switch to ${result.model_version} ${switched.seconds.toFixed(1)} s`);
  console.log('| figure | base | aligned | change |');
  console.log('| --- | --- | --- | --- |');
  console.log(`| held-out neighbor R@10 (${m.validation_queries} held-out memberships, gallery ${m.gallery}) | ${pct(m.neighbor_recall_at_10.before)} | ${pct(m.neighbor_recall_at_10.after)} | ${(100 * (m.neighbor_recall_at_10.after - m.neighbor_recall_at_10.before)).toFixed(1)} pts |`);
  if (m.text_to_image_recall_at_5) console.log(`| held-out text→image R@5 (${m.text_queries} items whose texts were not trained on) | ${pct(m.text_to_image_recall_at_5.before)} | ${pct(m.text_to_image_recall_at_5.after)} | ${(100 * (m.text_to_image_recall_at_5.after - m.text_to_image_recall_at_5.before)).toFixed(1)} pts |`);
  console.log(`| whole catalog via POST …/search: text→image R@5 (${inBoards.length} texts) | ${pct(before.textToImageAt5)} | ${pct(after.textToImageAt5)} | ${(100 * (after.textToImageAt5 - before.textToImageAt5)).toFixed(1)} pts |`);
  console.log(`| whole catalog via POST …/search: subgroup-mate precision@10 (item queries) | ${pct(before.subgroupPrecisionAt10)} | ${pct(after.subgroupPrecisionAt10)} | ${(100 * (after.subgroupPrecisionAt10 - before.subgroupPrecisionAt10)).toFixed(1)} pts |`);
  console.log(`options ${JSON.stringify(alignOptions())}; metrics ${JSON.stringify(m)}`);
}

async function synthetic(api: ApiClient, count: number) {
  const d = 512;
  const random = rng(5);
  const gaussian = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const basis = Array.from({ length: 16 }, () => Float32Array.from({ length: d }, gaussian));
  const boardCount = Math.ceil(count / 10);
  const boards: { id: string; items: string[] }[] = Array.from({ length: boardCount }, (_, b) => ({ id: `b${b}`, items: [] }));
  const open = await api.request<JobView>('POST', '/v1/jobs', { type: 'ingest', index: 'align', open: true });
  const ingest = await timed(async () => {
    for (let start = 0; start < count; start += 5000) {
      const items = [];
      for (let i = start; i < Math.min(count, start + 5000); i++) {
        const b = i % boardCount;
        const mix = rng(b + 1);
        const weights = basis.map(() => Math.sqrt(-2 * Math.log(mix() + 1e-12)) * Math.cos(2 * Math.PI * mix()) / 4);
        const vector = Array.from({ length: d }, (_, k) => gaussian() + 0.35 * basis.reduce((sum, direction, m) => sum + weights[m]! * direction[k]!, 0));
        const norm = Math.hypot(...vector);
        items.push({ id: `item-${i}`, vector: vector.map((x) => Math.round((x / norm) * 1e5) / 1e5) });
        boards[b]!.items.push(`item-${i}`);
      }
      await api.request('POST', `/v1/jobs/${open.id}/items`, { items });
    }
    await api.request('POST', `/v1/jobs/${open.id}/close`);
    return until(api, open.id);
  });
  await api.request('POST', '/v1/indexes/align/graph', { boards });
  const align = await timed(async () => until(api, (await api.request<JobView>('POST', '/v1/jobs', { type: 'align', index: 'align', ...alignOptions() })).id));
  const result = align.value.result as { model_version: string; base_version: string; metrics: Record<string, any> };
  const switched = await timed(async () => until(api, (await api.request<JobView>('POST', '/v1/jobs', { type: 'reembed', index: 'align', model_version: result.model_version })).id));
  const back = await timed(async () => until(api, (await api.request<JobView>('POST', '/v1/jobs', { type: 'reembed', index: 'align', model_version: result.base_version })).id));
  console.log(`\n${count} items (raw 512-d vectors, ${boardCount} planted boards of 10): ingest ${ingest.seconds.toFixed(1)} s, align ${align.seconds.toFixed(1)} s (${result.metrics.steps} steps, best at ${result.metrics.best_step}), switch to the head (re-projection) ${switched.seconds.toFixed(1)} s, rollback ${back.seconds.toFixed(1)} s`);
  console.log(`held-out neighbor R@10 ${(100 * result.metrics.neighbor_recall_at_10.before).toFixed(1)} → ${(100 * result.metrics.neighbor_recall_at_10.after).toFixed(1)} %`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
