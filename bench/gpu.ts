/**
 * bench/gpu — the encoders' towers and the detector on each execution provider: items/s and
 * p50/p99 latency per batch size from prepared tensors (session.run alone) and from JPEG bytes
 * (the service's sharp preprocessing on all cores, then the run), a per-stage time table from
 * ONNX Runtime's profile (host→device copies, kernels, device→host copies), WebGPU variants
 * (layout, validation, outputs left on the GPU, preallocated outputs, graph capture) and output
 * parity against the CPU provider. Prints markdown tables; writes everything as JSON to --out.
 *
 *   npm run bench:gpu -- --model models/lookbook-emoji[,DIR…] --providers webgpu,cpu --batches 1,32,128
 *     [--detector models/lookbook-detector/model.onnx|none] [--iterations 20] [--warmup 3]
 *     [--jpegs 128] [--cpu-batches 1,8] [--cpu-iterations 3] [--variants nhwc,nchw,novalidation,nodownload,prealloc,graphcapture,int64]
 *     [--variant-batch N] [--variant-filter SUBSTRING-OF-TARGET]
 *     [--profile] [--threads 0] [--sharp-concurrency N] [--deadline-s 0] [--out bench-gpu.json]
 */
import { availableParallelism } from 'node:os';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

import ort from 'onnxruntime-node';
import sharp from 'sharp';
import type { ExecutionProviderName } from '../src/config.js';
import { letterboxTensor } from '../src/detection/detector.js';
import { decodeImage, preprocessImage } from '../src/encoders/image-preprocessor.js';
import { readModelSpec } from '../src/encoders/model-layouts.js';
import { plannedSize, type ModelSpec } from '../src/encoders/model-spec.js';
import { percentile } from './percentile.js';
import { createSession, sessionOptionsFor, type WebGpuOptions } from '../src/encoders/onnx-tower.js';
import { createLogger } from '../src/logger.js';

// libuv's pool runs sharp's work: one thread per core unless told otherwise. The pool starts on its
// first use, so setting this before any asynchronous work still takes effect.
process.env.UV_THREADPOOL_SIZE ??= String(availableParallelism());

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/lookbook-emoji' },
    detector: { type: 'string', default: 'models/lookbook-detector/model.onnx' },
    providers: { type: 'string', default: 'webgpu,cpu' },
    batches: { type: 'string', default: '1,32,128' },
    'cpu-batches': { type: 'string' },
    iterations: { type: 'string', default: '20' },
    'cpu-iterations': { type: 'string' },
    warmup: { type: 'string', default: '3' },
    jpegs: { type: 'string', default: '128' },
    variants: { type: 'string', default: 'nhwc,nchw,novalidation,nodownload,prealloc,graphcapture' },
    'variant-batch': { type: 'string' },
    'variant-filter': { type: 'string', default: '' },
    profile: { type: 'boolean', default: false },
    threads: { type: 'string', default: '0' },
    'sharp-concurrency': { type: 'string' },
    'deadline-s': { type: 'string', default: '0' },
    out: { type: 'string', default: 'bench-gpu.json' },
  },
});

const list = (value: string | undefined) => (value ?? '').split(',').map((part) => part.trim()).filter(Boolean);
const numbers = (value: string | undefined) => list(value).map(Number);
const modelDirs = list(values.model);
const providers = list(values.providers) as ExecutionProviderName[];
const batches = numbers(values.batches);
const cpuBatches = values['cpu-batches'] ? numbers(values['cpu-batches']) : batches;
const iterations = Number(values.iterations);
const cpuIterations = values['cpu-iterations'] ? Number(values['cpu-iterations']) : iterations;
const warmup = Number(values.warmup);
const jpegCount = Number(values.jpegs);
const variantNames = list(values.variants);
const threads = Number(values.threads);
const deadline = Number(values['deadline-s']) > 0 ? performance.now() + Number(values['deadline-s']) * 1000 : Infinity;
const logger = createLogger('error');
const started = new Date().toISOString();

/** One graph input the bench feeds: name, element type and the shape of one item. */
interface Feed {
  name: string;
  type: 'float32' | 'int64' | 'int32';
  item: number[];
}

/** A graph to measure: a tower of a model, or the detector. */
interface Target {
  label: string;
  kind: 'image' | 'text' | 'detector';
  path: string;
  feed: Feed;
  output: string;
  spec?: ModelSpec;
}

