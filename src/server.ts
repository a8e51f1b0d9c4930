import ipaddr from 'ipaddr.js';
import { Redis } from 'ioredis';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type Lifecycle } from './api/app.js';
import type { Config } from './config.js';
import { ModelRegistry } from './encoders/model-registry.js';
import type { Logger } from './logger.js';
import { ImageFetcher, type HostResolver } from './media/image-fetcher.js';
import { Metrics } from './metrics.js';
import { Detector } from './detection/detector.js';
import { BlobStore } from './index/blob-store.js';
import { DataDirLock } from './index/data-dir-lock.js';
import { IndexStore } from './index/index-store.js';
import { GraphStore } from './index/graph-store.js';
import { graphEngine, nativeGraphModule } from './index/native-graph.js';
import { ModelVersions } from './encoders/model-versions.js';
import { ChunkFiles } from './queue/chunk-files.js';
import { createWorker } from './queue/chunk-worker.js';
import { JobQueues } from './queue/job-queues.js';
import { JobStore } from './queue/job-store.js';
import { JobRequests } from './services/job-requests.js';
import { GraphService } from './services/graph.service.js';
import { CategoryMapper, CategoryOverrides } from './services/category-map.service.js';
import { CompleteTheLookService } from './services/complete-the-look.service.js';
import { CompatibilityModel } from './encoders/compatibility-model.js';
import { settleWithin } from './util/settle.js';
import { ShopTheLookService } from './services/shop-the-look.service.js';
import { EmbeddingService } from './services/embedding.service.js';
import { IndexService } from './services/index.service.js';

/** The package version, from the nearest package.json above this module (src/ or dist/src/). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

export const VERSION = packageVersion();

/** A start-up failure whose message says everything (printed without a stack). */
export class StartupError extends Error {
  override name = 'StartupError';
}

export interface ServiceOptions {
  /** DNS resolver for image URLs (tests inject one). */
  resolve?: HostResolver;
}

/** The models, fetcher and encoders that API processes and worker processes both use. */
export async function buildEncoding(config: Config, logger: Logger, options: ServiceOptions = {}) {
  let registry: ModelRegistry | undefined;
  const metrics = new Metrics(() => registry?.queued ?? 0);
  registry = await ModelRegistry.load(config.models.dirs, config.models.defaultModel, {
    providers: config.models.providers,
    intraOpThreads: config.models.intraOpThreads,
    batching: config.batching,
    maxImagePixels: config.limits.maxImagePixels,
    logger,
    observer: metrics,
  });
  const fetcher = config.fetch.enabled
    ? new ImageFetcher({
        timeoutMs: config.fetch.timeoutMs,
        maxBytes: config.limits.maxImageBytes,
        maxRedirects: config.fetch.maxRedirects,
        allowHosts: config.fetch.allowHosts,
        allowPrivate: config.fetch.allowPrivate,
        resolve: options.resolve,
      })
    : undefined;
  return { metrics, registry, fetcher, images: { maxBytes: config.limits.maxImageBytes, fetcher } };
}

/** Refuses to serve without keys on an address other hosts reach, unless LOOKBOOK_AUTH=none says so. */
export function checkExposure(config: Config): void {
  if (config.auth.mode === 'none' && !config.auth.openByChoice && !isLoopback(config.server.host)) {
    throw new StartupError(
      `LOOKBOOK_HOST=${config.server.host} is reachable from other hosts and no LOOKBOOK_API_KEYS are set: set keys (\`lookbook keys create <id> --scopes read\`), or LOOKBOOK_AUTH=none to serve without authentication`,
    );
  }
}

/** Whether a listen address is reachable only from this host. */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const bare = host.replace(/^\[|\]$/g, '');
  return ipaddr.isValid(bare) && ipaddr.process(bare).range() === 'loopback';
}

/** The queue settings of a configuration with Redis, or undefined without. */
export function queueSettings(config: Config) {
  const { redisUrl, prefix, attempts, backoffMs, lockMs } = config.jobs;
  return redisUrl ? { redisUrl, prefix, attempts, backoffMs, lockMs } : undefined;
}

