import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createWorker } from '../queue/chunk-worker.js';
import { HttpOwnerClient, OwnerRefusedError } from '../queue/owner-client.js';
import { RedisLink } from '../queue/redis.js';
import { WorkEmbedder } from '../queue/work-embedder.js';
import { buildEncoding, queueSettings, StartupError } from '../server.js';
import { settleWithin } from '../util/settle.js';

export interface RunningWorker {
  close(): Promise<void>;
}

/**
 * A worker process (`lookbook worker`): loads the models, takes chunks from Redis and hands
 * their vectors to the owner over HTTP. It needs no data directory, so any number can run, on
 * any host that reaches Redis and the owner.
 */
export async function runWorker(config: Config, logger: Logger, options: { ownerUrl: string; concurrency: number; headers?: Record<string, string> }): Promise<RunningWorker> {
  const settings = queueSettings(config);
  if (!settings) throw new StartupError('a worker needs Redis: set LOOKBOOK_REDIS_URL');
  const owner = new HttpOwnerClient(options.ownerUrl, options.headers);
  // Before the models load: a refused key ends the worker in a second.
  await waitForOwner(owner, options.ownerUrl, logger);
  const { registry, images } = await buildEncoding(config, logger);
  const link = new RedisLink(settings, logger); // logs when Redis goes and comes back
  const worker = createWorker({ settings, concurrency: options.concurrency, owner, embedder: new WorkEmbedder({ registry, images }), logger });
  logger.info({ owner: options.ownerUrl, concurrency: options.concurrency, models: registry.ids(), prefix: settings.prefix }, 'worker started');
  return {
    async close() {
      // Chunks in flight finish (briefly); one cut off is taken up again by another worker.
      if (!(await settleWithin(worker.close(), 5_000))) await settleWithin(worker.close(true), 2_000);
      await link.close();
      await registry.close();
      logger.info('worker stopped');
    },
  };
}

/**
 * Before taking any chunk: waits for the owner to answer (it may still be starting, as in a
 * compose file), and stops the worker at once when the owner refuses its key, which otherwise
 * shows only as every chunk of every job refused.
 */
async function waitForOwner(owner: HttpOwnerClient, url: string, logger: Logger, retryMs = 1_000): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await owner.checkAccess();
      return;
    } catch (error) {
      if (error instanceof OwnerRefusedError) {
        throw new StartupError(`the owner at ${url} refused this worker's key (${error.status} ${error.code}): give the worker a key with the write scope (--api-key or LOOKBOOK_API_KEY)`);
      }
      if (attempt % 10 === 0) logger.warn({ owner: url, err: error instanceof Error ? error.message : String(error) }, 'waiting for the owner to answer');
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }
}
