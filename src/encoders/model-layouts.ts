import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import type { ModelLayout, ModelSpec, PreprocessSpec } from './model-spec.js';

/** A model directory whose files are missing or malformed. */
export class ModelFormatError extends Error {
  constructor(
    readonly dir: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${dir}: ${message}`, options);
    this.name = 'ModelFormatError';
  }
}

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
const WHITE = [255, 255, 255] as const;

const rgb = z.tuple([z.number(), z.number(), z.number()]);
const positive = z.number().int().positive();

const lookbookManifestSchema = z.object({
  format: z.literal('lookbook.dual-encoder'),
  formatVersion: z.literal(1),
  id: z.string().min(1),
  version: z.string().min(1),
  dimension: positive,
  description: z.string().optional(),
  image: z.object({
    onnx: z.string().min(1),
    preprocess: z.object({
      resize: z.enum(['shortest_edge', 'squash']),
      size: positive,
      crop: positive.nullable(),
      resample: z.enum(['bicubic', 'bilinear', 'nearest']),
      rescale: z.number().positive(),
      mean: rgb,
      std: rgb,
      background: rgb.default([255, 255, 255]),
    }),
  }),
  text: z.object({
    onnx: z.string().min(1),
    tokenizer: z.string().min(1),
    contextLength: positive,
    padTokenId: z.number().int().min(0).optional(),
  }),
});

export type LookbookManifest = z.infer<typeof lookbookManifestSchema>;

/** Tells which layout a directory uses from the files it holds. */
export function detectLayout(dir: string): ModelLayout | undefined {
  if (existsSync(join(dir, 'lookbook.json'))) return 'lookbook';
  if (existsSync(join(dir, 'onnx', 'vision_model.onnx')) && existsSync(join(dir, 'onnx', 'text_model.onnx'))) {
    return 'hf-clip';
  }
  if (existsSync(join(dir, 'visual', 'model.onnx')) && existsSync(join(dir, 'textual', 'model.onnx'))) {
    return 'openclip';
  }
  return undefined;
}

async function readJson(dir: string, path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ModelFormatError(dir, `cannot read ${path}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(dir, `${path} is not valid JSON`, { cause: error });
  }
}