/**
 * Everything the HTTP app uses, assembled from configuration. The process takes the data
 * directory's lock first: one process owns the indexes' files.
 */
export async function buildServices(config: Config, logger: Logger, options: ServiceOptions = {}) {
  mkdirSync(config.dataDir, { recursive: true });
  const lock = DataDirLock.acquire(config.dataDir);
  // Manifests staged by uploads of a previous run that never reached a job.
  rmSync(join(config.dataDir, 'uploads'), { recursive: true, force: true });
  const opened: { close(): unknown }[] = [];
  try {
    const { metrics, registry, fetcher, images } = await buildEncoding(config, logger, options);
    opened.push({ close: () => registry.close() });
    const detector = config.detection.detectorPath
      ? await Detector.load(config.detection.detectorPath, { providers: config.models.providers, intraOpThreads: config.models.intraOpThreads, logger })
      : undefined;
    if (detector) opened.push({ close: () => detector.close() });
    const embeddings = new EmbeddingService({ registry, images });
    const blobs = new BlobStore(config.dataDir);
    opened.push(blobs);
    const store = new IndexStore(config.dataDir, logger, { filterCopyBytesPerItem: config.filterCopyBytesPerItem, filterGraphBytesPerItem: config.filterGraphBytesPerItem, targetRecall: config.searchTargetRecall });
    opened.push(store);
    const versions = new ModelVersions(config.dataDir, logger);
    const graphs = new GraphStore(config.dataDir);
    opened.push(graphs);
    const indexes = new IndexService({ store, registry, images, blobs, keepSources: config.jobs.keepSources, versions });
    const overrides = new CategoryOverrides(config.dataDir);
    opened.push(overrides);
    const categories = new CategoryMapper({ indexes, detector, configured: config.detection.labelCategories, overrides, maxPixels: config.limits.maxImagePixels });
    opened.push(categories);
    const compatibility = config.detection.compatibilityPath
      ? await CompatibilityModel.load(config.detection.compatibilityPath, { providers: config.models.providers, intraOpThreads: config.models.intraOpThreads, logger })
      : undefined;
    if (compatibility) opened.push({ close: () => compatibility.close() });
    const looks = new CompleteTheLookService({ indexes, detector, model: compatibility, categories, images, detection: config.detection, maxPixels: config.limits.maxImagePixels });
    const shop = new ShopTheLookService({ detector, indexes, images, maxPixels: config.limits.maxImagePixels, detection: config.detection, categories });
    const settings = queueSettings(config);
    const queues = settings ? new JobQueues(settings, logger) : undefined;
    if (queues) {
      opened.push(queues);
      // A Redis that answers is usually there within milliseconds; one that does not must not hold the start.
      await queues.link.waitReady(3_000);
    }
    const jobStore = new JobStore(config.dataDir);
    opened.push(jobStore);
    const jobs = new JobRequests({
      store: jobStore,
      files: new ChunkFiles(config.dataDir),
      queues,
      indexes,
      registry,
      blobs,
      images,
      settings: { chunkSize: config.jobs.chunkSize, keepSources: config.jobs.keepSources, manifestMaxBytes: config.jobs.manifestMaxBytes },
      logger,
      graphs,
    });
    const graphService = new GraphService({ graphs, indexes });
    // Rate limits shared through Redis (several API processes, one budget): a connection that fails fast.
    const limiterRedis =
      config.auth.rateLimitStore === 'redis' && config.jobs.redisUrl
        ? new Redis(config.jobs.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: `${config.jobs.prefix}-rate-limits` })
        : undefined;
    if (limiterRedis) {
      limiterRedis.on('error', () => undefined); // the limiter falls back to memory meanwhile
      opened.push({ close: () => limiterRedis.disconnect() });
    }
    // Closed before the job store (the parts close in reverse): input steps still reading a manifest or an index stop first.
    opened.push({ close: () => jobs.service.close() });
    await jobs.start();
    store.removeOrphans();
    if (!settings) logger.info('LOOKBOOK_REDIS_URL=none: background jobs are off');
    // The embedded default: this process also embeds chunks; `lookbook worker` processes can add more.
    const worker =
      settings && config.jobs.workerConcurrency > 0
        ? createWorker({ settings, concurrency: config.jobs.workerConcurrency, owner: jobs.service, embedder: jobs.service.embedder, logger })
        : undefined;
    const close = async () => {
      // Let chunks in flight finish (briefly); a chunk cut off is taken up again by another worker.
      // (With Redis away nothing can finish: close at once.)
      if (worker && !(queues?.ready && (await settleWithin(worker.close(), 5_000)))) await settleWithin(worker.close(true), 1_000);
      for (const part of opened.reverse()) await part.close();
      lock.release();
    };
    return { metrics, registry, fetcher, embeddings, store, indexes, shop, detector, blobs, jobs, queues, worker, versions, graphs, graphService, categories, overrides, looks, limiterRedis, close };
  } catch (error) {
    // A failed start leaves nothing open behind.
    for (const part of opened.reverse()) await Promise.resolve(part.close()).catch(() => undefined);
    lock.release();
    throw error;
  }
}

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  lifecycle: Lifecycle;
  services: Awaited<ReturnType<typeof buildServices>>;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), releases the models. */
  close(): Promise<void>;
}

