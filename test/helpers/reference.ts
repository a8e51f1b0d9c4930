import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface ReferenceText {
  text: string;
  ids: number[];
  attention_mask?: number[];
  truncated: boolean;
  embedding: number[];
}

export interface ReferenceImage {
  file: string;
  original_size: [number, number];
  resized_size: [number, number];
  /** [left, top, right, bottom] in the resized image. */
  crop_box: [number, number, number, number] | null;
  resampled: boolean;
  /** Directory of `file` relative to the repository root (default test/fixtures/images). */
  dir?: string;
  /** `file` sits beside the reference.json (a model directory's own reference images). */
  in_model_dir?: boolean;
  /** Whether the image has transparent pixels. */
  alpha?: boolean;
  pixel_values_b64: string;
  shape: [number, number, number];
  embedding: number[];
}

export interface Reference {
  model: string;
  tolerances: {
    embedding_max_abs: number;
    pixel_values_max_abs_not_resampled: number;
    pixel_values_mean_abs_resampled: number;
    pixel_values_max_abs_alpha_not_resampled?: number;
    end_to_end_min_cosine: number;
  };
  texts: ReferenceText[];
  images: ReferenceImage[];
}

/** Reference outputs written by training/ (PyTorch): a fixture's name, or a path to a reference.json. */
export function loadReference(nameOrPath: string): Reference {
  const path = nameOrPath.endsWith('.json') ? nameOrPath : `test/fixtures/reference/${nameOrPath}.json`;
  return JSON.parse(readFileSync(path, 'utf8')) as Reference;
}

export function imageOf(image: ReferenceImage, referencePath: string): Buffer {
  return readFileSync(join(image.in_model_dir ? dirname(referencePath) : (image.dir ?? 'test/fixtures/images'), image.file));
}

export function decodeFloat32(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

export function fixtureImage(file: string): Buffer {
  return readFileSync(`test/fixtures/images/${file}`);
}
