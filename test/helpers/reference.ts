import { readFileSync } from 'node:fs';

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
    end_to_end_min_cosine: number;
  };
  texts: ReferenceText[];
  images: ReferenceImage[];
}

/** Reference outputs written by training/ (PyTorch) for a fixture model. */
export function loadReference(name: string): Reference {
  return JSON.parse(readFileSync(`test/fixtures/reference/${name}.json`, 'utf8')) as Reference;
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
