import { existsSync, mkdirSync, readFileSync } from 'node:fs';
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
import { IndexStore } from './index/index-store.js';
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

export interface ServiceOptions {
  /** DNS resolver for image URLs (tests inject one). */
  resolve?: HostResolver;
}

/** Everything the HTTP app and workers use, assembled from configuration. */
export async function buildServices(config: Config, logger: Logger, options: ServiceOptions = {}) {
  mkdirSync(config.dataDir, { recursive: true });
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
  let detector: Detector | undefined;
  try {
    detector = config.detection.detectorPath
      ? await Detector.load(config.detection.detectorPath, { providers: config.models.providers, intraOpThreads: config.models.intraOpThreads, logger })
      : undefined;
  } catch (error) {
    await registry.close(); // a failed start leaves nothing loaded behind
    throw error;
  }
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
  const images = { maxBytes: config.limits.maxImageBytes, fetcher };
  const embeddings = new EmbeddingService({ registry, images });
  const store = new IndexStore(config.dataDir, logger);
  const indexes = new IndexService({ store, registry, images });
  const shop = new ShopTheLookService({ detector, indexes, images, maxPixels: config.limits.maxImagePixels, detection: config.detection });
  return { metrics, registry, fetcher, embeddings, store, indexes, shop, detector };
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
  const services = await buildServices(config, logger, options);
  const lifecycle: Lifecycle = { shuttingDown: false };
  const app = createApp({ config, logger, ...services, lifecycle, version: VERSION });
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(config.server.port, config.server.host, () => resolve(listening));
    listening.once('error', reject);
  });
  // Node's own header/request timeouts guard slow clients; the app's timeout guards slow work.
  server.requestTimeout = config.server.requestTimeoutMs + 5_000;
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
  logger.info({ url, models: services.registry.ids(), default: services.registry.defaultId }, 'listening');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      lifecycle.shuttingDown = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would hold close() open; busy ones finish their request first.
      server.closeIdleConnections();
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.server.shutdownTimeoutMs).unref());
      if ((await Promise.race([stopped, timeout])) === 'timeout') {
        logger.warn('shutdown timeout reached; closing remaining connections');
        server.closeAllConnections();
      }
      services.store.close();
      await services.detector?.close();
      await services.registry.close();
      logger.info('stopped');
    })();
    return closing;
  };
  return { server, port, url, lifecycle, services, close };
}