/** A way of running a session on WebGPU (each one measured against the plain run). */
interface Variant {
  name: string;
  webgpu?: WebGpuOptions;
  outputsOnGpu?: boolean;
  preallocate?: boolean;
}

const VARIANTS: Record<string, Variant> = {
  nhwc: { name: 'nhwc', webgpu: { preferredLayout: 'NHWC' } },
  nchw: { name: 'nchw', webgpu: { preferredLayout: 'NCHW' } },
  novalidation: { name: 'novalidation', webgpu: { validationMode: 'disabled' } },
  // The output stays on the GPU (onnxruntime-node 1.30 cannot download it to JS): the run's time
  // without the device→host copy of the outputs.
  nodownload: { name: 'nodownload', outputsOnGpu: true },
  prealloc: { name: 'prealloc', preallocate: true },
  graphcapture: { name: 'graphcapture', webgpu: { configEntries: { 'ep.webgpuexecutionprovider.enableGraphCapture': '1' } } },
  int64: { name: 'int64', webgpu: { configEntries: { 'ep.webgpuexecutionprovider.enableInt64': '1' } } },
};

interface Row {
  target: string;
  kind: Target['kind'];
  provider: string;
  variant: string;
  source: 'tensors' | 'jpeg' | 'jpeg-pipelined';
  batch: number;
  itemsPerS: number;
  p50Ms: number;
  p99Ms: number;
  iterations: number;
  /** Milliseconds per batch in each stage (jpeg rows: preprocess, input, run). */
  stages?: { preprocess: number; input: number; run: number };
  error?: string;
}

const results = {
  started,
  host: { node: process.version, cores: availableParallelism(), uvThreadpool: process.env.UV_THREADPOOL_SIZE, sharpConcurrency: 0, ort: ort.env.versions },
  settings: { modelDirs, providers, batches, cpuBatches, iterations, cpuIterations, warmup, jpegCount, variantNames, threads },
  sessions: [] as Array<{ target: string; provider: string; variant: string; requested: string; loadMs: number; error?: string }>,
  rows: [] as Row[],
  preprocess: [] as Array<{ target: string; imagesPerS: number; msPerImage: number }>,
  parity: [] as Array<{ target: string; provider: string; variant: string; batch: number; maxAbsDiff: number; against: string }>,
  profiles: [] as Array<Record<string, unknown>>,
  skipped: [] as string[],
};

function timeLeft(what: string): boolean {
  if (performance.now() < deadline) return true;
  results.skipped.push(what);
  return false;
}

/** A deterministic pseudo-random stream, so every provider and model sees the same inputs. */
function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

function makeInput(feed: Feed, batch: number, seed = 1): ort.Tensor {
  const random = seeded(seed);
  const perItem = feed.item.reduce((a, b) => a * b, 1);
  const dims = [batch, ...feed.item];
  if (feed.type === 'float32') {
    const data = new Float32Array(batch * perItem);
    for (let i = 0; i < data.length; i++) data[i] = random() * 4 - 2;
    return new ort.Tensor('float32', data, dims);
  }
  // Token ids: a start id, 5–20 word ids, an end id, then padding (id 0), as the tokenizer gives.
  const rows = Array.from({ length: batch }, () => {
    const length = Math.min(perItem - 2, 5 + Math.floor(random() * 16));
    return [2, ...Array.from({ length }, () => 4 + Math.floor(random() * 900)), 3];
  });
  if (feed.type === 'int32') {
    const data = new Int32Array(batch * perItem);
    rows.forEach((row, r) => data.set(row, r * perItem));
    return new ort.Tensor('int32', data, dims);
  }
  const data = new BigInt64Array(batch * perItem);
  rows.forEach((row, r) => row.forEach((id, j) => (data[r * perItem + j] = BigInt(id))));
  return new ort.Tensor('int64', data, dims);
}