async function readOptionalJson(dir: string, path: string): Promise<Record<string, unknown>> {
  if (!existsSync(path)) return {};
  const value = await readJson(dir, path);
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

function requireFile(dir: string, path: string): string {
  if (!existsSync(path)) throw new ModelFormatError(dir, `missing ${path}`);
  return path;
}

function parseWith<T>(dir: string, file: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ModelFormatError(dir, `${file} is invalid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** A version for layouts that carry none: a digest of the two graphs, so a changed file is a new version. */
async function digestVersion(paths: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const path of paths) {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  return `sha256-${hash.digest('hex').slice(0, 16)}`;
}

async function loadLookbook(dir: string): Promise<ModelSpec> {
  const manifest = parseWith(dir, 'lookbook.json', lookbookManifestSchema, await readJson(dir, join(dir, 'lookbook.json')));
  const p = manifest.image.preprocess;
  const preprocess: PreprocessSpec = {
    resize:
      p.resize === 'shortest_edge'
        ? { mode: 'shortest_edge', shortestEdge: p.size }
        : { mode: 'squash', height: p.size, width: p.size },
    crop: p.crop === null ? null : { height: p.crop, width: p.crop },
    cropRounding: 'floor',
    resample: p.resample,
    rescale: p.rescale,
    mean: p.mean,
    std: p.std,
    background: p.background,
  };
  return {
    dir,
    layout: 'lookbook',
    id: manifest.id,
    version: manifest.version,
    dimension: manifest.dimension,
    description: manifest.description,
    imageModelPath: requireFile(dir, join(dir, manifest.image.onnx)),
    textModelPath: requireFile(dir, join(dir, manifest.text.onnx)),
    preprocess,
    text: {
      tokenizerPath: requireFile(dir, join(dir, manifest.text.tokenizer)),
      tokenizerConfigPath: undefined,
      contextLength: manifest.text.contextLength,
      padTokenId: manifest.text.padTokenId,
    },
  };
}

// Hugging Face's CLIPImageProcessor / SiglipImageProcessor fields
// (transformers/models/clip/image_processing_clip.py). `size` and `crop_size` may be an int or a dict.
const sizeField = z.union([
  positive,
  z.object({ shortest_edge: positive }),
  z.object({ height: positive, width: positive }),
]);
const hfPreprocessorSchema = z.object({
  do_resize: z.boolean().default(true),
  size: sizeField.default({ shortest_edge: 224 }),
  resample: z.number().int().default(3),
  do_center_crop: z.boolean().default(true),
  crop_size: sizeField.optional(),
  do_rescale: z.boolean().default(true),
  rescale_factor: z.number().positive().default(1 / 255),
  do_normalize: z.boolean().default(true),
  image_mean: z.union([rgb, z.number()]).default([...CLIP_MEAN]),
  image_std: z.union([rgb, z.number()]).default([...CLIP_STD]),
});

// PIL's resample codes as Hugging Face stores them.
const PIL_RESAMPLE: Record<number, PreprocessSpec['resample']> = { 0: 'nearest', 2: 'bilinear', 3: 'bicubic' };

function toTriple(value: number | readonly [number, number, number]): [number, number, number] {
  return typeof value === 'number' ? [value, value, value] : [value[0], value[1], value[2]];
}

export function hfPreprocessSpec(dir: string, raw: unknown): PreprocessSpec {
  const c = parseWith(dir, 'preprocessor_config.json', hfPreprocessorSchema, raw);
  const resample = PIL_RESAMPLE[c.resample];
  if (!resample) throw new ModelFormatError(dir, `preprocessor_config.json: unsupported resample ${c.resample}`);
  let resize: PreprocessSpec['resize'] = { mode: 'none' };
  if (c.do_resize) {
    if (typeof c.size === 'number') resize = { mode: 'shortest_edge', shortestEdge: c.size };
    else if ('shortest_edge' in c.size) resize = { mode: 'shortest_edge', shortestEdge: c.size.shortest_edge };
    else resize = { mode: 'squash', height: c.size.height, width: c.size.width };
  }
  let crop: PreprocessSpec['crop'] = null;
  if (c.do_center_crop && c.crop_size !== undefined) {
    if (typeof c.crop_size === 'number') crop = { height: c.crop_size, width: c.crop_size };
    else if ('height' in c.crop_size) crop = { height: c.crop_size.height, width: c.crop_size.width };
    else crop = { height: c.crop_size.shortest_edge, width: c.crop_size.shortest_edge };
  }
  return {
    resize,
    crop,
    cropRounding: 'floor',
    resample,
    rescale: c.do_rescale ? c.rescale_factor : 1,
    mean: c.do_normalize ? toTriple(c.image_mean) : [0, 0, 0],
    std: c.do_normalize ? toTriple(c.image_std) : [1, 1, 1],
    background: WHITE,
  };
}

async function loadHfClip(dir: string): Promise<ModelSpec> {
  const config = await readOptionalJson(dir, join(dir, 'config.json'));
  const tokenizerConfigPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = await readOptionalJson(dir, tokenizerConfigPath);
  const textConfig = (config.text_config ?? {}) as Record<string, unknown>;
  const contextLength = firstPositiveInt(textConfig.max_position_embeddings, tokenizerConfig.model_max_length) ?? 77;
  const imageModelPath = join(dir, 'onnx', 'vision_model.onnx');
  const textModelPath = join(dir, 'onnx', 'text_model.onnx');
  return {
    dir,
    layout: 'hf-clip',
    id: typeof config._name_or_path === 'string' && config._name_or_path ? config._name_or_path : basename(resolve(dir)),
    version: await digestVersion([imageModelPath, textModelPath]),
    dimension: firstPositiveInt(config.projection_dim),
    description: undefined,
    imageModelPath,
    textModelPath,
    preprocess: hfPreprocessSpec(dir, await readJson(dir, requireFile(dir, join(dir, 'preprocessor_config.json')))),
    text: {
      tokenizerPath: requireFile(dir, join(dir, 'tokenizer.json')),
      tokenizerConfigPath: existsSync(tokenizerConfigPath) ? tokenizerConfigPath : undefined,
      contextLength,
      padTokenId: undefined,
    },
  };
}

// OpenCLIP's PreprocessCfg (open_clip/transform.py), as exported by Immich.
const openClipPreprocessSchema = z.object({
  size: z.union([positive, z.tuple([positive, positive])]),
  mode: z.literal('RGB').default('RGB'),
  mean: z.union([rgb, z.number()]).default([...CLIP_MEAN]),
  std: z.union([rgb, z.number()]).default([...CLIP_STD]),
  interpolation: z.enum(['bicubic', 'bilinear', 'nearest', 'random']).default('bicubic'),
  resize_mode: z.enum(['shortest', 'squash', 'longest']).default('shortest'),
  fill_color: z.number().default(0),
});

export function openClipPreprocessSpec(dir: string, raw: unknown): PreprocessSpec {
  const c = parseWith(dir, 'visual/preprocess_cfg.json', openClipPreprocessSchema, raw);
  const [height, width] = typeof c.size === 'number' ? [c.size, c.size] : c.size;
  if (c.resize_mode === 'longest') {
    throw new ModelFormatError(dir, 'visual/preprocess_cfg.json: resize_mode "longest" (letterbox) is not supported');
  }
  return {
    resize:
      c.resize_mode === 'squash'
        ? { mode: 'squash', height, width }
        : { mode: 'shortest_edge', shortestEdge: Math.min(height, width) },
    crop: c.resize_mode === 'squash' ? null : { height, width },
    cropRounding: 'round',
    // 'random' is a training-time augmentation; inference uses bicubic.
    resample: c.interpolation === 'random' ? 'bicubic' : c.interpolation,
    rescale: 1 / 255,
    mean: toTriple(c.mean),
    std: toTriple(c.std),
    background: WHITE,
  };
}

async function loadOpenClip(dir: string): Promise<ModelSpec> {
  const config = await readOptionalJson(dir, join(dir, 'config.json'));
  const textCfg = (config.text_cfg ?? {}) as Record<string, unknown>;
  const tokenizerConfigPath = join(dir, 'textual', 'tokenizer_config.json');
  const imageModelPath = join(dir, 'visual', 'model.onnx');
  const textModelPath = join(dir, 'textual', 'model.onnx');
  return {
    dir,
    layout: 'openclip',
    id: basename(resolve(dir)),
    version: await digestVersion([imageModelPath, textModelPath]),
    dimension: firstPositiveInt(config.embed_dim),
    description: undefined,
    imageModelPath,
    textModelPath,
    preprocess: openClipPreprocessSpec(dir, await readJson(dir, requireFile(dir, join(dir, 'visual', 'preprocess_cfg.json')))),
    text: {
      tokenizerPath: requireFile(dir, join(dir, 'textual', 'tokenizer.json')),
      tokenizerConfigPath: existsSync(tokenizerConfigPath) ? tokenizerConfigPath : undefined,
      contextLength: firstPositiveInt(textCfg.context_length) ?? 77,
      padTokenId: undefined,
    },
  };
}

function firstPositiveInt(...values: unknown[]): number | undefined {
  for (const value of values) {
    // Hugging Face writes a huge sentinel (1e30) for model_max_length when it is unknown.
    if (typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 1_000_000) return value;
  }
  return undefined;
}

/** Reads a model directory in whichever layout it uses. */
export async function readModelSpec(dir: string): Promise<ModelSpec> {
  const layout = detectLayout(dir);
  switch (layout) {
    case 'lookbook':
      return loadLookbook(dir);
    case 'hf-clip':
      return loadHfClip(dir);
    case 'openclip':
      return loadOpenClip(dir);
    case undefined:
      throw new ModelFormatError(
        dir,
        'not a model directory: expected lookbook.json, onnx/{vision,text}_model.onnx (Hugging Face CLIP) or visual/ + textual/ (OpenCLIP)',
      );
  }
}
