import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/** Where the queues live and how they behave (from `config.jobs`). */
export interface QueueSettings {
  readonly redisUrl: string;
  /** Prefix of every key, so deployments and test runs share one Redis. */
  readonly prefix: string;
  readonly attempts: number;
  readonly backoffMs: number;
  readonly lockMs: number;
}

/** Reconnect quickly at first, then every two seconds, forever: Redis may come up later. */
function retryStrategy(times: number): number {
  return Math.min(100 * 2 ** times, 2_000);
}

/**
 * Options for the connections BullMQ workers open themselves: retry every command until Redis
 * answers again (`maxRetriesPerRequest: null`, as BullMQ requires for workers), so a worker rides
 * out a Redis restart and reconnects by itself.
 */
export function workerConnection(settings: QueueSettings) {
  return { url: settings.redisUrl, maxRetriesPerRequest: null, retryStrategy, connectionName: `${settings.prefix}-worker` };
}

/**
 * The connection producers use (adding jobs from HTTP requests, reading job state): it fails fast
 * while Redis is away (`enableOfflineQueue: false`) instead of holding requests, and says whether
 * Redis answers now. Its state changes are logged once each, with how to start Redis.
 */
export class RedisLink extends EventEmitter {
  readonly client: Redis;
  private reported: 'up' | 'down' | undefined;

  constructor(
    readonly settings: QueueSettings,
    private readonly logger: Logger,
  ) {
    super();
    this.client = new Redis(settings.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy,
      connectionName: `${settings.prefix}-producer`,
    });
    this.client.on('ready', () => {
      if (this.reported !== 'up') logger.info({ redis: redact(settings.redisUrl) }, 'Redis is up: background jobs are available');
      this.reported = 'up';
      this.emit('ready');
    });
    this.client.on('error', (error: Error) => {
      if (this.reported === 'down') return;
      this.reported = 'down';
      logger.warn(
        { redis: redact(settings.redisUrl), reason: error.message },
        'Redis is not reachable: everything but background jobs is served, and job routes answer 503 until it is. ' +
          'Start one with `redis-server` (or `docker compose up -d redis`), or set LOOKBOOK_REDIS_URL; workers reconnect by themselves',
      );
    });
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Resolves once connected, or false after `ms`. */
  async waitReady(ms: number): Promise<boolean> {
    if (this.ready) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.off('ready', done);
        resolve(false);
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.once('ready', done);
    });
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

/** A Redis URL without its password, for logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