/** Photo-sized JPEGs (640×480) with gradients, a shape and noise, so decoding costs what it would. */
async function makeJpegs(count: number): Promise<Buffer[]> {
  const width = 640;
  const height = 480;
  return Promise.all(
    Array.from({ length: count }, (_, k) => {
      const random = seeded(k + 7);
      const pixels = Buffer.alloc(width * height * 3);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const noise = Math.floor(random() * 24);
          const inside = (x - 320 - k) ** 2 + (y - 240) ** 2 < (80 + k) ** 2;
          const i = (y * width + x) * 3;
          pixels[i] = ((x * 255) / width + noise + (inside ? 90 : 0)) & 255;
          pixels[i + 1] = ((y * 255) / height + noise + k * 11) & 255;
          pixels[i + 2] = (inside ? 200 : (x + y) % 256) ^ noise;
        }
      }
      return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 88 }).toBuffer();
    }),
  );
}

async function targetsOf(dir: string): Promise<Target[]> {
  const spec = await readModelSpec(dir);
  const { crop } = plannedSize(spec.preprocess, 1000, 1000);
  const probe = await ort.InferenceSession.create(spec.textModelPath, sessionOptionsFor('cpu', { intraOpThreads: 1 }));
  const ids = probe.inputMetadata.find((meta) => meta.isTensor)!;
  const textOutput = probe.outputNames.find((name) => ['text_embeds', 'embedding', 'embeddings'].includes(name)) ?? probe.outputNames[0]!;
  const idsType = ids.isTensor && ids.type === 'int32' ? 'int32' : 'int64';
  const length = ids.isTensor && typeof ids.shape[1] === 'number' ? ids.shape[1] : 16;
  await probe.release();
  const imageProbe = await ort.InferenceSession.create(spec.imageModelPath, sessionOptionsFor('cpu', { intraOpThreads: 1 }));
  const pixels = imageProbe.inputNames[0]!;
  const imageOutput = imageProbe.outputNames.find((name) => ['image_embeds', 'embedding', 'embeddings'].includes(name)) ?? imageProbe.outputNames[0]!;
  await imageProbe.release();
  const name = basename(dir);
  return [
    { label: `${name} image`, kind: 'image', path: spec.imageModelPath, feed: { name: pixels, type: 'float32', item: [3, crop.height, crop.width] }, output: imageOutput, spec },
    { label: `${name} text`, kind: 'text', path: spec.textModelPath, feed: { name: ids.name, type: idsType, item: [length] }, output: textOutput, spec },
  ];
}

async function detectorTarget(path: string): Promise<Target> {
  const probe = await ort.InferenceSession.create(path, sessionOptionsFor('cpu', { intraOpThreads: 1 }));
  const input = probe.inputMetadata.find((meta) => meta.isTensor)!;
  const size = input.isTensor && typeof input.shape[2] === 'number' ? input.shape[2] : 640;
  const output = probe.outputNames[0]!;
  await probe.release();
  return { label: `${basename(join(path, '..'))} detector`, kind: 'detector', path, feed: { name: input.name, type: 'float32', item: [3, size, size] }, output };
}

interface Loaded {
  session: ort.InferenceSession;
  provider: ExecutionProviderName;
}

async function load(target: Target, provider: ExecutionProviderName, variant: Variant, profilePrefix?: string): Promise<Loaded | undefined> {
  const t = performance.now();
  const requested = `${provider}${provider === 'webgpu' ? `/${variant.name}` : ''}`;
  try {
    let loaded: Loaded;
    if (variant.outputsOnGpu) {
      const options = { ...sessionOptionsFor(provider, { intraOpThreads: threads, webgpu: variant.webgpu }), preferredOutputLocation: 'gpu-buffer' as const };
      loaded = { session: await ort.InferenceSession.create(target.path, options), provider };
    } else {
      loaded = await createSession(target.path, { providers: [provider], intraOpThreads: threads, logger, webgpu: variant.webgpu, profileFilePrefix: profilePrefix });
    }
    results.sessions.push({ target: target.label, provider: loaded.provider, variant: variant.name, requested, loadMs: performance.now() - t });
    return loaded;
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
    results.sessions.push({ target: target.label, provider, variant: variant.name, requested, loadMs: performance.now() - t, error: message });
    console.error(`  ${target.label} on ${requested}: ${message}`);
    return undefined;
  }
}

/** One run; the output tensor is released when it lives on the GPU. */
async function runOnce(loaded: Loaded, target: Target, input: ort.Tensor, variant: Variant, prealloc?: ort.Tensor): Promise<ort.Tensor> {
  const fetches = prealloc ? { [target.output]: prealloc } : [target.output];
  const out = (await loaded.session.run({ [target.feed.name]: input }, fetches as never))[target.output]!;
  if (variant.outputsOnGpu) out.dispose();
  return out;
}

