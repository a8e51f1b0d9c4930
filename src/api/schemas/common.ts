import { z } from 'zod';

/**
 * Schemas every area shares: the error envelope, model references, multipart helpers. The routes
 * parse requests with these schemas, the OpenAPI document is generated from them, and with
 * LOOKBOOK_CHECK_RESPONSES the responses are checked against them (src/api/response-check.ts).
 */

/** `{"error": {message, type, code, param, request_id, …details}}`, the one error envelope. */
export const errorBody = z.strictObject({
  error: z
    .object({
      message: z.string(),
      type: z.string().describe('invalid_request_error, authentication_error, permission_error, not_found_error, conflict_error, rate_limit_error, server_error, service_unavailable_error, …'),
      code: z.string().describe('A stable, machine-readable code (e.g. `invalid_json`, `index_not_found`)'),
      param: z.string().nullable().describe('The request field at fault, when there is one'),
      request_id: z.string().optional(),
    })
    .catchall(z.unknown()),
});

/** A file part of a multipart form (documentation only: multer reads it). */
export const binaryFile = z.any().meta({ type: 'string', format: 'binary' });
export const binaryFiles = z.array(binaryFile);

/** Multipart fields are strings; JSON bodies carry booleans: both are accepted. */
export const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')], { error: 'true or false' });

const decimal = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/**
 * A number in a JSON body, or the same number written in decimal as a multipart field's string:
 * `schema` checks it either way (and documents it). Unlike `z.coerce.number()`, nothing else becomes
 * a number: `true` is not 1, and `""`, `null` or `[]` are not 0.
 */
export const formNumber = <T extends z.ZodType<number>>(schema: T) =>
  z.preprocess((value, ctx) => {
    if (typeof value !== 'string') return value;
    if (decimal.test(value)) return Number(value);
    ctx.addIssue({ code: 'custom', message: `expected a number, received the string ${JSON.stringify(value.slice(0, 40))}` });
    return z.NEVER;
  }, schema);

export const modelRef = z.strictObject({ id: z.string(), version: z.string() });

/** The model an index holds embeddings of. */
export const indexModel = z.strictObject({
  id: z.string(),
  version: z.string(),
  dimension: z.number().int(),
  base: z.string().optional().describe('For an alignment head: the base version it projects'),
});

export { jsonObject } from '../../services/item-input.js';

/** A detected (or given) object's box, `[x1, y1, x2, y2]` in pixels of the EXIF-rotated image. */
export const bbox = z.array(z.number()).length(4).describe('[x1, y1, x2, y2] in pixels of the original, EXIF-rotated image');

export const imageSize = z.strictObject({ width: z.number().int(), height: z.number().int() });

/** `{object: 'list', data}`, OpenAI's list envelope. */
export const listOf = <T extends z.ZodType>(item: T) => z.strictObject({ object: z.literal('list'), data: z.array(item) });


/**
 * A field that holds JSON in a multipart form (a string) and the value itself in a JSON body: a
 * string that is not JSON is a 400 `invalid_json`, then the value must pass `schema`. Such fields are
 * optional: an empty multipart field is a field not given.
 */
export const jsonField = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value, ctx) => {
    if (typeof value !== 'string') return value;
    if (value === '') return undefined;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON', params: { code: 'invalid_json' } });
      return z.NEVER;
    }
  }, schema.optional());