/** Loads the models, builds the app and listens on the configured host and port (0 for any). */
export async function startServer(config: Config, logger: Logger, options: ServiceOptions = {}): Promise<RunningServer> {
  checkExposure(config);
  const services = await buildServices(config, logger, options);
  const lifecycle: Lifecycle = { shuttingDown: false, closers: new Set() };
  const app = createApp({ config, logger, ...services, lifecycle, version: VERSION });
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      // Express 5 hands a listen error to this callback.
      const listening = app.listen(config.server.port, config.server.host, (error?: Error) => (error ? reject(error) : resolve(listening)));
    });
  } catch (error) {
    await services.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartupError(`port ${config.server.port} on ${config.server.host} is already in use (LOOKBOOK_PORT)`);
    if (code === 'EACCES') throw new StartupError(`no permission to listen on port ${config.server.port} (LOOKBOOK_PORT)`);
    throw error;
  }
  // Node's own header/request timeouts guard slow clients; the app's timeout guards slow work.
  server.requestTimeout = config.server.requestTimeoutMs + 5_000;
  // Node's default (5 s) closes idle connections before the proxies in front do; SIGTERM closes idle ones at once (below).
  server.keepAliveTimeout = config.server.keepAliveTimeoutMs;
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
  // Throws (before any index opens) when LOOKBOOK_GRAPH=native and the addon is not there; says why it falls back otherwise.
  const graph = graphEngine();
  if (graph === 'usearch' && !process.env.LOOKBOOK_GRAPH) logger.warn(`indexes use USearch's own binding: ${nativeGraphModule().why}`);
  // The code scans' kernel (AVX-512's popcount where the CPU has it, unless LOOKBOOK_SCAN_KERNEL=scalar): reported, as the graph is.
  const scanKernel = graph === 'native' ? nativeGraphModule().module?.scanKernel() : undefined;
  logger.info({ url, models: services.registry.ids(), default: services.registry.defaultId, graph, ...(scanKernel && { scanKernel }) }, 'listening');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      lifecycle.shuttingDown = true;
      for (const close of [...lifecycle.closers]) close();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would hold close() open; busy ones finish their request first and
      // are closed once idle (by the sweep: they would otherwise stay open for the keep-alive timeout).
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.server.shutdownTimeoutMs).unref());
      try {
        if ((await Promise.race([stopped, timeout])) === 'timeout') {
          logger.warn('shutdown timeout reached; closing remaining connections');
          server.closeAllConnections();
        }
      } finally {
        clearInterval(sweep);
      }
      await services.close();
      logger.info('stopped');
    })();
    return closing;
  };
  return { server, port, url, lifecycle, services, close };
}
