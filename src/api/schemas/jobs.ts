import { z } from 'zod';
import { JOB_STATES } from '../../queue/job-types.js';
import { binaryFile, binaryFiles, modelRef } from './common.js';

/**
 * The job routes' request and response schemas: the routes parse with them, the tests check
 * real responses against them, and the OpenAPI document is generated from them.
 */

const indexName = z.string().min(1).describe('The index the job works on');

export const ingestRequest = z
  .strictObject({
    type: z.literal('ingest'),
    index: indexName,
    items: z.array(z.unknown()).min(1).optional().describe('Items as `POST /v1/indexes/{name}/items` takes them; bounded by LOOKBOOK_JSON_LIMIT_BYTES, not by the 256 of that route'),
    manifest_url: z.url({ protocol: /^https?$/ }).optional().describe('An http(s) URL of a JSONL manifest (one item per line), fetched by the server under the image-URL rules. One served as a web page (text/html, application/xhtml+xml) or whose first non-blank line is not JSON fails the job (manifest_not_jsonl)'),
    open: z.boolean().optional().describe('Keep the job open for chunks appended with `POST /v1/jobs/{id}/items` until `POST /v1/jobs/{id}/close`'),
  })
  .refine((body) => (body.items !== undefined ? 1 : 0) + (body.manifest_url !== undefined ? 1 : 0) <= 1, { message: 'send items or manifest_url, not both' })
  .refine((body) => body.items !== undefined || body.manifest_url !== undefined || body.open === true, {
    message: 'an ingest job needs items, a manifest_url, a multipart manifest, or open: true (then append chunks)',
  });

export const reembedRequest = z.strictObject({
  type: z.literal('reembed'),
  index: indexName,
  model: z.string().min(1).optional().describe("The model to re-embed with (default: the index's own)"),
  model_version: z.string().min(1).optional().describe('The version (default: the loaded one; a re-embedding to the current model@version rebuilds from the kept sources)'),
});

export const alignRequest = z.strictObject({
  type: z.literal('align'),
  index: indexName,
  rank: z.number().int().min(1).max(512).optional().describe('Rank of the head\'s low-rank update (default 64)'),
  steps: z.number().int().min(1).max(100_000).optional().describe('Most training steps (default 800; training stops earlier once validation stops improving)'),
  batch: z.number().int().min(2).max(4096).optional().describe('Neighbor pairs per step (default 256)'),
  learning_rate: z.number().positive().max(1).optional().describe('Adam learning rate (default 0.005)'),
  temperature: z.number().positive().max(10).optional().describe('Contrastive temperature (default 0.1)'),
  holdout: z.number().min(0).max(0.9).optional().describe('Share of each board\'s memberships held out for validation (default 0.15)'),
  text_weight: z.number().min(0).max(100).optional().describe('Weight of the image–text term (default 2)'),
  anchor_weight: z.number().min(0).max(100).optional().describe('Weight of the term that keeps outputs near the base embeddings (default 1 without texts, 0.25 with)'),
  evaluate_every: z.number().int().min(1).optional().describe('Validation every this many steps (default 40)'),
  patience: z.number().int().min(1).optional().describe('Validations without gain before stopping (default 3)'),
  seed: z.number().int().min(0).optional(),
});

export const jobRequest = z.union([ingestRequest, reembedRequest, alignRequest]);

/** Multipart `POST /v1/jobs`: the fields beside the `manifest` file. */
export const multipartJobFields = z.strictObject({
  type: z.literal('ingest'),
  index: indexName,
  open: z.enum(['true', 'false']).optional().transform((value) => value === 'true'),
});

export const jobForm = z.object({
  type: z.literal('ingest'),
  index: z.string(),
  open: z.enum(['true', 'false']).optional(),
  manifest: binaryFile.describe('JSONL, one item per line (streamed to disk; LOOKBOOK_MANIFEST_MAX_BYTES)'),
});

export const appendRequest = z.strictObject({ items: z.array(z.unknown()).min(1) });
export const appendForm = z.object({
  file: binaryFiles.optional(),
  items: z.string().optional().describe('JSON array of item fields, one per file (ids default to file names)'),
  manifest: binaryFile.optional().describe('JSONL, one item per line'),
});

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  before: z.string().optional().describe('The last job id of the previous page (an id that names no job is refused with 400)'),
  index: z.string().optional(),
  state: z.enum(JOB_STATES).optional(),
});

export const failuresQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.string().regex(/^\d+\.\d+$/).optional().describe("The previous page's `next_after`"),
});


export const jobResponse = z.object({
  id: z.string(),
  object: z.literal('job'),
  type: z.enum(['ingest', 'reembed', 'align']),
  index: z.string(),
  state: z.enum(JOB_STATES),
  open: z.boolean().describe('Still taking appended chunks (or its manifest is still being read)'),
  progress: z.object({
    total: z.number().int().describe('Items taken in so far'),
    done: z.number().int().describe('Items applied to the index (align: training steps done of total)'),
    failed: z.number().int().describe('Items failed for good (see /failures)'),
  }),
  items_per_second: z.number(),
  eta_seconds: z.number().nullable().describe('Null while the total is not known yet (open) or nothing has been done'),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  updated_at: z.string(),
  source_model: modelRef.optional().describe('reembed: the model the index held'),
  target_model: modelRef.optional().describe('reembed: the model it is rebuilt with'),
  result: z.record(z.string(), z.unknown()).nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});

export const jobListResponse = z.object({ object: z.literal('list'), data: z.array(jobResponse), next_before: z.string().nullable() });

export const failuresResponse = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ id: z.string(), code: z.string(), message: z.string() })),
  next_after: z.string().nullable(),
});

/** What a worker sends back for a chunk (vectors as base64 little-endian float32). */
export const chunkResultsRequest = z.strictObject({
  model: z.strictObject({ id: z.string(), version: z.string() }),
  final: z.boolean(),
  vectors: z.array(z.strictObject({ pos: z.number().int().min(0), vector: z.string(), blob: z.string().regex(/^[0-9a-f]{64}$/).optional() })),
  failures: z.array(z.strictObject({ pos: z.number().int().min(0), code: z.string(), message: z.string(), retryable: z.boolean() })),
});

const workSource = z.union([
  z.strictObject({ kind: z.literal('blob'), hash: z.string() }),
  z.strictObject({ kind: z.literal('url'), url: z.string() }),
  z.strictObject({ kind: z.literal('text'), text: z.string() }),
  z.strictObject({ kind: z.literal('vector'), vector: z.array(z.number()) }),
]);

/** What a worker is handed for one chunk (`GET /v1/worker/jobs/{id}/chunks/{chunk}`). */
export const chunkWorkResponse = z.union([
  z.strictObject({
    status: z.literal('ready'),
    jobId: z.string(),
    type: z.enum(['ingest', 'reembed', 'align']),
    index: z.string(),
    chunk: z.number().int(),
    model: modelRef.describe('The model to embed with'),
    items: z.array(z.strictObject({ pos: z.number().int(), id: z.string(), source: workSource })).describe('The items still to do'),
    keepImages: z.boolean().describe('Hand fetched images to the owner to keep'),
  }),
  z.strictObject({ status: z.literal('skip'), reason: z.string() }),
]);

export const chunkResultsResponse = z.strictObject({ pending: z.number().int().describe('Items of the chunk still to do') });
export const blobKeptResponse = z.strictObject({ hash: z.string() });
