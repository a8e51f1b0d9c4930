import { Router } from 'express';
import type { ModelRegistry } from '../../encoders/model-registry.js';
import type { DetectorInfo } from '../../detection/detector.js';
import type { Metrics } from '../../metrics.js';
import type { Lifecycle } from '../lifecycle.js';

/** Liveness, readiness and Prometheus metrics. */
export function healthRouter(deps: { registry: ModelRegistry; metrics: Metrics; lifecycle: Lifecycle; version: string; detector: DetectorInfo | undefined }) {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({
      status: 'ok',
      version: deps.version,
      uptime_seconds: Math.round(process.uptime()),
      default_model: deps.registry.defaultId,
      models: deps.registry.list().map((info) => ({ id: info.id, version: info.version, dimension: info.dimension, providers: info.providers })),
      detector: deps.detector ? { path: deps.detector.path, labels: deps.detector.labels.length, input_size: deps.detector.inputSize, provider: deps.detector.provider } : null,
    });
  });
  router.get('/readyz', (_req, res) => {
    const ready = !deps.lifecycle.shuttingDown;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'shutting_down', models: deps.registry.ids() });
  });
  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });
  return router;
}
