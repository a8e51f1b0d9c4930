import { Router, type Request } from 'express';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { EmbeddingBatch, EmbeddingInput, EmbeddingService } from '../../services/embedding.service.js';
import { formatEmbedding, type EncodingFormat } from '../embedding-format.js';
import { embeddingsImagesFields, embeddingsRequest } from '../schemas/embeddings.js';
import type { Upload } from '../multipart.js';
import { parseBody } from '../validation.js';

function toInputs(input: z.infer<typeof embeddingsRequest>['input']): EmbeddingInput[] {
  const items = Array.isArray(input) ? input : [input];
  return items.map((item): EmbeddingInput => {
    if (typeof item === 'string') return { kind: 'text', text: item };
    if ('text' in item) return { kind: 'text', text: item.text };
    return { kind: 'image', reference: item.image };
  });
}

/** OpenAI's `/v1/embeddings` envelope, with Lookbook's extra usage fields. */
export function embeddingsResponse(batch: EmbeddingBatch, format: EncodingFormat) {
  return {
    object: 'list' as const,
    data: batch.vectors.map((vector, index) => ({ object: 'embedding' as const, index, embedding: formatEmbedding(vector, format) })),
    model: batch.model.id,
    model_version: batch.model.version,
    dimension: batch.model.dimension,
    usage: {
      prompt_tokens: batch.usage.promptTokens,
      total_tokens: batch.usage.promptTokens,
      images: batch.usage.images,
      truncated_inputs: batch.usage.truncated,
    },
  };
}

function checkDimensions(requested: number | undefined, actual: number) {
  if (requested !== undefined && requested !== actual) {
    throw new ValidationError(`this model gives ${actual}-dimensional embeddings; dimensions=${requested} is not supported`, {
      param: 'dimensions',
      code: 'unsupported_dimensions',
    });
  }
}

export function embeddingsRouter(deps: { embeddings: EmbeddingService; upload: Upload; maxInputs: number }) {
  const router = Router();

  router.post('/v1/embeddings', async (req, res) => {
    if (Array.isArray(req.body?.input) && req.body.input.some((item: unknown) => Array.isArray(item) || typeof item === 'number')) {
      throw new ValidationError('token-id inputs are not supported; send strings or {"text"}/{"image"} items', {
        param: 'input',
        code: 'unsupported_input',
      });
    }
    const body = parseBody(embeddingsRequest, req.body);
    const inputs = toInputs(body.input);
    if (inputs.length > deps.maxInputs) {
      throw new ValidationError(`at most ${deps.maxInputs} inputs per request, got ${inputs.length}`, { param: 'input', code: 'too_many_inputs' });
    }
    checkDimensions(body.dimensions, deps.embeddings.model(body.model).info.dimension);
    const batch = await deps.embeddings.embed(inputs, body.model, res.locals.signal);
    if (!res.headersSent) res.json(embeddingsResponse(batch, body.encoding_format));
  });

  router.post('/v1/embeddings/images', deps.upload.array('file'), async (req: Request, res) => {
    const fields = parseBody(embeddingsImagesFields, req.body ?? {});
    const files = (req.files ?? []) as Express.Multer.File[];
    if (files.length === 0) {
      throw new ValidationError('send one or more image files in multipart fields named "file"', { param: 'file', code: 'missing_file' });
    }
    const inputs = files.map((file): EmbeddingInput => ({ kind: 'image-bytes', bytes: file.buffer }));
    const batch = await deps.embeddings.embed(inputs, fields.model, res.locals.signal);
    if (!res.headersSent) {
      res.json({
        ...embeddingsResponse(batch, fields.encoding_format),
        data: batch.vectors.map((vector, index) => ({
          object: 'embedding' as const,
          index,
          filename: files[index]!.originalname,
          width: batch.imageSizes[index]?.width,
          height: batch.imageSizes[index]?.height,
          embedding: formatEmbedding(vector, fields.encoding_format),
        })),
      });
    }
  });

  return router;
}
