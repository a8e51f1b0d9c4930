import { Router } from 'express';
import type { ModelInfo } from '../../encoders/dual-encoder.js';
import type { ModelRegistry } from '../../encoders/model-registry.js';

function describeModel(info: ModelInfo, isDefault: boolean, created: number) {
  return {
    id: info.id,
    object: 'model' as const,
    created,
    owned_by: 'lookbook',
    version: info.version,
    dimension: info.dimension,
    layout: info.layout,
    providers: info.providers,
    context_length: info.contextLength,
    image_size: info.imageSize,
    default: isDefault,
    description: info.description ?? null,
  };
}

/** `GET /v1/models` (OpenAI's list shape) and `GET /v1/models/{id}`. */
export function modelsRouter(registry: ModelRegistry, startedAt: Date) {
  const router = Router();
  const created = Math.floor(startedAt.getTime() / 1000);
  router.get('/v1/models', (_req, res) => {
    res.json({ object: 'list', data: registry.list().map((info) => describeModel(info, info.id === registry.defaultId, created)) });
  });
  router.get('/v1/models/:id', (req, res) => {
    const info = registry.get(req.params.id).info;
    res.json(describeModel(info, info.id === registry.defaultId, created));
  });
  return router;
}
