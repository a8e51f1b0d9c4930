/**
 * bench/embed — images/s end to end, JPEG bytes → normalized vectors, on CPU:
 * Lookbook's pipeline (sharp preprocessing + micro-batched ONNX Runtime session) against what a
 * user would otherwise write with @huggingface/transformers (its image processor configured with
 * the same preprocessing, feeding the same ONNX file, local files only). Both run in this process,
 * alternating per batch size, so the ratio holds on a noisy machine.
 *
 *   npm run bench:embed -- [--model models/fixture] [--images 96] [--batches 1,8,32] [--threads 0] [--rounds 3]
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DualEncoder } from '../src/encoders/dual-encoder.js';
import { readModelSpec } from '../src/encoders/model-layouts.js';
import { plannedSize, type ModelSpec } from '../src/encoders/model-spec.js';
import { l2NormalizeInPlace } from '../src/encoders/vectors.js';
import { createLogger } from '../src/logger.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/fixture' },
    images: { type: 'string', default: '96' },
    batches: { type: 'string', default: '1,8,32' },
    threads: { type: 'string', default: '0' },
    rounds: { type: 'string', default: '3' },
  },
});
const imageCount = Number(values.images);
const batchSizes = values.batches!.split(',').map(Number);
const threads = Number(values.threads);
const rounds = Number(values.rounds);

/** Photo-sized JPEGs (640×480) with smooth gradients, shapes and noise, so decoding costs what it would. */
async function makeJpegs(count: number): Promise<Buffer[]> {
  const width = 640;
  const height = 480;
  return Promise.all(
    Array.from({ length: count }, (_, k) => {
      const pixels = Buffer.alloc(width * height * 3);
      let seed = k * 7919 + 1;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          const noise = (seed >> 16) % 24;
          const inCircle = (x - 320 - k) ** 2 + (y - 240) ** 2 < (80 + k) ** 2;
          const i = (y * width + x) * 3;
          pixels[i] = ((x * 255) / width + noise + (inCircle ? 90 : 0)) & 255;
          pixels[i + 1] = ((y * 255) / height + noise + k * 11) & 255;
          pixels[i + 2] = (inCircle ? 200 : (x + y) % 256) ^ noise;
        }
      }
      return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 88 }).toBuffer();
    }),
  );
}

/** Writes the model's image tower and preprocessing in the Hugging Face layout transformers.js reads. */
function huggingFaceCopy(spec: ModelSpec): { root: string; name: string } {
  const root = mkdtempSync(join(tmpdir(), 'lookbook-bench-'));
  const name = 'lookbook-image-tower';
  mkdirSync(join(root, name, 'onnx'), { recursive: true });
  copyFileSync(spec.imageModelPath, join(root, name, 'onnx', 'vision_model.onnx'));
  const p = spec.preprocess;
  const { crop } = plannedSize(p, 1000, 1000);
  const size = p.resize.mode === 'shortest_edge' ? { shortest_edge: p.resize.shortestEdge } : p.resize.mode === 'squash' ? { height: p.resize.height, width: p.resize.width } : undefined;
  writeFileSync(
    join(root, name, 'preprocessor_config.json'),
    JSON.stringify({
      image_processor_type: 'CLIPImageProcessor',
      do_resize: size !== undefined,
      size,
      resample: { bicubic: 3, bilinear: 2, nearest: 0 }[p.resample],
      do_center_crop: p.crop !== null,
      crop_size: { height: crop.height, width: crop.width },
      do_rescale: true,
      rescale_factor: p.rescale,
      do_normalize: true,
      image_mean: p.mean,
      image_std: p.std,
      do_convert_rgb: true,
    }),
  );
  writeFileSync(join(root, name, 'config.json'), JSON.stringify({ model_type: 'clip_vision_model', architectures: ['CLIPVisionModelWithProjection'] }));
  return { root, name };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main() {
  const spec = await readModelSpec(values.model!);
  const jpegs = await makeJpegs(imageCount);
  const logger = createLogger('warn');

  const transformers = await import('@huggingface/transformers');
  transformers.env.allowRemoteModels = false;
  const copy = huggingFaceCopy(spec);
  transformers.env.localModelPath = copy.root;
  const processor = await transformers.AutoImageProcessor.from_pretrained(copy.name);
  const hfModel = await transformers.CLIPVisionModelWithProjection.from_pretrained(copy.name, {
    dtype: 'fp32',
    device: 'cpu',
    session_options: threads > 0 ? { intraOpNumThreads: threads } : {},
  });

  console.log(`model ${spec.id}@${spec.version} (${spec.layout}), ${imageCount} JPEGs 640×480, CPU, intra-op threads: ${threads || 'ONNX Runtime default'}, ${rounds} rounds, median shown`);
  console.log('| batch | Lookbook img/s | transformers.js img/s | ratio | min cosine between the two |');
  console.log('| --- | --- | --- | --- | --- |');

  for (const batch of batchSizes) {
    const encoder = await DualEncoder.load(spec, {
      providers: ['cpu'],
      intraOpThreads: threads,
      batching: { maxBatchSize: batch, maxWaitMs: 2, maxQueue: 100_000 },
      maxImagePixels: 50_000_000,
      logger,
    });
    const ours = async () => {
      const out: Float32Array[] = [];
      for (let i = 0; i < jpegs.length; i += batch) {
        const chunk = jpegs.slice(i, i + batch);
        out.push(...(await Promise.all(chunk.map((bytes) => encoder.embedImage(bytes)))).map((e) => e.vector));
      }
      return out;
    };
    const theirs = async () => {
      const out: Float32Array[] = [];
      for (let i = 0; i < jpegs.length; i += batch) {
        const chunk = jpegs.slice(i, i + batch);
        const images = await Promise.all(chunk.map((bytes) => transformers.RawImage.fromBlob(new Blob([bytes]))));
        const { pixel_values } = await processor(images);
        const { image_embeds } = await hfModel({ pixel_values });
        const data = image_embeds.data as Float32Array;
        const dim = image_embeds.dims[1] as number;
        for (let r = 0; r < chunk.length; r++) out.push(l2NormalizeInPlace(data.slice(r * dim, (r + 1) * dim)));
      }
      return out;
    };
    // Warm up both, then alternate.
    const [a, b] = [await ours(), await theirs()];
    let minCosine = 1;
    a.forEach((v, i) => {
      let dot = 0;
      for (let j = 0; j < v.length; j++) dot += v[j]! * b[i]![j]!;
      minCosine = Math.min(minCosine, dot);
    });
    const oursRates: number[] = [];
    const theirsRates: number[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      let t = performance.now();
      await ours();
      const oursRate = jpegs.length / ((performance.now() - t) / 1000);
      t = performance.now();
      await theirs();
      const theirsRate = jpegs.length / ((performance.now() - t) / 1000);
      oursRates.push(oursRate);
      theirsRates.push(theirsRate);
      ratios.push(oursRate / theirsRate);
    }
    console.log(`| ${batch} | ${median(oursRates).toFixed(1)} | ${median(theirsRates).toFixed(1)} | ${median(ratios).toFixed(2)}× | ${minCosine.toFixed(6)} |`);
    await encoder.close();
  }
  await hfModel.dispose();
  rmSync(copy.root, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