function outputDims(target: Target, batch: number, session: ort.InferenceSession): number[] | undefined {
  const meta = session.outputMetadata.find((m) => m.name === target.output);
  if (!meta || !meta.isTensor) return undefined;
  const dims = meta.shape.map((d, i) => (i === 0 ? batch : d));
  return dims.every((d) => typeof d === 'number') ? (dims as number[]) : undefined;
}

async function measureTensors(loaded: Loaded, target: Target, variant: Variant, batch: number, count: number): Promise<Row> {
  const input = makeInput(target.feed, batch);
  const dims = variant.preallocate ? outputDims(target, batch, loaded.session) : undefined;
  const prealloc = dims ? new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims) : undefined;
  const base = { target: target.label, kind: target.kind, provider: loaded.provider, variant: variant.name, source: 'tensors' as const, batch };
  try {
    for (let i = 0; i < warmup; i++) await runOnce(loaded, target, input, variant, prealloc);
    const latencies: number[] = [];
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await runOnce(loaded, target, input, variant, prealloc);
      latencies.push(performance.now() - t);
    }
    const total = performance.now() - start;
    latencies.sort((a, b) => a - b);
    return { ...base, itemsPerS: (batch * count) / (total / 1000), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), iterations: count };
  } catch (error) {
    return { ...base, itemsPerS: NaN, p50Ms: NaN, p99Ms: NaN, iterations: 0, error: (error instanceof Error ? error.message : String(error)).split('\n')[0]! };
  }
}

/** CHW tensors of the target's preprocessing for JPEG bytes. */
async function preprocessFor(target: Target, jpeg: Buffer): Promise<Float32Array> {
  if (target.kind === 'detector') return (await letterboxTensor(await decodeImage(jpeg, 50_000_000), target.feed.item[1]!)).tensor;
  return (await preprocessImage(jpeg, target.spec!.preprocess, { maxPixels: 50_000_000 })).tensor;
}

function batchTensor(target: Target, tensors: Float32Array[]): ort.Tensor {
  const plane = target.feed.item.reduce((a, b) => a * b, 1);
  const data = new Float32Array(tensors.length * plane);
  tensors.forEach((tensor, i) => data.set(tensor, i * plane));
  return new ort.Tensor('float32', data, [tensors.length, ...target.feed.item]);
}

/**
 * From JPEG bytes: each batch's images are preprocessed concurrently (sharp on libuv's pool, all
 * cores), packed into one tensor and run. `pipelined`: the next batch is preprocessed while this
 * one runs, as the micro-batcher lets it happen in the service.
 */
async function measureJpegs(loaded: Loaded, target: Target, variant: Variant, batch: number, jpegs: Buffer[], pipelined: boolean): Promise<Row> {
  // Each JPEG once when they fill few batches, else as many batches as the tensor rows time.
  const rounds = Math.max(Math.min(3, iterationsFor(loaded.provider)), Math.min(iterationsFor(loaded.provider), Math.ceil(jpegs.length / batch)));
  const slice = (k: number) => Array.from({ length: batch }, (_, i) => jpegs[(k * batch + i) % jpegs.length]!);
  const prepare = async (k: number) => {
    const t = performance.now();
    const tensors = await Promise.all(slice(k).map((jpeg) => preprocessFor(target, jpeg)));
    return { tensors, ms: performance.now() - t };
  };
  const stages = { preprocess: 0, input: 0, run: 0 };
  const latencies: number[] = [];
  await runOnce(loaded, target, batchTensor(target, (await prepare(0)).tensors), variant);
  const start = performance.now();
  let next = pipelined ? prepare(0) : undefined;
  for (let k = 0; k < rounds; k++) {
    const t = performance.now();
    const prepared = await (next ?? prepare(k));
    if (pipelined) next = k + 1 < rounds ? prepare(k + 1) : undefined;
    const t1 = performance.now();
    const input = batchTensor(target, prepared.tensors);
    const t2 = performance.now();
    await runOnce(loaded, target, input, variant);
    const t3 = performance.now();
    stages.preprocess += prepared.ms;
    stages.input += t2 - t1;
    stages.run += t3 - t2;
    latencies.push(t3 - t);
  }
  const total = performance.now() - start;
  latencies.sort((a, b) => a - b);
  const per = (ms: number) => ms / rounds;
  return {
    target: target.label, kind: target.kind, provider: loaded.provider, variant: variant.name, source: pipelined ? 'jpeg-pipelined' : 'jpeg', batch,
    itemsPerS: (rounds * batch) / (total / 1000), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), iterations: rounds,
    stages: { preprocess: per(stages.preprocess), input: per(stages.input), run: per(stages.run) },
  };
}

