import { z } from 'zod';
import { ENCODING_FORMATS } from '../embedding-format.js';
import { binaryFile, binaryFiles, imageSize, listOf } from './common.js';

/** Embeddings (OpenAI's envelope), models, health and Immich's machine-learning contract. */

const typedInput = z.union([
  z.strictObject({ text: z.string() }),
  z.strictObject({ image: z.string().min(1).describe('http(s) URL (fetched with SSRF protection), data: URI, or base64') }),
]);

const encodingFormat = z
  .enum(ENCODING_FORMATS)
  .default('float')
  .describe('base64: little-endian float32; ubinary: packed sign bits as unsigned bytes, MSB first (numpy packbits)');

export const embeddingsRequest = z.object({
  input: z.union([z.string(), typedInput, z.array(z.union([z.string(), typedInput])).min(1)]).describe('Texts and images; at most LOOKBOOK_MAX_INPUTS'),
  model: z.string().min(1).optional().describe('A loaded model id; the default model when omitted'),
  encoding_format: encodingFormat,
  dimensions: z.number().int().positive().optional().describe('Must equal the model dimension if given'),
  user: z.string().optional(),
});

/** Multipart `POST /v1/embeddings/images`: the fields beside the files. */
export const embeddingsImagesFields = z.object({
  model: z.string().min(1).optional(),
  encoding_format: encodingFormat,
});
export const embeddingsImagesForm = embeddingsImagesFields.extend({ file: binaryFiles.describe('One or more images, each in a field named "file"') });

const embeddingValue = z.union([z.array(z.number()), z.string()]).describe('Floats, a base64 string, or ubinary bytes');
const usage = z.strictObject({
  prompt_tokens: z.number().int(),
  total_tokens: z.number().int(),
  images: z.number().int(),
  truncated_inputs: z.array(z.number().int()).describe('Indexes of texts cut to the context length'),
});
const embeddingsEnvelope = {
  object: z.literal('list'),
  model: z.string(),
  model_version: z.string(),
  dimension: z.number().int(),
  usage,
};

export const embeddingsResponse = z.strictObject({
  ...embeddingsEnvelope,
  data: z.array(z.strictObject({ object: z.literal('embedding'), index: z.number().int(), embedding: embeddingValue })),
});

export const imageEmbeddingsResponse = z.strictObject({
  ...embeddingsEnvelope,
  data: z.array(
    z.strictObject({
      object: z.literal('embedding'),
      index: z.number().int(),
      filename: z.string(),
      width: z.number().int().optional(),
      height: z.number().int().optional(),
      embedding: embeddingValue,
    }),
  ),
});

const providers = z.strictObject({ image: z.string(), text: z.string() }).describe('The execution provider each tower runs on');

export const modelResponse = z.strictObject({
  id: z.string(),
  object: z.literal('model'),
  created: z.number().int(),
  owned_by: z.string(),
  version: z.string(),
  dimension: z.number().int(),
  layout: z.enum(['lookbook', 'hf-clip', 'openclip']),
  providers,
  context_length: z.number().int(),
  image_size: imageSize,
  default: z.boolean(),
  description: z.string().nullable(),
  versions: z.array(
    z.strictObject({
      version: z.string(),
      base_version: z.string().nullable(),
      kind: z.enum(['base', 'alignment_head']),
      created_at: z.string().nullable(),
      training: z.record(z.string(), z.unknown()).nullable(),
    }),
  ),
});
export const modelListResponse = listOf(modelResponse);

export const healthResponse = z.strictObject({
  status: z.literal('ok'),
  version: z.string(),
  uptime_seconds: z.number().int(),
  default_model: z.string(),
  models: z.array(z.strictObject({ id: z.string(), version: z.string(), dimension: z.number().int(), providers })),
  detector: z.strictObject({ path: z.string(), labels: z.number().int(), input_size: z.number().int(), provider: z.string() }).nullable(),
});

export const readyResponse = z.strictObject({ status: z.enum(['ready', 'shutting_down']), models: z.array(z.string()) });

// Immich's machine-learning request: {"clip": {"visual": {"modelName": …}}} or
// {"clip": {"textual": {"modelName": …, "options": {…}}}} (immich_ml/main.py, get_entries).
const immichEntry = z.object({ modelName: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() });
export const immichEntries = z.record(z.string(), z.record(z.string(), immichEntry));

export const predictForm = z.object({
  entries: z.string().describe('JSON: {"clip": {"visual": {"modelName": …}}} or {"clip": {"textual": {"modelName": …}}}'),
  image: binaryFile.optional(),
  text: z.string().optional(),
});

export const predictResponse = z.strictObject({
  clip: z.string().describe('The embedding as a JSON string, as Immich stores it'),
  imageHeight: z.number().int().optional(),
  imageWidth: z.number().int().optional(),
});
