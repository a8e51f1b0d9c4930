import { Router, type Request } from 'express';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { SceneImage, ShopTheLookService } from '../../services/shop-the-look.service.js';
import type { Upload } from '../multipart.js';
import { jsonField, parseBody } from '../validation.js';

// Multipart fields arrive as strings; JSON bodies as numbers and arrays: accept both.
const number = (min: number, max: number) => z.coerce.number().min(min).max(max);
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
const box = jsonField(z.tuple([z.number(), z.number(), z.number(), z.number()]));
const stringList = jsonField(z.array(z.string().min(1)).min(1));

const detectSchema = z.object({
  image: z.string().min(1).optional(),
  confidence: number(0, 1).optional(),
  iou: number(0, 1).optional(),
  max_objects: z.coerce.number().int().min(1).max(300).optional(),
});

const shopSchema = detectSchema.extend({
  index: z.string().min(1),
  limit: z.coerce.number().int().min(1).max(100).default(5),
  min_score: number(0, 1).optional(),
  min_product_score: number(-1, 1).optional(),
  crop: box.optional(),
  category_filter: flag.default(true),
  categories: stringList.optional(),
});

function sceneOf(req: Request, reference: string | undefined): SceneImage {
  if (req.file) return { kind: 'bytes', bytes: req.file.buffer };
  if (reference) return { kind: 'reference', reference };
  throw new ValidationError('send the scene as "image" (URL, data URI or base64) or as a multipart file named "file"', { param: 'image', code: 'missing_image' });
}

/** `POST /v1/detect` and `POST /v1/shop-the-look`, each taking JSON or a multipart upload. */
export function shopTheLookRouter(deps: { shop: ShopTheLookService; upload: Upload }) {
  const router = Router();

  router.post('/v1/detect', deps.upload.single('file'), async (req, res) => {
    const body = parseBody(detectSchema, req.body ?? {});
    const result = await deps.shop.detect(sceneOf(req, body.image), { confidence: body.confidence, iou: body.iou, maxObjects: body.max_objects }, res.locals.signal);
    if (!res.headersSent) {
      res.json({ ...result, detector: deps.shop.detector?.info.path, objects: result.objects.map(({ bbox, label, score }) => ({ bbox, label, score })) });
    }
  });

  router.post('/v1/shop-the-look', deps.upload.single('file'), async (req, res) => {
    const body = parseBody(shopSchema, req.body ?? {});
    const result = await deps.shop.shop(
      {
        image: sceneOf(req, body.image),
        index: body.index,
        limit: body.limit,
        confidence: body.confidence,
        iou: body.iou,
        maxObjects: body.max_objects,
        minScore: body.min_score,
        minProductScore: body.min_product_score,
        crop: body.crop,
        categoryFilter: body.category_filter,
        categories: body.categories,
      },
      res.locals.signal,
    );
    if (!res.headersSent) res.json(result);
  });

  return router;
}