/** Preprocessing alone, all images at once on all cores: the most images/s the CPUs can feed. */
async function measurePreprocess(target: Target, jpegs: Buffer[]): Promise<void> {
  await preprocessFor(target, jpegs[0]!);
  const t = performance.now();
  await Promise.all(jpegs.map((jpeg) => preprocessFor(target, jpeg)));
  const ms = performance.now() - t;
  results.preprocess.push({ target: target.label, imagesPerS: jpegs.length / (ms / 1000), msPerImage: ms / jpegs.length });
}

const parityOutputs = new Map<string, Float32Array>();
/** Graphs whose plain WebGPU session did not load (no adapter): their variants are not tried. */
const webgpuMissing = new Set<string>();

async function parity(loaded: Loaded, target: Target, variant: Variant, batch: number): Promise<void> {
  if (variant.outputsOnGpu) return;
  const input = makeInput(target.feed, batch, 99);
  const out = (await loaded.session.run({ [target.feed.name]: input }, [target.output]))[target.output]!;
  const data = new Float32Array(out.data as Float32Array);
  parityOutputs.set(`${target.label}|${loaded.provider}|${variant.name}|${batch}`, data);
  const cpu = parityOutputs.get(`${target.label}|cpu|default|${batch}`);
  if (cpu && loaded.provider !== 'cpu') results.parity.push({ target: target.label, provider: loaded.provider, variant: variant.name, batch, maxAbsDiff: maxAbsDiff(cpu, data), against: 'cpu' });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return NaN;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** fp16 against fp32 exports of the same weights (directories named …-fp16 / …-fp32), per provider. */
function crossPrecisionParity(): void {
  for (const [key, half] of parityOutputs) {
    const [label, provider, variant, batch] = key.split('|');
    if (!label!.includes('-fp16')) continue;
    const full = parityOutputs.get(`${label!.replace('-fp16', '-fp32')}|cpu|default|${batch}`);
    if (full) results.parity.push({ target: label!, provider: provider!, variant: variant!, batch: Number(batch), maxAbsDiff: maxAbsDiff(full, half), against: 'cpu fp32 export' });
  }
}

/** One profiled run at `batch`: ONNX Runtime's own times per stage and where the nodes ran. */
async function profileRun(target: Target, provider: ExecutionProviderName, batch: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lookbook-profile-'));
  const loaded = await load(target, provider, { name: 'profile' }, join(dir, 'p'));
  if (!loaded) return;
  const input = makeInput(target.feed, batch);
  await loaded.session.run({ [target.feed.name]: input }, [target.output]);
  const walls: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await loaded.session.run({ [target.feed.name]: input }, [target.output]);
    walls.push(performance.now() - t);
  }
  loaded.session.endProfiling();
  await loaded.session.release();
  const file = readdirSync(dir).find((name) => name.endsWith('.json'));
  if (!file) return;
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: Record<string, unknown> }>;
  rmSync(dir, { recursive: true, force: true });
  // The first model_run is the warm-up; the stage sums below cover the 3 timed runs.
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(1);
  const firstTimed = events.indexOf(runs[0]!);
  const nodes = events.slice(firstTimed).filter((e) => e.cat === 'Node');
  const ms = (list: typeof events) => list.reduce((sum, e) => sum + e.dur, 0) / 1000 / Math.max(1, runs.length);
  const op = (e: (typeof events)[number]) => String(e.args?.op_name ?? '');
  const byProvider: Record<string, number> = {};
  for (const e of nodes) {
    const key = String(e.args?.provider ?? '?');
    byProvider[key] = (byProvider[key] ?? 0) + 1 / Math.max(1, runs.length);
  }
  const perOp = new Map<string, number>();
  for (const e of nodes) perOp.set(op(e), (perOp.get(op(e)) ?? 0) + e.dur / 1000 / Math.max(1, runs.length));
  const topOps = Object.fromEntries([...perOp].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([name, msPerRun]) => [name, Number(msPerRun.toFixed(3))]));
  // Anything else the provider recorded (WebGPU may add GPU-side timings of its own).
  const other: Record<string, { count: number; ms: number }> = {};
  for (const e of events.slice(firstTimed)) {
    if (e.cat === 'Node' || e.cat === 'Session') continue;
    const entry = (other[`${e.cat}:${e.name}`.slice(0, 80)] ??= { count: 0, ms: 0 });
    entry.count += 1;
    entry.ms += (e.dur ?? 0) / 1000;
  }
  results.profiles.push({
    target: target.label,
    topOpsMsPerRun: topOps,
    otherEvents: Object.fromEntries(Object.entries(other).sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)),
    provider: loaded.provider,
    batch,
    wallMs: walls.reduce((a, b) => a + b, 0) / walls.length,
    modelRunMs: ms(runs),
    uploadMs: ms(nodes.filter((e) => op(e) === 'MemcpyFromHost')),
    downloadMs: ms(nodes.filter((e) => op(e) === 'MemcpyToHost')),
    kernelsMs: ms(nodes.filter((e) => !op(e).startsWith('Memcpy'))),
    nodesPerRunByProvider: byProvider,
    note: 'node times are host-side: on WebGPU a kernel time is its dispatch, the GPU work shows in the Memcpy that waits for it',
  });
}

