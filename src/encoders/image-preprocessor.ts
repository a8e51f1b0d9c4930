import sharp, { type Metadata, type Sharp } from 'sharp';
import { PayloadTooLargeError, UnsupportedImageError } from '../errors.js';
import { plannedSize, type PreprocessSpec } from './model-spec.js';

export interface ImagePreprocessorOptions {
  /** Largest width × height accepted before decoding (decompression-bomb guard). */
  maxPixels: number;
}

export interface PreprocessedImage {
  /** Float32 CHW tensor, normalized as the model expects. */
  readonly tensor: Float32Array;
  /** Size of the decoded image after EXIF orientation, before resizing. */
  readonly width: number;
  readonly height: number;
}

const KERNELS = { bicubic: 'cubic', bilinear: 'linear', nearest: 'nearest' } as const;

/**
 * Interleaved 8-bit RGB(A) → normalized float CHW: `(byte × rescale − mean) / std` per channel.
 * Pure, so it is tested against the Python reference directly.
 */
export function rgbToNormalizedChw(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  spec: Pick<PreprocessSpec, 'rescale' | 'mean' | 'std'>,
): Float32Array {
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const scale = spec.rescale / spec.std[c]!;
    const shift = spec.mean[c]! / spec.std[c]!;
    const base = c * plane;
    for (let i = 0; i < plane; i++) out[base + i] = pixels[i * channels + c]! * scale - shift;
  }
  return out;
}

function describeSharpError(error: unknown): UnsupportedImageError {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format|Input buffer is empty|Input Buffer is empty|empty/i.test(message)) {
    return new UnsupportedImageError('unsupported_image', 'the data is not an image in a supported format (JPEG, PNG, WebP, GIF, AVIF, TIFF, SVG)', { cause: error });
  }
  return new UnsupportedImageError('invalid_image', `the image could not be decoded: ${message.split('\n')[0]}`, { cause: error });
}

async function runPipeline(pipeline: Sharp) {
  try {
    return await pipeline.toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw describeSharpError(error);
  }
}

/** Decoded pixels (interleaved, 8-bit sRGB, 3 or 4 channels), already EXIF-oriented. */
export interface RawImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
}

export type ImageInput = Uint8Array | RawImage;

function isRaw(input: ImageInput): input is RawImage {
  return !(input instanceof Uint8Array);
}

/**
 * Reads an image's header: its size after EXIF orientation. Refuses empty data, what is not an
 * image (415), and more than `maxPixels` pixels (413) before anything is decoded.
 */
export async function probeImage(bytes: Uint8Array, maxPixels: number): Promise<{ width: number; height: number }> {
  if (bytes.length === 0) {
    throw new UnsupportedImageError('unsupported_image', 'the image is empty (0 bytes)');
  }
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw describeSharpError(error);
  }
  if (!metadata.width || !metadata.height) {
    throw new UnsupportedImageError('invalid_image', 'the image has no dimensions');
  }
  if (metadata.width * metadata.height > maxPixels) {
    throw new PayloadTooLargeError(
      'image_too_many_pixels',
      `the image is ${metadata.width}×${metadata.height} pixels; at most ${maxPixels} pixels are accepted`,
    );
  }
  // EXIF orientations 5–8 swap width and height.
  const rotated = (metadata.orientation ?? 1) >= 5;
  return rotated ? { width: metadata.height, height: metadata.width } : { width: metadata.width, height: metadata.height };
}

/** Decodes once to oriented sRGB pixels (for detection and crops), under the same limits. */
export async function decodeImage(bytes: Uint8Array, maxPixels: number): Promise<RawImage> {
  await probeImage(bytes, maxPixels);
  const { data, info } = await runPipeline(
    sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error', autoOrient: true }).toColourspace('srgb').raw(),
  );
  return { data, width: info.width, height: info.height, channels: info.channels === 4 ? 4 : 3 };
}

/**
 * Produces the tower's input from image bytes (or already decoded pixels) as the model's files
 * describe: EXIF orientation applied, alpha flattened onto the model's background, resized,
 * center-cropped, normalized. Pixel counts are checked from the header before any decoding.
 */
export async function preprocessImage(input: ImageInput, spec: PreprocessSpec, options: ImagePreprocessorOptions): Promise<PreprocessedImage> {
  const { width, height } = isRaw(input) ? input : await probeImage(input, options.maxPixels);
  const plan = plannedSize(spec, width, height);

  const source = isRaw(input)
    ? sharp(input.data, { raw: { width: input.width, height: input.height, channels: input.channels } })
    : sharp(input, { limitInputPixels: options.maxPixels, failOn: 'error', autoOrient: true });
  let pipeline = source
    .flatten({ background: { r: spec.background[0], g: spec.background[1], b: spec.background[2] } })
    .toColourspace('srgb');
  if (plan.resized.width !== width || plan.resized.height !== height) {
    pipeline = pipeline.resize(plan.resized.width, plan.resized.height, {
      fit: 'fill',
      kernel: KERNELS[spec.resample],
      // JPEG shrink-on-load decodes at a reduced DCT scale: faster, but not what the Python reference computes.
      fastShrinkOnLoad: false,
    });
  }
  const { crop } = plan;
  if (crop.width !== plan.resized.width || crop.height !== plan.resized.height) {
    const pad = {
      top: Math.max(0, -crop.top),
      left: Math.max(0, -crop.left),
      bottom: Math.max(0, crop.top + crop.height - plan.resized.height),
      right: Math.max(0, crop.left + crop.width - plan.resized.width),
    };
    if (pad.top || pad.left || pad.bottom || pad.right) {
      // A crop larger than the image pads with zeros, as Hugging Face's center_crop does. sharp
      // applies extend after extract within one pipeline, so the resized pixels are taken first.
      const resized = await runPipeline(pipeline.removeAlpha().raw());
      pipeline = sharp(resized.data, { raw: { width: resized.info.width, height: resized.info.height, channels: 3 } })
        .extend({ ...pad, background: { r: 0, g: 0, b: 0 } });
      const padded = await runPipeline(pipeline.raw());
      pipeline = sharp(padded.data, { raw: { width: padded.info.width, height: padded.info.height, channels: 3 } });
    }
    pipeline = pipeline.extract({ left: crop.left + pad.left, top: crop.top + pad.top, width: crop.width, height: crop.height });
  }
  const raw = await runPipeline(pipeline.removeAlpha().raw());
  if (raw.info.width !== crop.width || raw.info.height !== crop.height) {
    throw new Error(`preprocessing produced ${raw.info.width}×${raw.info.height}, expected ${crop.width}×${crop.height}`);
  }
  return {
    tensor: rgbToNormalizedChw(raw.data, raw.info.width, raw.info.height, raw.info.channels, spec),
    width,
    height,
  };
}
