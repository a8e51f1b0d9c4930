import { z } from 'zod';
import type { EmbeddingSource, NewItem } from './index.service.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/**
 * One catalog item as clients send it — in `POST /v1/indexes/{name}/items`, inline in a job, or
 * as a line of a JSONL manifest.
 */
export const itemSchema = z
  .strictObject({
    id: z.string().min(1).max(256),
    image: z.string().min(1).optional(),
    text: z.string().optional(),
    vector: z.array(z.number()).min(1).optional(),
    model: z.string().optional(),
    model_version: z.string().optional(),
    category: z.string().max(256).nullable().optional(),
    attributes: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), scalar).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    source_url: z.string().max(4096).nullable().optional(),
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
  const message = result.error.issues.map((issue) => `${issue.path.join('.') || 'item'}: ${issue.message}`).join('; ');
  return { ok: false, id, message };
}