function iterationsFor(provider: string): number {
  return provider === 'cpu' ? cpuIterations : iterations;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

function printTables(): void {
  console.log('\n### Items/s and latency (prepared tensors: session.run alone; jpeg: sharp preprocessing on all cores + run)\n');
  console.log('| target | provider | variant | source | batch | items/s | p50 ms | p99 ms | preprocess / input / run ms per batch |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results.rows) {
    const stages = r.stages ? `${fmt(r.stages.preprocess)} / ${fmt(r.stages.input, 2)} / ${fmt(r.stages.run)}` : r.error ? `error: ${r.error.slice(0, 80)}` : '';
    console.log(`| ${r.target} | ${r.provider} | ${r.variant} | ${r.source} | ${r.batch} | ${fmt(r.itemsPerS)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${stages} |`);
  }
  if (results.preprocess.length > 0) {
    console.log(`\n### Preprocessing alone (sharp, ${results.host.uvThreadpool} libuv threads, sharp concurrency ${results.host.sharpConcurrency}, ${results.host.cores} cores)\n`);
    console.log('| target | images/s | ms per image |');
    console.log('| --- | --- | --- |');
    for (const p of results.preprocess) console.log(`| ${p.target} | ${fmt(p.imagesPerS)} | ${fmt(p.msPerImage, 2)} |`);
  }
  if (results.parity.length > 0) {
    console.log('\n### Parity\n');
    console.log('| target | provider | variant | batch | against | max abs diff |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const p of results.parity) console.log(`| ${p.target} | ${p.provider} | ${p.variant} | ${p.batch} | ${p.against} | ${p.maxAbsDiff.toExponential(2)} |`);
  }
  if (results.profiles.length > 0) {
    console.log('\n### Stages of one run (ONNX Runtime profile, ms per run)\n');
    console.log('| target | provider | batch | wall (JS) | model_run | upload | kernels (host side) | download | nodes per provider |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const p of results.profiles) {
      const n = p as { target: string; provider: string; batch: number; wallMs: number; modelRunMs: number; uploadMs: number; kernelsMs: number; downloadMs: number; nodesPerRunByProvider: Record<string, number> };
      const nodes = Object.entries(n.nodesPerRunByProvider).map(([k, v]) => `${k.replace('ExecutionProvider', '')} ${Math.round(v)}`).join(', ');
      console.log(`| ${n.target} | ${n.provider} | ${n.batch} | ${fmt(n.wallMs, 2)} | ${fmt(n.modelRunMs, 2)} | ${fmt(n.uploadMs, 2)} | ${fmt(n.kernelsMs, 2)} | ${fmt(n.downloadMs, 2)} | ${nodes} |`);
    }
  }
  if (results.skipped.length > 0) console.log(`\nskipped at the deadline: ${results.skipped.join('; ')}`);
}

function save(): void {
  writeFileSync(values.out!, JSON.stringify({ ...results, finished: new Date().toISOString() }, null, 1));
}

async function main() {
  // sharp's own threads per image: 1 on glibc Linux without jemalloc (its default), so images
  // are spread over libuv's pool instead; --sharp-concurrency sets it.
  if (values['sharp-concurrency']) sharp.concurrency(Number(values['sharp-concurrency']));
  results.host.sharpConcurrency = sharp.concurrency();
  const targets: Target[] = [];
  for (const dir of modelDirs) targets.push(...(await targetsOf(dir)));
  if (values.detector && values.detector !== 'none') targets.push(await detectorTarget(values.detector));
  const jpegs = await makeJpegs(jpegCount);
  console.error(`bench/gpu: ${targets.length} graphs, providers ${providers.join(', ')}, batches ${batches.join(', ')}, ${jpegs.length} JPEGs, ${availableParallelism()} cores, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE}`);
  // CPU first: its outputs are the parity reference.
  const ordered = [...providers].sort((a, b) => (a === 'cpu' ? -1 : b === 'cpu' ? 1 : 0));
  const parityBatch = Math.min(8, Math.max(...batches));

  // Pass 1: the plain run of every graph on every provider.
  for (const target of targets) {
    if (target.kind !== 'text') await measurePreprocess(target, jpegs);
    for (const provider of ordered) {
      if (!timeLeft(`${target.label} on ${provider}`)) continue;
      const base = provider === 'webgpu' ? VARIANTS.nhwc! : { name: 'default' };
      const loaded = await load(target, provider, base);
      if (!loaded) {
        if (provider === 'webgpu') webgpuMissing.add(target.label);
        continue;
      }
      await parity(loaded, target, base, parityBatch);
      const sizes = provider === 'cpu' ? cpuBatches : batches;
      const count = iterationsFor(provider);
      for (const batch of sizes) {
        if (!timeLeft(`${target.label} ${provider} batch ${batch}`)) break;
        const row = await measureTensors(loaded, target, base, batch, count);
        results.rows.push(row);
        console.error(`  ${target.label} ${loaded.provider} tensors batch ${batch}: ${fmt(row.itemsPerS)}/s p99 ${fmt(row.p99Ms, 2)} ms${row.error ? ` (${row.error})` : ''}`);
        if (target.kind !== 'text' && !row.error) {
          for (const pipelined of [false, true]) {
            const jpegRow = await measureJpegs(loaded, target, base, batch, jpegs, pipelined);
            results.rows.push(jpegRow);
            console.error(`  ${target.label} ${loaded.provider} ${jpegRow.source} batch ${batch}: ${fmt(jpegRow.itemsPerS)}/s`);
          }
        }
        save();
      }
      await loaded.session.release();
    }
  }

  // Pass 2: WebGPU variants at one batch size, from prepared tensors.
  const variantBatch = values['variant-batch'] ? Number(values['variant-batch']) : Math.max(...batches);
  if (providers.includes('webgpu')) {
    for (const target of targets) {
      for (const name of variantNames.filter((v) => v !== 'nhwc')) {
        const variant = VARIANTS[name];
        if (!variant) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
        if (webgpuMissing.has(target.label) || !target.label.includes(values['variant-filter']!) || !timeLeft(`${target.label} webgpu/${name}`)) continue;
        const loaded = await load(target, 'webgpu', variant);
        if (!loaded) continue;
        if (loaded.provider === 'webgpu') await parity(loaded, target, variant, parityBatch).catch(() => undefined);
        const row = await measureTensors(loaded, target, variant, variantBatch, iterations);
        results.rows.push(row);
        console.error(`  ${target.label} webgpu/${name} batch ${variantBatch}: ${fmt(row.itemsPerS)}/s${row.error ? ` (${row.error})` : ''}`);
        await loaded.session.release();
        save();
      }
    }
  }

  // Pass 3: one profiled run per graph and provider at the largest batch.
  if (values.profile) {
    for (const target of targets) {
      for (const provider of ordered) {
        if ((provider === 'webgpu' && webgpuMissing.has(target.label)) || !timeLeft(`profile ${target.label} ${provider}`)) continue;
        await profileRun(target, provider, provider === 'cpu' ? Math.max(...cpuBatches) : Math.max(...batches));
      }
    }
  }
  crossPrecisionParity();
  save();
  printTables();
  console.error(`\nwrote ${values.out}`);
}

main().catch((error: unknown) => {
  console.error(error);
  save();
  process.exit(1);
});
