#!/usr/bin/env node
// Checks an exported model directory against the reference.json that training/ wrote beside it:
// token ids equal, embeddings of the exact reference tensors within the stated tolerance
// (onnxruntime-node vs PyTorch), and sharp's preprocessing within the resampling tolerances.
//
//   node scripts/check-parity.mjs models/lookbook-emoji [path/to/reference.json]
// Exits 1 on the first failure. Needs the build (npm run build).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { DualEncoder } = await import(join(root, 'dist/src/encoders/dual-encoder.js'));
const { readModelSpec } = await import(join(root, 'dist/src/encoders/model-layouts.js'));
const { preprocessImage } = await import(join(root, 'dist/src/encoders/image-preprocessor.js'));
const { createLogger } = await import(join(root, 'dist/src/logger.js'));

const modelDir = process.argv[2];
if (!modelDir) {
  console.error('usage: check-parity.mjs MODEL_DIR [REFERENCE_JSON]');
  process.exit(2);
}
const referencePath = process.argv[3] ?? join(modelDir, 'reference.json');
const reference = JSON.parse(readFileSync(referencePath, 'utf8'));
const tol = reference.tolerances;

const decode = (b64) => {
  const bytes = Buffer.from(b64, 'base64');
  return Float32Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
};
const maxAbs = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const cosine = (a, b) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
};

let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
};

const encoder = await DualEncoder.load(await readModelSpec(modelDir), {
  providers: ['cpu'],
  intraOpThreads: 1,
  batching: { maxBatchSize: 16, maxWaitMs: 1, maxQueue: 1000 },
  maxImagePixels: 1e8,
  logger: createLogger('silent'),
});
console.log(`${encoder.info.id}@${encoder.info.version} (${encoder.info.layout}, ${encoder.info.dimension}-d) against ${referencePath}`);

for (const text of reference.texts) {
  const tokens = encoder.tokenize(text.text);
  check(JSON.stringify(tokens.ids) === JSON.stringify(text.ids), `tokens of ${JSON.stringify(text.text)}`);
  const { vector } = await encoder.embedText(text.text);
  const diff = maxAbs(vector, text.embedding);
  check(diff <= tol.embedding_max_abs, `text embedding max abs ${diff.toExponential(2)} ≤ ${tol.embedding_max_abs}`);
}
for (const image of reference.images) {
  const tensor = decode(image.pixel_values_b64);
  const vector = await encoder.embedImageTensor(tensor);
  const diff = maxAbs(vector, image.embedding);
  check(diff <= tol.embedding_max_abs, `${image.file}: embedding of the reference tensor, max abs ${diff.toExponential(2)}`);
  const dir = image.in_model_dir ? dirname(resolve(referencePath)) : image.dir ? resolve(root, image.dir) : join(root, 'test/fixtures/images');
  const bytes = readFileSync(join(dir, image.file));
  const ours = await preprocessImage(bytes, encoder.spec.preprocess, { maxPixels: 1e8 });
  if (image.resampled) {
    const meanAbs = ours.tensor.reduce((s, x, i) => s + Math.abs(x - tensor[i]), 0) / tensor.length;
    check(meanAbs <= tol.pixel_values_mean_abs_resampled, `${image.file}: sharp vs Pillow mean abs ${meanAbs.toFixed(4)} (resampled)`);
  } else {
    const limit = image.alpha && tol.pixel_values_max_abs_alpha_not_resampled !== undefined ? tol.pixel_values_max_abs_alpha_not_resampled : tol.pixel_values_max_abs_not_resampled;
    const diffPixels = maxAbs(ours.tensor, tensor);
    check(diffPixels <= limit, `${image.file}: sharp vs Pillow max abs ${diffPixels.toExponential(2)} ≤ ${limit} (not resampled)`);
  }
  const endToEnd = cosine((await encoder.embedImage(bytes)).vector, image.embedding);
  check(endToEnd >= tol.end_to_end_min_cosine, `${image.file}: end-to-end cosine ${endToEnd.toFixed(5)} ≥ ${tol.end_to_end_min_cosine}`);
}
await encoder.close();
console.log(failures === 0 ? 'parity ok' : `${failures} parity checks failed`);
process.exit(failures === 0 ? 0 : 1);
