import { Router, type Request } from 'express';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { CompleteTheLookService, LookSource } from '../../services/complete-the-look.service.js';
import type { Upload } from '../multipart.js';
import { completeTheLookRequest } from '../schemas/looks.js';
import { parseBody } from '../validation.js';

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
