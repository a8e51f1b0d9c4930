import { z } from 'zod';

/** Execution providers Lookbook knows how to ask ONNX Runtime for, in the order tried. */
export const EXECUTION_PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];

const csv = (value: string): string[] =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');


/** What an API key may do. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** A request budget: `points` requests per `seconds`. */
export interface RateLimit {
  readonly points: number;
  readonly seconds: number;
}

/** One configured API key: only its SHA-256 is known to the service. */
export interface ApiKeyEntry {
  readonly id: string;
  readonly scopes: readonly Scope[];
  /** Lowercase hex SHA-256 of the whole key. */
  readonly sha256: string;
  /** This key's own budget (else the default). */
  readonly rateLimit: RateLimit | undefined;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, sec: 1, second: 1, m: 60, min: 60, minute: 60, h: 3600, hour: 3600, d: 86_400, day: 86_400 };

/** `100/s`, `600/min`, `5000/h`, `20000/day` → a {@link RateLimit}; undefined when malformed. */
export function parseRateLimit(text: string): RateLimit | undefined {
  const match = /^\s*(\d+)\s*\/\s*(\d*)\s*([a-z]+)\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = UNIT_SECONDS[match[3]!.toLowerCase()];
  const points = Number(match[1]);
  const seconds = (match[2] ? Number(match[2]) : 1) * (unit ?? NaN);
  return unit && points >= 1 && seconds >= 1 ? { points, seconds } : undefined;
}

const KEY_ENTRY = 'id:scopes:sha256[:limit], e.g. web:read:3f9a…(64 hex):600/min; scopes read, write, admin joined by ","';

/** `LOOKBOOK_API_KEYS`: entries separated by ";" or whitespace; see {@link KEY_ENTRY}. */
function parseApiKeys(text: string, ctx: z.RefinementCtx): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  for (const raw of text.split(/[;\s]+/).filter((part) => part.length > 0)) {
    const [id, scopes, sha256, limit, ...rest] = raw.split(':');
    const problem = (message: string) => ctx.addIssue({ code: 'custom', message: `${JSON.stringify(raw.slice(0, 24))}…: ${message} (${KEY_ENTRY})` });
    if (!id || !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) problem('the id is letters, digits, "_", "." and "-"');
    else if (!scopes || scopes.split(',').some((scope) => !(SCOPES as readonly string[]).includes(scope))) problem('unknown scope');
    else if (!sha256 || !/^[0-9a-f]{64}$/i.test(sha256)) problem('the key is given as the 64 hex digits of its SHA-256 (`lookbook keys create` prints them), never in clear');
    else if (rest.length > 0 || (limit !== undefined && !parseRateLimit(limit))) problem('the limit is like 600/min');
    else if (entries.some((entry) => entry.id === id)) problem(`key id ${id} is given twice`);
    else entries.push({ id, scopes: [...new Set(scopes.split(','))] as Scope[], sha256: sha256.toLowerCase(), rateLimit: limit ? parseRateLimit(limit) : undefined });
  }
  return entries;
}

