import { z } from 'zod';
import { isAttributeName } from '../index/catalog.js';
import type { EmbeddingSource, NewItem } from './index.service.js';

/** The largest float32: a larger value becomes Infinity when the vector is stored, and NaN once it is normalized. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** A raw embedding, as an item's or a query's: float32 values, not all zero (it has no direction to compare). */
export const vectorSchema = z
  .array(
    z
      // JSON.parse reads a literal beyond float64 (1e999) as Infinity, which zod refuses as "expected number, received number".
      .number({ error: (issue) => (typeof issue.input === 'number' ? 'is beyond the float32 range (±3.4e38)' : undefined) })
      .refine((x) => Math.abs(x) <= FLOAT32_MAX, { message: 'is beyond the float32 range (±3.4e38)' }),
  )
  .min(1)
  .refine((vector) => vector.some((x) => x !== 0), { message: 'the vector is all zeros: it has no direction to compare' });

/** Text that SQLite stores as it is given: no lone UTF-16 surrogate (it would store U+FFFD in its place, and filters would differ after a restart). */
const storedText = () => z.string().regex(/^[^\uD800-\uDFFF]*$/u, { message: 'holds a lone UTF-16 surrogate (not valid Unicode)' });

/**
 * An object schema that refuses a `__proto__` key instead of dropping it: zod leaves it out of
 * what it returns, so an attribute, a filter or a metadata field of that name vanished without a
 * word (a filter on it matched every item).
 */
export function withoutProtoKey<T extends z.ZodType>(record: T, params?: Record<string, unknown>) {
  // The check comes before the object schema, whose JSON Schema the pipe's input side would lose: it is carried over.
  const { $schema: _, ...shape } = z.toJSONSchema(record, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
  return z
    .unknown()
    .refine((raw) => raw === null || typeof raw !== 'object' || !Object.hasOwn(raw, '__proto__'), { message: '"__proto__" may not be a key', ...(params ? { params } : {}) })
    .pipe(record)
    .meta(shape);
}

/**
 * Attributes: names as {@link isAttributeName} allows, each with a value `value` accepts. An object
 * with any keys checked one by one, not a record: zod's records refuse an object with its own
 * "constructor" key with a message that names neither the key nor the rule.
 */
export function attributesSchema<T extends z.ZodType>(value: T, params?: Record<string, unknown>) {
  return z
    .object({})
    .catchall(value)
    .superRefine((attributes, context) => {
      for (const name of Object.keys(attributes)) {
        if (!isAttributeName(name)) {
          context.addIssue({ code: 'custom', path: [name], message: 'an attribute name has letters, digits, "_", "." and "-", 1 to 64 (not __proto__ or constructor)', ...(params ? { params } : {}) });
        }
      }
    });
}

/**
 * A JSON object with any keys (metadata, and the API's free-form objects). An object, not a
 * record: zod's records refuse an object with its own "constructor" key ("expected record,
 * received object"), metadata of a car maker, say.
 */
export const jsonObject = z.object({}).catchall(z.unknown());

/** How deep an item's metadata may nest: JSON.stringify, which stores it, runs out of stack at a few thousand levels. */
export const MAX_METADATA_DEPTH = 64;

/** Whether `value` nests no deeper than `limit` objects and arrays (walked without recursion, whatever its depth). */
function nestsWithin(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [next, depth] = pending.pop()!;
    if (next === null || typeof next !== 'object') continue;
    if (depth >= limit) return false;
    for (const child of Object.values(next)) pending.push([child, depth + 1]);
  }
  return true;
}

/**
 * An item id: 1 to 256 characters of valid Unicode, except "." and "..": URLs resolve those as
 * path segments (RFC 3986 §5.2.4, and fetch and curl do so even percent-encoded), so
 * `…/items/{id}` could never address such an item. Every other id round-trips through one path
 * segment percent-encoded, "/" as %2F.
 */
export const itemIdSchema = storedText()
  .min(1)
  .max(256)
  .refine((id) => id !== '.' && id !== '..', { message: 'may not be "." or "..": a URL resolves them as path segments, so …/items/{id} could not address the item' })
  .describe('The upsert key: 1 to 256 characters, not "." or ".." (in a path, percent-encoded: "/" as %2F)');

/**
 * One catalog item as clients send it — in `POST /v1/indexes/{name}/items`, inline in a job, or
 * as a line of a JSONL manifest.
 */
export const itemSchema = z
  .strictObject({
    id: itemIdSchema,
    image: z.string().min(1).optional(),
    text: storedText().optional(),
    vector: vectorSchema.optional(),
    model: z.string().optional(),
    model_version: z.string().optional(),
    category: storedText().max(256).nullable().optional(),
    attributes: withoutProtoKey(attributesSchema(z.union([storedText(), z.number(), z.boolean()]))).optional(),
    metadata: withoutProtoKey(jsonObject.refine((metadata) => nestsWithin(metadata, MAX_METADATA_DEPTH), { message: `nests deeper than ${MAX_METADATA_DEPTH} levels` })).optional(),
    source_url: storedText().max(4096).nullable().optional(),
  })
  .refine((item) => item.image !== undefined || item.vector !== undefined || (item.text !== undefined && item.text.trim() !== ''), {
    message: 'an item needs an image, a vector or a text to embed',
  });

export type ItemBody = z.infer<typeof itemSchema>;

export function isUrl(reference: string): boolean {
  return /^https?:\/\//i.test(reference.trim());
}

export function sourceOf(item: Pick<ItemBody, 'image' | 'text' | 'vector' | 'model' | 'model_version'>): EmbeddingSource {
  if (item.vector) return { kind: 'vector', vector: item.vector, model: item.model, modelVersion: item.model_version };
  if (item.image) return { kind: 'image', reference: item.image };
  return { kind: 'text', text: item.text! };
}

export function toNewItem(body: ItemBody, source: EmbeddingSource = sourceOf(body)): NewItem {
  return {
    id: body.id,
    category: body.category,
    attributes: body.attributes,
    metadata: body.metadata,
    text: body.text,
    sourceUrl: body.source_url ?? (body.image && isUrl(body.image) ? body.image.trim() : null),
    source,
  };
}

/** Parses one raw item; a failure names the item (its id, or `fallbackId`) and says what is wrong. */
export function parseItem(raw: unknown, fallbackId: string): { ok: true; item: ItemBody } | { ok: false; id: string; message: string } {
  const result = itemSchema.safeParse(raw);
  if (result.success) return { ok: true, item: result.data };
  const id = raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string' && (raw as { id: string }).id !== '' ? (raw as { id: string }).id : fallbackId;
  // The first few problems: a vector of bad values has one per value.
  const issues = result.error.issues;
  const shown = issues.slice(0, 3).map((issue) => `${issue.path.join('.') || 'item'}: ${issue.message}`);
  const message = [...shown, ...(issues.length > shown.length ? [`and ${issues.length - shown.length} more`] : [])].join('; ');
  return { ok: false, id, message };
}
