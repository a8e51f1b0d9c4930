/**
 * Embeds every image of the emoji dataset (training/data/emoji-v1, built by training/dataset)
 * with a model directory, in a seeded shuffled order, into a float32 file of unit vectors for
 * `bench/search --emoji FILE` (real embeddings instead of synthetic ones).
 *
 *   node dist/bench/emoji-embeddings.js --model models/lookbook-emoji --data training/data/emoji-v1 --out /tmp/emoji.f32
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DualEncoder } from '../src/encoders/dual-encoder.js';
import { readModelSpec } from '../src/encoders/model-layouts.js';
import { createLogger } from '../src/logger.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/lookbook-emoji' },
    data: { type: 'string', default: 'training/data/emoji-v1' },
    out: { type: 'string', default: 'emoji-embeddings.f32' },
    seed: { type: 'string', default: '1' },
  },
});

/** A NumPy .npy (v1/v2, uint8, C order) as bytes and shape. */
export function readNpy(path: string): { data: Buffer; shape: number[] } {
  const bytes = readFileSync(path);
  if (bytes.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path} is not a .npy file`);
  const major = bytes[6]!;
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', start, start + headerLength);
  if (!header.includes("'|u1'") || header.includes("'fortran_order': True")) throw new Error(`${path}: only C-ordered uint8 arrays are read`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((part) => part.trim()).filter(Boolean).map(Number);
  return { data: bytes.subarray(start + headerLength), shape };
}

async function main() {
  const encoder = await DualEncoder.load(await readModelSpec(values.model!), {
    providers: ['cpu'],
    intraOpThreads: 0,
    batching: { maxBatchSize: 64, maxWaitMs: 5, maxQueue: 100_000 },
    maxImagePixels: 1e8,
    logger: createLogger('warn'),
  });
  const images: { data: Buffer; width: number; height: number }[] = [];
  for (const file of readdirSync(join(values.data!, 'styles')).filter((name) => name.endsWith('.npy')).sort()) {
    const { data, shape } = readNpy(join(values.data!, 'styles', file));
    const [count, height, width, channels] = shape as [number, number, number, number];
    if (channels !== 4) throw new Error(`${file}: expected RGBA`);
    for (let i = 0; i < count; i++) images.push({ data: data.subarray(i * height * width * 4, (i + 1) * height * width * 4), width, height });
  }
  // Seeded Fisher–Yates, so the first rows (the bench's queries) mix styles and concepts.
  let state = Number(values.seed) >>> 0 || 1;
  const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296);
  for (let i = images.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [images[i], images[j]] = [images[j]!, images[i]!];
  }
  const dim = encoder.info.dimension;
  const out = new Float32Array(images.length * dim);
  const started = performance.now();
  const chunk = 256;
  for (let i = 0; i < images.length; i += chunk) {
    const vectors = await Promise.all(
      images.slice(i, i + chunk).map((image) => encoder.embedImage({ data: image.data, width: image.width, height: image.height, channels: 4 })),
    );
    vectors.forEach((embedding, j) => out.set(embedding.vector, (i + j) * dim));
  }
  writeFileSync(values.out!, Buffer.from(out.buffer));
  console.log(`${images.length} images embedded with ${encoder.info.id}@${encoder.info.version} in ${((performance.now() - started) / 1000).toFixed(1)} s → ${values.out}`);
  await encoder.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