const envSchema = z.object({
  LOOKBOOK_HOST: z.string().min(1).default('127.0.0.1'),
  LOOKBOOK_PORT: int(0, 65535).default(8080),
  LOOKBOOK_DATA_DIR: z.string().min(1).default('data'),
  LOOKBOOK_FILTER_COPY_BYTES_PER_ITEM: int(0, 10_000).default(26),
  LOOKBOOK_FILTER_GRAPH_BYTES_PER_ITEM: int(0, 10_000).default(128),
  LOOKBOOK_SEARCH_TARGET_RECALL: z.coerce.number().min(0).lt(1).default(0.99),
  // Read where indexes open their graphs (src/index/native-graph.ts); validated here so that a typo stops the start.
  LOOKBOOK_GRAPH: z.enum(['native', 'usearch']).optional(),
  // Read by the addon as it loads (native/graph.cpp): `scalar` keeps the code scans off AVX-512; validated here as LOOKBOOK_GRAPH is.
  LOOKBOOK_SCAN_KERNEL: z.enum(['avx512', 'scalar']).optional(),
  LOOKBOOK_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOOKBOOK_MODELS: z.string().default('models/lookbook-emoji').transform(csv).pipe(z.array(z.string()).min(1)),
  LOOKBOOK_DEFAULT_MODEL: z.string().min(1).optional(),
  LOOKBOOK_PROVIDERS: z
    .string()
    .default('cuda,webgpu,cpu')
    .transform(csv)
    .pipe(z.array(z.enum(EXECUTION_PROVIDERS)).min(1)),
  LOOKBOOK_INTRA_OP_THREADS: int(0, 256).default(0),
  LOOKBOOK_BATCH_MAX_SIZE: int(1, 1024).default(32),
  LOOKBOOK_BATCH_MAX_WAIT_MS: z.coerce.number().min(0).max(1000).default(50),
  LOOKBOOK_QUEUE_MAX: int(1).default(512),
  LOOKBOOK_REQUEST_TIMEOUT_MS: int(100).default(30_000),
  LOOKBOOK_SHUTDOWN_TIMEOUT_MS: int(0).default(30_000),
  // Longer than the 60 s idle timeout of common load balancers and proxies (nginx's upstream keepalive_timeout, AWS ALB): a
  // server that closes an idle connection first races the next request the proxy sends on it (a 502 or "other side closed").
  LOOKBOOK_KEEP_ALIVE_TIMEOUT_MS: int(1_000, 600_000).default(65_000),
  LOOKBOOK_MAX_INPUTS: int(1, 100_000).default(256),
  LOOKBOOK_MAX_IMAGE_BYTES: int(1).default(20 * 1024 * 1024),
  LOOKBOOK_MAX_IMAGE_PIXELS: int(1).default(50_000_000),
  LOOKBOOK_MAX_FILES: int(1, 10_000).default(64),
  LOOKBOOK_JSON_LIMIT_BYTES: int(1).default(64 * 1024 * 1024),
  LOOKBOOK_CHECK_RESPONSES: bool.default(false),
  LOOKBOOK_FETCH_TIMEOUT_MS: int(1).default(10_000),
  LOOKBOOK_FETCH_MAX_REDIRECTS: int(0, 20).default(3),
  LOOKBOOK_FETCH_ALLOW_HOSTS: z.string().default('').transform(csv),
  LOOKBOOK_FETCH_ALLOW_PRIVATE: bool.default(false),
  LOOKBOOK_FETCH_ENABLED: bool.default(true),
  // The project's detector unless told otherwise; "none" (or empty) runs without one.
  LOOKBOOK_DETECTOR: z
    .string()
    .default('models/lookbook-detector/model.onnx')
    .transform((path) => (path === '' || path.toLowerCase() === 'none' ? undefined : path)),
  // The Complete the Look model unless told otherwise; "none" (or empty) runs without one.
  LOOKBOOK_COMPATIBILITY: z
    .string()
    .default('models/lookbook-ctl/ctl.json')
    .transform((path) => (path === '' || path.toLowerCase() === 'none' ? undefined : path)),
  LOOKBOOK_DETECT_CONFIDENCE: z.coerce.number().min(0).max(1).default(0.25),
  LOOKBOOK_DETECT_IOU: z.coerce.number().min(0).max(1).default(0.45),
  LOOKBOOK_DETECT_MAX_OBJECTS: int(1, 300).default(20),
  LOOKBOOK_CROP_MARGIN: z.coerce.number().min(0).max(1).default(0.1),
  LOOKBOOK_CROP_SQUARE: bool.default(true),
  LOOKBOOK_LABEL_CATEGORIES: z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON: {"detector label": ["catalog category", ...]}' });
        return z.NEVER;
      }
      // zod drops a "__proto__" key from what it returns: a label's categories would vanish without a word.
      if (parsed !== null && typeof parsed === 'object' && Object.hasOwn(parsed, '__proto__')) {
        ctx.addIssue({ code: 'custom', message: '"__proto__" may not be a label' });
        return z.NEVER;
      }
      return parsed;
    })
    // An object with any keys, not a record: zod's records refuse one with its own "constructor" key, a label like any other.
    .pipe(z.object({}).catchall(z.array(z.string()))),
  // Authentication, limits, CORS.
  LOOKBOOK_API_KEYS: z.string().default('').transform(parseApiKeys),
  LOOKBOOK_AUTH: z.enum(['keys', 'none']).optional(),
  LOOKBOOK_RATE_LIMIT: z
    .string()
    .default('')
    .transform((text, ctx) => {
      if (text.trim() === '' || text.trim().toLowerCase() === 'none') return undefined;
      const limit = parseRateLimit(text);
      if (!limit) ctx.addIssue({ code: 'custom', message: 'a budget like 100/s, 600/min or 5000/h, or empty' });
      return limit;
    }),
  LOOKBOOK_RATE_LIMIT_STORE: z.enum(['memory', 'redis']).default('memory'),
  LOOKBOOK_CORS_ORIGINS: z.string().default('').transform(csv),
  // Background jobs (BullMQ). "none" (or empty) runs without Redis: everything but jobs is served.
  LOOKBOOK_REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .transform((url) => (url === '' || url.toLowerCase() === 'none' ? undefined : url))
    .pipe(z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL, or "none"').optional()),
  LOOKBOOK_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." and "-" only').default('lookbook'),
  LOOKBOOK_WORKER_CONCURRENCY: int(0, 64).default(2),
  LOOKBOOK_JOB_CHUNK_SIZE: int(1, 1024).default(64),
  LOOKBOOK_JOB_ATTEMPTS: int(1, 100).default(5),
  LOOKBOOK_JOB_BACKOFF_MS: int(0).default(1_000),
  LOOKBOOK_JOB_LOCK_MS: int(1_000).default(30_000),
  LOOKBOOK_MANIFEST_MAX_BYTES: int(1).default(1024 * 1024 * 1024),
  LOOKBOOK_KEEP_SOURCES: bool.default(true),
  LOOKBOOK_OWNER_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8080'),
});

