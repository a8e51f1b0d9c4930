import { Router, type Request } from 'express';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { CompleteTheLookService, LookSource } from '../../services/complete-the-look.service.js';
import type { Upload } from '../multipart.js';
import { jsonField, parseBody } from '../validation.js';

export const completeTheLookRequest = z.strictObject({
  index: z.string().min(1).describe('The catalog to recommend from'),
  image: z.string().min(1).optional().describe('The scene: URL, data URI or base64 (or a multipart file named "file")'),
  item_id: z.string().min(1).optional().describe('Or an item of the index: its kept image is the scene'),
  categories: jsonField(z.array(z.string().min(1)).min(1)).optional().describe('Only these catalog categories (JSON array in multipart)'),
  limit: z.coerce.number().int().min(1).max(100).default(5).describe('Products per category'),
  exclude_present: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).default(true).describe('Leave out the categories already in the scene'),
});

function sourceOf(req: Request, body: z.infer<typeof completeTheLookRequest>): LookSource {
  const given = [req.file ? 1 : 0, body.image ? 1 : 0, body.item_id ? 1 : 0].reduce((a, b) => a + b, 0);
  if (given !== 1) throw new ValidationError('send one of "image", "item_id" or a multipart file named "file"', { param: 'image', code: given === 0 ? 'missing_image' : 'invalid_request' });
  if (req.file) return { kind: 'bytes', bytes: req.file.buffer };
  if (body.item_id) return { kind: 'item', id: body.item_id };
  return { kind: 'reference', reference: body.image! };
}

/** `POST /v1/complete-the-look`, JSON or multipart. */
export function completeTheLookRouter(deps: { looks: CompleteTheLookService; upload: Upload }) {
  const router = Router();
  router.post('/v1/complete-the-look', deps.upload.single('file'), async (req, res) => {
    const body = parseBody(completeTheLookRequest, req.body ?? {});
    const result = await deps.looks.complete(
      { source: sourceOf(req, body), index: body.index, categories: body.categories as string[] | undefined, limit: body.limit, excludePresent: body.exclude_present },
      res.locals.signal,
    );
    if (!res.headersSent) res.json(result);
  });
  return router;
}
