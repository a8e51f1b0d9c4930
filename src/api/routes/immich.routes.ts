import { Router } from 'express';
import { z } from 'zod';
import { AppError, ValidationError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { EmbeddingService } from '../../services/embedding.service.js';
import type { Upload } from '../multipart.js';
import { immichEntries as entriesSchema } from '../schemas/embeddings.js';

/**
 * Immich's machine-learning contract, so an Immich server can use Lookbook for smart search:
 * `GET /ping` → `pong`; `POST /predict` answers `{"clip": "[…]"}` (the embedding as a JSON
 * string, as Immich stores it) plus `imageHeight`/`imageWidth` for images. A `modelName` that
 * is not a loaded model id is served by the default model.
 */
export function immichRouter(deps: { embeddings: EmbeddingService; upload: Upload; logger: Logger }) {
  const router = Router();
  router.get('/ping', (_req, res) => {
    res.type('text/plain').send('pong');
  });

  router.post('/predict', deps.upload.fields([{ name: 'image', maxCount: 1 }]), async (req, res) => {
    let entries: z.infer<typeof entriesSchema>;
    try {
      entries = entriesSchema.parse(JSON.parse(String(req.body?.entries ?? '')));
    } catch {
      throw new AppError(422, 'invalid_request_error', 'invalid_entries', 'Invalid request format.', { param: 'entries' });
    }
    const tasks = Object.keys(entries);
    const unsupported = tasks.filter((task) => task !== 'clip');
    if (unsupported.length > 0 || tasks.length === 0) {
      throw new AppError(422, 'invalid_request_error', 'unsupported_task', `Lookbook serves only the "clip" task, not ${unsupported.join(', ') || 'none'}`, {
        param: 'entries',
      });
    }
    const clip = entries.clip!;
    const kind = clip.visual ? 'visual' : clip.textual ? 'textual' : undefined;
    if (!kind) throw new AppError(422, 'invalid_request_error', 'invalid_entries', 'clip needs a "visual" or "textual" entry', { param: 'entries' });
    const requested = clip[kind]!.modelName;
    const modelId = deps.embeddings.hasModel(requested) ? requested : undefined;
    if (!modelId) deps.logger.debug({ requested }, 'immich asked for a model that is not loaded; serving the default');

    const image = (req.files as Record<string, Express.Multer.File[]> | undefined)?.image?.[0];
    const text = typeof req.body?.text === 'string' ? req.body.text : undefined;
    if (kind === 'visual' && !image) throw new ValidationError('Either image or text must be provided', { param: 'image', code: 'missing_input' });
    if (kind === 'textual' && text === undefined) throw new ValidationError('Either image or text must be provided', { param: 'text', code: 'missing_input' });

    const batch = await deps.embeddings.embed(
      [kind === 'visual' ? { kind: 'image-bytes', bytes: image!.buffer } : { kind: 'text', text: text! }],
      modelId,
      res.locals.signal,
    );
    if (res.headersSent) return;
    const body: Record<string, unknown> = { clip: JSON.stringify(Array.from(batch.vectors[0]!)) };
    const size = batch.imageSizes[0];
    if (size) {
      body.imageHeight = size.height;
      body.imageWidth = size.width;
    }
    res.setHeader('X-Lookbook-Model', `${batch.model.id}@${batch.model.version}`);
    res.json(body);
  });
  return router;
}
