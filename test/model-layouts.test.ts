import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DualEncoder } from '../src/encoders/dual-encoder.js';
import { preprocessImage } from '../src/encoders/image-preprocessor.js';
import { detectLayout, readModelSpec } from '../src/encoders/model-layouts.js';
import { plannedSize } from '../src/encoders/model-spec.js';
import { createLogger } from '../src/logger.js';
import { cosine, maxAbsDiff } from './helpers/server.js';
import { decodeFloat32, imageOf, loadReference } from './helpers/reference.js';

const MODELS: { name: string; dir: string; layout: string; reference: string }[] = [
  { name: 'fixture', dir: 'models/fixture', layout: 'lookbook', reference: 'test/fixtures/reference/fixture.json' },
  { name: 'hf-clip-tiny', dir: 'test/fixtures/models/hf-clip-tiny', layout: 'hf-clip', reference: 'test/fixtures/reference/hf-clip-tiny.json' },
  { name: 'openclip-tiny', dir: 'test/fixtures/models/openclip-tiny', layout: 'openclip', reference: 'test/fixtures/reference/openclip-tiny.json' },
  // Trained models shipped under models/ carry the reference their exporter computed with PyTorch.
  ...readdirSync('models', { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join('models', entry.name, 'reference.json')))
    .map((entry) => ({ name: entry.name, dir: join('models', entry.name), layout: 'lookbook', reference: join('models', entry.name, 'reference.json') })),
];

const options = {
  providers: ['cpu'] as const,
  intraOpThreads: 1,
  batching: { maxBatchSize: 8, maxWaitMs: 1, maxQueue: 100 },
  maxImagePixels: 50_000_000,
  logger: createLogger('silent'),
};

describe.each(MODELS)('$layout layout ($name)', ({ dir, layout, reference: referencePath }) => {
  const reference = loadReference(referencePath);
  let encoder: DualEncoder;

  beforeAll(async () => {
    encoder = await DualEncoder.load(await readModelSpec(dir), options);
  });
  afterAll(async () => {
    await encoder?.close();
  });

  it('is detected from its files', () => {
    expect(detectLayout(dir)).toBe(layout);
    expect(encoder.info.layout).toBe(layout);
    expect(encoder.info.dimension).toBe(reference.texts[0]!.embedding.length);
  });

  it('tokenizes, truncates and pads exactly as the Python reference', () => {
    for (const ref of reference.texts) {
      const tokens = encoder.tokenize(ref.text);
      expect({ text: ref.text, ids: tokens.ids }).toEqual({ text: ref.text, ids: ref.ids });
      expect(tokens.truncated).toBe(ref.truncated);
      if (ref.attention_mask) expect(tokens.attentionMask).toEqual(ref.attention_mask);
    }
  });

  it('embeds texts as PyTorch does (max abs diff ≤ 1e-5)', async () => {
    for (const ref of reference.texts) {
      const { vector } = await encoder.embedText(ref.text);
      expect(maxAbsDiff(vector, ref.embedding)).toBeLessThanOrEqual(reference.tolerances.embedding_max_abs);
    }
  });

  it('embeds the reference pixel tensors as PyTorch does (max abs diff ≤ 1e-5)', async () => {
    for (const ref of reference.images) {
      const tensor = decodeFloat32(ref.pixel_values_b64);
      expect(tensor.length).toBe(ref.shape[0] * ref.shape[1] * ref.shape[2]);
      const vector = await encoder.embedImageTensor(tensor);
      expect(maxAbsDiff(vector, ref.embedding)).toBeLessThanOrEqual(reference.tolerances.embedding_max_abs);
    }
  });

  it('plans the same resize and crop as the Python reference', () => {
    for (const ref of reference.images) {
      const [width, height] = ref.original_size;
      const plan = plannedSize(encoder.spec.preprocess, width, height);
      expect({ file: ref.file, resized: [plan.resized.width, plan.resized.height] }).toEqual({ file: ref.file, resized: ref.resized_size });
      const { left, top } = plan.crop;
      // null: no crop (squash); the whole resized image is the input.
      const cropBox = ref.crop_box ?? [0, 0, ref.resized_size[0], ref.resized_size[1]];
      expect({ file: ref.file, crop: [left, top, left + plan.crop.width, top + plan.crop.height] }).toEqual({ file: ref.file, crop: cropBox });
    }
  });

  it('preprocesses with sharp as the Python (Pillow) reference does, within the stated tolerances', async () => {
    const tolerances = reference.tolerances;
    for (const ref of reference.images) {
      const expected = decodeFloat32(ref.pixel_values_b64);
      const actual = await preprocessImage(imageOf(ref, referencePath), encoder.spec.preprocess, { maxPixels: 1e8 });
      expect(actual.tensor.length).toBe(expected.length);
      if (!ref.resampled) {
        // Decode, flatten and normalize only: exact, but for one 8-bit step where sharp and Pillow round alpha edges differently.
        const limit = ref.alpha && tolerances.pixel_values_max_abs_alpha_not_resampled !== undefined ? tolerances.pixel_values_max_abs_alpha_not_resampled : tolerances.pixel_values_max_abs_not_resampled;
        expect({ file: ref.file, maxAbs: maxAbsDiff(actual.tensor, expected) <= limit }).toEqual({ file: ref.file, maxAbs: true });
      } else {
        // libvips and Pillow resample differently (most when enlarging); see the reference's tolerance notes.
        const meanAbs = expected.reduce((sum, x, i) => sum + Math.abs(x - actual.tensor[i]!), 0) / expected.length;
        expect({ file: ref.file, meanAbs: meanAbs <= tolerances.pixel_values_mean_abs_resampled }).toEqual({ file: ref.file, meanAbs: true });
      }
      const { vector } = await encoder.embedImage(imageOf(ref, referencePath));
      expect({ file: ref.file, cosine: cosine(vector, ref.embedding) >= tolerances.end_to_end_min_cosine }).toEqual({ file: ref.file, cosine: true });
    }
  });
});