/** The service's whole configuration, parsed once at start-up. */
export interface Config {
  readonly server: {
    readonly host: string;
    readonly port: number;
    /** Longest time one request may take before it is answered 504. */
    readonly requestTimeoutMs: number;
    /** How long SIGTERM waits for in-flight requests before exiting anyway. */
    readonly shutdownTimeoutMs: number;
    /** How long an idle keep-alive connection stays open after its last response. */
    readonly keepAliveTimeoutMs: number;
    readonly jsonLimitBytes: number;
    /** Check every JSON response against the API contract (a breach becomes a 500); on in the tests. */
    readonly checkResponses: boolean;
  };
  readonly dataDir: string;
  /** Memory for copies of filters' codes laid side by side, per live item of an index (see `FilteredSearchTuning.copyBytesPerItem`); 0 makes none. */
  readonly filterCopyBytesPerItem: number;
  /** Memory for graphs of large filters' own items, per live item of an index (see `FilteredSearchTuning.graphBytesPerItem`); 0 makes none. */
  readonly filterGraphBytesPerItem: number;
  /** The recall@10 whose smallest ef indexes measure on their own queries (see `FilteredSearchTuning.targetRecall`); 0: the ef grows with the index. */
  readonly searchTargetRecall: number;
  readonly logLevel: string;
  readonly models: {
    /** Model directories to load, in order. */
    readonly dirs: readonly string[];
    /** Model id used when a request names none; the first loaded model when unset. */
    readonly defaultModel: string | undefined;
    /** Execution providers to try, in order; the first that loads is used. */
    readonly providers: readonly ExecutionProviderName[];
    /** ONNX Runtime intra-op threads; 0 lets ONNX Runtime decide. */
    readonly intraOpThreads: number;
  };
  readonly batching: {
    readonly maxBatchSize: number;
    readonly maxWaitMs: number;
    /** Inputs waiting for an encoder beyond which requests are refused with 429. */
    readonly maxQueue: number;
  };
  readonly limits: {
    readonly maxInputs: number;
    readonly maxImageBytes: number;
    readonly maxImagePixels: number;
    readonly maxFiles: number;
  };
  readonly detection: {
    /** Path to a YOLO-format ONNX detector; detection routes answer 503 without one. */
    readonly detectorPath: string | undefined;
    readonly confidence: number;
    readonly iou: number;
    readonly maxObjects: number;
    /** Extra context around each crop, as a fraction of the box's width and height. */
    readonly cropMargin: number;
    /** Grow each crop to a square around its box (filled with the model's background outside the image). */
    readonly cropSquare: boolean;
    /** The Complete the Look compatibility model (`ctl.json`); without one, Complete the Look ranks by visual similarity. */
    readonly compatibilityPath: string | undefined;
    /** Catalog categories each detector label matches, for every index (before the mapping derived from each catalog). */
    readonly labelCategories: Readonly<Record<string, readonly string[]>>;
  };
  /** Who may call which route, and how often. */
  readonly auth: {
    /** `keys`: every route but the public ones needs a key; `none`: no authentication. */
    readonly mode: 'keys' | 'none';
    readonly keys: readonly ApiKeyEntry[];
    /** `LOOKBOOK_AUTH=none` was said: serving without keys on a non-loopback address is intended. */
    readonly openByChoice: boolean;
    /** Requests per key (per client address without keys); undefined: no limit unless a key has its own. */
    readonly rateLimit: RateLimit | undefined;
    readonly rateLimitStore: 'memory' | 'redis';
    /** Origins allowed by CORS (`*` for any); empty: CORS off. */
    readonly corsOrigins: readonly string[];
  };
  /** Background jobs on BullMQ. */
  readonly jobs: {
    /** Redis for the queues; undefined runs without jobs. */
    readonly redisUrl: string | undefined;
    /** Prefix of every queue key, so deployments and test runs can share one Redis. */
    readonly prefix: string;
    /** Chunks the in-process worker embeds at once; 0 runs no worker in the API process. */
    readonly workerConcurrency: number;
    /** Most items per chunk (one flow child each). */
    readonly chunkSize: number;
    /** Tries per chunk before its remaining items fail. */
    readonly attempts: number;
    /** First retry delay; doubles with each try. */
    readonly backoffMs: number;
    /** How long a worker's hold on a chunk lasts unrenewed: a killed worker's chunk goes to another after about this long. */
    readonly lockMs: number;
    /** Largest manifest, uploaded or fetched. */
    readonly manifestMaxBytes: number;
    /** Keep every indexed image (content-addressed) so indexes can be re-embedded. */
    readonly keepSources: boolean;
    /** Where a separate worker process finds the API process that owns the indexes. */
    readonly ownerUrl: string;
  };
  readonly fetch: {
    readonly enabled: boolean;
    readonly timeoutMs: number;
    readonly maxRedirects: number;
    /** Exact `host` or `host:port` entries that may be fetched even when they resolve to private addresses. */
    readonly allowHosts: readonly string[];
    /** Allow every private, loopback and link-local address (only for closed networks). */
    readonly allowPrivate: boolean;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Parses the environment into a frozen {@link Config}. Every bad variable is reported at once
 * in one {@link ConfigError}, so a deployment is fixed in one round.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '');
        return `${name}=${JSON.stringify(env[name] ?? '')}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  if (e.LOOKBOOK_AUTH === 'none' && e.LOOKBOOK_API_KEYS.length > 0) {
    throw new ConfigError(['LOOKBOOK_AUTH="none" with LOOKBOOK_API_KEYS set: remove the keys, or LOOKBOOK_AUTH']);
  }
  if (e.LOOKBOOK_RATE_LIMIT_STORE === 'redis' && !e.LOOKBOOK_REDIS_URL) {
    throw new ConfigError(['LOOKBOOK_RATE_LIMIT_STORE="redis" needs LOOKBOOK_REDIS_URL']);
  }
  if (e.LOOKBOOK_AUTH === 'keys' && e.LOOKBOOK_API_KEYS.length === 0) {
    throw new ConfigError(['LOOKBOOK_AUTH="keys" needs LOOKBOOK_API_KEYS (create one with `lookbook keys create <id> --scopes read`)']);
  }
  return deepFreeze({
    server: {
      host: e.LOOKBOOK_HOST,
      port: e.LOOKBOOK_PORT,
      requestTimeoutMs: e.LOOKBOOK_REQUEST_TIMEOUT_MS,
      shutdownTimeoutMs: e.LOOKBOOK_SHUTDOWN_TIMEOUT_MS,
      keepAliveTimeoutMs: e.LOOKBOOK_KEEP_ALIVE_TIMEOUT_MS,
      jsonLimitBytes: e.LOOKBOOK_JSON_LIMIT_BYTES,
      checkResponses: e.LOOKBOOK_CHECK_RESPONSES,
    },
    dataDir: e.LOOKBOOK_DATA_DIR,
    filterCopyBytesPerItem: e.LOOKBOOK_FILTER_COPY_BYTES_PER_ITEM,
    filterGraphBytesPerItem: e.LOOKBOOK_FILTER_GRAPH_BYTES_PER_ITEM,
    searchTargetRecall: e.LOOKBOOK_SEARCH_TARGET_RECALL,
    logLevel: e.LOOKBOOK_LOG_LEVEL,
    models: {
      dirs: e.LOOKBOOK_MODELS,
      defaultModel: e.LOOKBOOK_DEFAULT_MODEL,
      providers: e.LOOKBOOK_PROVIDERS,
      intraOpThreads: e.LOOKBOOK_INTRA_OP_THREADS,
    },
    batching: {
      maxBatchSize: e.LOOKBOOK_BATCH_MAX_SIZE,
      maxWaitMs: e.LOOKBOOK_BATCH_MAX_WAIT_MS,
      maxQueue: e.LOOKBOOK_QUEUE_MAX,
    },
    limits: {
      maxInputs: e.LOOKBOOK_MAX_INPUTS,
      maxImageBytes: e.LOOKBOOK_MAX_IMAGE_BYTES,
      maxImagePixels: e.LOOKBOOK_MAX_IMAGE_PIXELS,
      maxFiles: e.LOOKBOOK_MAX_FILES,
    },
    detection: {
      detectorPath: e.LOOKBOOK_DETECTOR,
      confidence: e.LOOKBOOK_DETECT_CONFIDENCE,
      iou: e.LOOKBOOK_DETECT_IOU,
      maxObjects: e.LOOKBOOK_DETECT_MAX_OBJECTS,
      cropMargin: e.LOOKBOOK_CROP_MARGIN,
      cropSquare: e.LOOKBOOK_CROP_SQUARE,
      labelCategories: e.LOOKBOOK_LABEL_CATEGORIES,
      compatibilityPath: e.LOOKBOOK_COMPATIBILITY,
    },
    auth: {
      mode: e.LOOKBOOK_API_KEYS.length > 0 ? 'keys' : 'none',
      keys: e.LOOKBOOK_API_KEYS,
      openByChoice: e.LOOKBOOK_AUTH === 'none',
      rateLimit: e.LOOKBOOK_RATE_LIMIT,
      rateLimitStore: e.LOOKBOOK_RATE_LIMIT_STORE,
      corsOrigins: e.LOOKBOOK_CORS_ORIGINS,
    },
    jobs: {
      redisUrl: e.LOOKBOOK_REDIS_URL,
      prefix: e.LOOKBOOK_QUEUE_PREFIX,
      workerConcurrency: e.LOOKBOOK_WORKER_CONCURRENCY,
      chunkSize: e.LOOKBOOK_JOB_CHUNK_SIZE,
      attempts: e.LOOKBOOK_JOB_ATTEMPTS,
      backoffMs: e.LOOKBOOK_JOB_BACKOFF_MS,
      lockMs: e.LOOKBOOK_JOB_LOCK_MS,
      manifestMaxBytes: e.LOOKBOOK_MANIFEST_MAX_BYTES,
      keepSources: e.LOOKBOOK_KEEP_SOURCES,
      ownerUrl: e.LOOKBOOK_OWNER_URL.replace(/\/+$/, ''),
    },
    fetch: {
      enabled: e.LOOKBOOK_FETCH_ENABLED,
      timeoutMs: e.LOOKBOOK_FETCH_TIMEOUT_MS,
      maxRedirects: e.LOOKBOOK_FETCH_MAX_REDIRECTS,
      allowHosts: e.LOOKBOOK_FETCH_ALLOW_HOSTS,
      allowPrivate: e.LOOKBOOK_FETCH_ALLOW_PRIVATE,
    },
  });
}
