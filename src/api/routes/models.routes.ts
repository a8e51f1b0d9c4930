import { Router } from 'express';
import type { ModelInfo } from '../../encoders/dual-encoder.js';
import type { ModelRegistry } from '../../encoders/model-registry.js';
import type { ModelVersions } from '../../encoders/model-versions.js';

/** The versions of a model: its base (loaded) and the alignment heads learnt on it. */
function describeVersions(info: ModelInfo, versions: ModelVersions) {
  return [
    { version: info.version, base_version: null, kind: 'base' as const, created_at: null, training: null },
    ...versions
      .list(info.id)
      .filter((entry) => entry.baseVersion === info.version)
      .map((entry) => ({ version: entry.version, base_version: entry.baseVersion, kind: 'alignment_head' as const, created_at: entry.createdAt, training: entry.training })),
  ];
}

function describeModel(info: ModelInfo, isDefault: boolean, created: number, versions: ModelVersions) {
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
    versions: describeVersions(info, versions),
  };
}

/** `GET /v1/models` (OpenAI's list shape) and `GET /v1/models/{id}`. */
export function modelsRouter(registry: ModelRegistry, versions: ModelVersions, startedAt: Date) {
  const router = Router();
  const created = Math.floor(startedAt.getTime() / 1000);
  router.get('/v1/models', (_req, res) => {
    res.json({ object: 'list', data: registry.list().map((info) => describeModel(info, info.id === registry.defaultId, created, versions)) });
  });
  router.get('/v1/models/:id', (req, res) => {
    const info = registry.get(req.params.id).info;
    res.json(describeModel(info, info.id === registry.defaultId, created, versions));
  });
  return router;
}
