import { Router, type Request } from 'express';
import { ValidationError } from '../../errors.js';
import type { SceneImage, ShopTheLookService } from '../../services/shop-the-look.service.js';
import type { Upload } from '../multipart.js';
import { detectRequest, shopTheLookRequest } from '../schemas/looks.js';
import { parseBody } from '../validation.js';

function sceneOf(req: Request, reference: string | undefined): SceneImage {
  if (req.file) return { kind: 'bytes', bytes: req.file.buffer };
  if (reference) return { kind: 'reference', reference };
  throw new ValidationError('send the scene as "image" (URL, data URI or base64) or as a multipart file named "file"', { param: 'image', code: 'missing_image' });
}

/** `POST /v1/detect` and `POST /v1/shop-the-look`, each taking JSON or a multipart upload. */
export function shopTheLookRouter(deps: { shop: ShopTheLookService; upload: Upload }) {
  const router = Router();

  router.post('/v1/detect', deps.upload.single('file'), async (req, res) => {
    const body = parseBody(detectRequest, req.body ?? {});
    const result = await deps.shop.detect(sceneOf(req, body.image), { confidence: body.confidence, iou: body.iou, maxObjects: body.max_objects }, res.locals.signal);
    if (!res.headersSent) {
      res.json({ ...result, detector: deps.shop.detector?.info.path, objects: result.objects.map(({ bbox, label, score }) => ({ bbox, label, score })) });
    }
  });

  router.post('/v1/shop-the-look', deps.upload.single('file'), async (req, res) => {
    const body = parseBody(shopTheLookRequest, req.body ?? {});
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
