import { createHash, randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { ApiKeyEntry, Config, RateLimit, Scope } from '../config.js';
import { AppError } from '../errors.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The id of the API key the request came with (never the key). */
      keyId?: string;
    }
  }
}

/** What a route needs: nothing, or a key with this scope. */
export type Access = 'public' | Scope;

/** POST routes that only read: embedding, searching, detecting, recommending. */
const READING_POSTS = [
  /^\/v1\/embeddings(\/images)?$/,
  /^\/v1\/indexes\/[^/]+\/search(\/upload)?$/,
  /^\/v1\/(detect|shop-the-look|complete-the-look)$/,
  /^\/predict$/,
];

/**
 * The access a request needs, from its method and path alone (before any body is read):
 * `public` for health, the API description and the web app; `admin` for `/admin/*` and
 * `/metrics`; `read` for every GET and the POSTs that only read; `write` for the rest, the worker
 * protocol (which writes into indexes) included.
 */
export function accessOf(method: string, path: string): Access {
  const reading = method === 'GET' || method === 'HEAD';
  if (path === '/healthz' || path === '/readyz' || path === '/ping') return 'public';
  if (path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/')) return 'public';
  if (path === '/metrics' || path === '/admin' || path.startsWith('/admin/')) return 'admin';
  if (path.startsWith('/v1/worker/')) return 'write';
  if (reading && !path.startsWith('/v1/') && path !== '/predict') return 'public'; // the web app and its assets
  if (reading || method === 'OPTIONS') return 'read';
  if (method === 'POST' && READING_POSTS.some((pattern) => pattern.test(path))) return 'read';
  return 'write';
}

export const sha256Hex = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** A new key for `id`: `lbk_<id>_<43 characters>`, 256 random bits. */
export function generateApiKey(id: string): string {
  return `lbk_${id}_${randomBytes(32).toString('base64url')}`;
}

/** The key a request presents: `Authorization: Bearer …` (what the OpenAI SDK sends) or `X-API-Key`. */
function presentedKey(req: Request): string | undefined {
  const authorization = req.get('authorization');
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new AppError(401, 'authentication_error', 'invalid_authorization', 'the Authorization header must be "Bearer <API key>"', { headers: { 'WWW-Authenticate': 'Bearer' } });
    return match[1];
  }
  return req.get('x-api-key')?.trim() || undefined;
}

/**
 * Checks the key of every request that is not public: 401 without a known key, 403 when its
 * scopes do not include the route's. Keys are known only by their SHA-256 (the lookup is by hash,
 * so nothing compares secrets byte by byte). Without keys (`config.auth.mode === 'none'`) every
 * route is open and key headers are ignored.
 */
export function authenticate(auth: Config['auth']) {
  const byHash = new Map<string, ApiKeyEntry>(auth.keys.map((entry) => [entry.sha256, entry]));
  return (req: Request, res: Response, next: NextFunction) => {
    if (auth.mode === 'none') return next();
    const access = accessOf(req.method, req.path);
    if (access === 'public') return next();
    const key = presentedKey(req);
    if (!key) {
      throw new AppError(401, 'authentication_error', 'missing_api_key', 'this route needs an API key: "Authorization: Bearer <key>" or "X-API-Key: <key>"', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    const entry = byHash.get(sha256Hex(key));
    if (!entry) throw new AppError(401, 'authentication_error', 'invalid_api_key', 'the API key is not valid', { headers: { 'WWW-Authenticate': 'Bearer' } });
    res.locals.keyId = entry.id;
    if (!entry.scopes.includes(access)) {
      throw new AppError(403, 'permission_error', 'insufficient_scope', `key ${entry.id} has scope ${entry.scopes.join(', ')}; ${req.method} ${req.path} needs ${access}`, {
        details: { required_scope: access },
      });
    }
    next();
  };
}

/**
 * Per-key request budgets (per client address when the service runs without keys), answered
 * 429 with `Retry-After` and the `RateLimit-*` headers. In memory, or on Redis so that several API
 * processes share one budget; a Redis that does not answer falls back to memory rather than
 * refusing or failing requests.
 */
export function rateLimit(auth: Config['auth'], redis: Redis | undefined, prefix = 'lookbook') {
  const limiters = new Map<string, RateLimiterAbstract>();
  const limiterFor = (limit: RateLimit): RateLimiterAbstract => {
    const name = `${limit.points}/${limit.seconds}`;
    let limiter = limiters.get(name);
    if (!limiter) {
      const options = { points: limit.points, duration: limit.seconds, keyPrefix: `${prefix}:rate:${name}` };
      limiter = redis
        ? new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(options) })
        : new RateLimiterMemory(options);
      limiters.set(name, limiter);
    }
    return limiter;
  };
  const budgets = new Map(auth.keys.map((entry) => [entry.id, entry.rateLimit ?? auth.rateLimit]));
  return async (req: Request, res: Response, next: NextFunction) => {
    if (accessOf(req.method, req.path) === 'public' || req.method === 'OPTIONS') return next();
    const keyId = res.locals.keyId;
    const limit = keyId ? budgets.get(keyId) : auth.rateLimit;
    if (!limit) return next();
    const subject = keyId ? `key:${keyId}` : `ip:${req.socket.remoteAddress ?? 'unknown'}`;
    const headers = (state: RateLimiterRes) => ({
      'RateLimit-Limit': String(limit.points),
      'RateLimit-Remaining': String(Math.max(0, state.remainingPoints)),
      'RateLimit-Reset': String(Math.ceil(state.msBeforeNext / 1000)),
    });
    try {
      const state = await limiterFor(limit).consume(subject);
      res.set(headers(state));
      next();
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) return next(rejection);
      const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      next(
        new AppError(429, 'rate_limit_error', 'rate_limited', `${keyId ? `key ${keyId}` : 'this client'} is over its budget of ${limit.points} requests per ${limit.seconds} s; retry in ${seconds} s`, {
          headers: { ...headers(rejection), 'Retry-After': String(seconds) },
          retryable: true,
        }),
      );
    }
  };
}
