import { join } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { Config } from '../config.js';
import type { ModelRegistry } from '../encoders/model-registry.js';
import { ShuttingDownError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { EmbeddingService } from '../services/embedding.service.js';
import type { JobQueues } from '../queue/job-queues.js';
import type { IndexService } from '../services/index.service.js';
import type { JobRequests } from '../services/job-requests.js';
import type { GraphService } from '../services/graph.service.js';
import type { CategoryMapper, CategoryOverrides } from '../services/category-map.service.js';
import type { CompleteTheLookService } from '../services/complete-the-look.service.js';
import type { ModelVersions } from '../encoders/model-versions.js';
import type { ShopTheLookService } from '../services/shop-the-look.service.js';
import { errorMiddleware, notFoundHandler } from './error-middleware.js';
import type { Lifecycle } from './lifecycle.js';
import { createJobUpload, createUpload } from './multipart.js';
import { openApiDocument } from './openapi.js';
import { operations } from './operations.js';
import { responseCheck } from './response-check.js';
import { requestContext } from './request-context.js';
import { requestLog } from './request-log.js';
import { authenticate, rateLimit } from './auth.js';
import cors from 'cors';
import type { Redis } from 'ioredis';
import { embeddingsRouter } from './routes/embeddings.routes.js';
import { healthRouter } from './routes/health.routes.js';
import { immichRouter } from './routes/immich.routes.js';
import { indexesRouter } from './routes/indexes.routes.js';
import { jobsRouter } from './routes/jobs.routes.js';
import { graphRouter } from './routes/graph.routes.js';
import { categoriesRouter } from './routes/categories.routes.js';
import { workerRouter } from './routes/worker.routes.js';
import { modelsRouter } from './routes/models.routes.js';
import { shopTheLookRouter } from './routes/shop-the-look.routes.js';
import { completeTheLookRouter } from './routes/complete-the-look.routes.js';
import { facetsRouter } from './routes/facets.routes.js';
import { webAppRouter } from './web-app.js';

export type { Lifecycle } from './lifecycle.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  registry: ModelRegistry;
  embeddings: EmbeddingService;
  indexes: IndexService;
  shop: ShopTheLookService;
  jobs: JobRequests;
  graphService: GraphService;
  categories: CategoryMapper;
  looks: CompleteTheLookService;
  overrides: CategoryOverrides;
  versions: ModelVersions;
  /** The BullMQ queues, for the dashboard; undefined without Redis. */
  queues: JobQueues | undefined;
  lifecycle: Lifecycle;
  /** Redis for shared rate limits (LOOKBOOK_RATE_LIMIT_STORE=redis). */
  limiterRedis?: Redis | undefined;
  version: string;
  startedAt?: Date;
}

function metricsMiddleware(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.on('finish', () => {
      // The matched route pattern keeps label cardinality bounded (no ids or garbage paths).
      const route = req.route?.path ? String(req.route.path) : 'unmatched';
      const labels = { method: req.method, route };
      metrics.httpRequests.inc({ ...labels, status: String(res.statusCode) });
      metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
    });
    next();
  };
}

/** Builds the Express app from its parts; it opens no port and holds no global state. */
export function createApp(deps: AppDeps) {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  const upload = createUpload(config.limits);
  const document = openApiDocument(deps.version);

  app.use(requestContext(config.server.requestTimeoutMs));
  app.use(requestLog(logger));
  if (config.server.checkResponses) app.use(responseCheck(operations, logger));
  app.use(metricsMiddleware(deps.metrics));
  if (config.auth.corsOrigins.length > 0) {
    const any = config.auth.corsOrigins.includes('*');
    app.use(
      cors({
        origin: any ? '*' : [...config.auth.corsOrigins],
        allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'X-Request-Id'],
        exposedHeaders: ['X-Request-Id', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
        maxAge: 600,
      }),
    );
  }
  // Keys and budgets before any body is read.
  app.use(authenticate(config.auth));
  app.use(rateLimit(config.auth, deps.limiterRedis, config.jobs.prefix));
  app.use((_req, res, next) => {
    if (deps.lifecycle.shuttingDown) {
      res.setHeader('Connection', 'close');
      next(new ShuttingDownError());
    } else next();
  });
  app.use(express.json({ limit: config.server.jsonLimitBytes }));

  app.use(healthRouter({ registry: deps.registry, metrics: deps.metrics, lifecycle: deps.lifecycle, version: deps.version, detector: deps.shop.detector?.info }));
  app.use(modelsRouter(deps.registry, deps.versions, deps.startedAt ?? new Date()));
  app.use(embeddingsRouter({ embeddings: deps.embeddings, upload, maxInputs: config.limits.maxInputs }));
  app.use(indexesRouter({ indexes: deps.indexes, upload, maxInputs: config.limits.maxInputs, metrics: deps.metrics }));
  app.use(facetsRouter({ indexes: deps.indexes }));
  app.use(shopTheLookRouter({ shop: deps.shop, upload }));
  app.use(completeTheLookRouter({ looks: deps.looks, upload }));
  const documentUpload = createJobUpload(join(config.dataDir, 'uploads'), config.limits, config.jobs.manifestMaxBytes);
  app.use(jobsRouter({ jobs: deps.jobs, upload: documentUpload, closers: deps.lifecycle.closers }));
  app.use(graphRouter({ graphs: deps.graphService, upload: documentUpload }));
  app.use(categoriesRouter({ indexes: deps.indexes, categories: deps.categories, overrides: deps.overrides }));
  app.use(workerRouter({ jobs: deps.jobs.service, maxImageBytes: config.limits.maxImageBytes, jsonLimitBytes: config.server.jsonLimitBytes }));
  if (deps.queues) {
    // Bull Board: the queues' jobs, chunk by chunk, with their tries and errors. Made on the first
    // visit, so a server nobody looks at keeps no dashboard connections to Redis.
    const queues = deps.queues;
    let dashboard: ReturnType<ExpressAdapter['getRouter']> | undefined;
    app.use('/admin/queues', (req, res, next) => {
      if (!dashboard) {
        const board = new ExpressAdapter();
        board.setBasePath('/admin/queues');
        createBullBoard({ queues: queues.dashboardQueues().map((queue) => new BullMQAdapter(queue)), serverAdapter: board, options: { uiConfig: { boardTitle: 'Lookbook jobs' } } });
        dashboard = board.getRouter();
      }
      dashboard(req, res, next);
    });
  }

  app.use(immichRouter({ embeddings: deps.embeddings, upload, logger }));
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(document, { customSiteTitle: 'Lookbook API' }));

  // Last, so API requests never look for a file first.
  app.use(webAppRouter({ version: deps.version }));
  app.use(notFoundHandler);
  app.use(errorMiddleware(logger));
  return app;
}
