import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessOf, generateApiKey, sha256Hex } from '../src/api/auth.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { checkExposure, isLoopback } from '../src/server.js';
import { dropPrefix, REDIS_URL, uniquePrefix } from './helpers/jobs.js';
import { readResponse, startTestServer, type TestServer } from './helpers/server.js';

const KEYS = {
  reader: generateApiKey('reader'),
  writer: generateApiKey('writer'),
  ops: generateApiKey('ops'),
  limited: generateApiKey('limited'),
};
const API_KEYS = [
  `reader:read:${sha256Hex(KEYS.reader)}`,
  `writer:read,write:${sha256Hex(KEYS.writer)}`,
  `ops:admin:${sha256Hex(KEYS.ops)}`,
  `limited:read:${sha256Hex(KEYS.limited)}:3/min`,
].join(';');

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ LOOKBOOK_API_KEYS: API_KEYS, LOOKBOOK_CORS_ORIGINS: 'http://localhost:5173' });
});
afterAll(async () => {
  await server?.close();
});

async function call(path: string, init: { method?: string; key?: string; header?: 'bearer' | 'x-api-key'; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.key) headers[init.header === 'x-api-key' ? 'x-api-key' : 'authorization'] = init.header === 'x-api-key' ? init.key : `Bearer ${init.key}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${server.url}${path}`, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  return { ...(await readResponse(response)), headers: response.headers };
}

describe('API keys and scopes', () => {
  it('leaves health, the API description and the web app open', async () => {
    for (const path of ['/healthz', '/readyz', '/openapi.json', '/']) expect((await call(path)).status, path).toBe(200);
  });

  it('answers 401 without a key, with an unknown key or a malformed Authorization header', async () => {
    const missing = await call('/v1/models');
    expect([missing.status, missing.json.error.code, missing.json.error.type]).toEqual([401, 'missing_api_key', 'authentication_error']);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await call('/v1/models', { key: generateApiKey('reader') });
    expect([wrong.status, wrong.json.error.code]).toEqual([401, 'invalid_api_key']);
    const basic = await call('/v1/models', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect([basic.status, basic.json.error.code]).toEqual([401, 'invalid_authorization']);
    // A write without a key is refused before its body is read.
    expect((await call('/v1/indexes', { body: { name: 'x' } })).status).toBe(401);
  });

  it('gives each scope its routes: read, write, admin', async () => {
    // read: GETs and the POSTs that only read, by Bearer or X-API-Key.
    expect((await call('/v1/models', { key: KEYS.reader })).status).toBe(200);
    expect((await call('/v1/embeddings', { key: KEYS.reader, header: 'x-api-key', body: { input: 'a red shoe' } })).status).toBe(200);
    const create = await call('/v1/indexes', { key: KEYS.reader, body: { name: 'shoes' } });
    expect([create.status, create.json.error.code, create.json.error.required_scope]).toEqual([403, 'insufficient_scope', 'write']);
    expect((await call('/metrics', { key: KEYS.reader })).status).toBe(403);
    expect((await call('/v1/worker/chunks/x/y', { key: KEYS.reader })).status).toBe(403);
    // write: creating and changing.
    expect((await call('/v1/indexes', { key: KEYS.writer, body: { name: 'shoes' } })).status).toBe(201);
    expect((await call('/v1/indexes/shoes/items', { key: KEYS.writer, body: { items: [{ id: 'a', text: 'a red shoe' }] } })).json.failed).toBe(0);
    expect((await call('/v1/indexes/shoes/search', { key: KEYS.reader, body: { query: { text: 'shoe' } } })).json.data[0].id).toBe('a');
    expect((await call('/v1/indexes/shoes', { method: 'DELETE', key: KEYS.reader })).status).toBe(403);
    // admin: metrics, and nothing else.
    const metrics = await call('/metrics', { key: KEYS.ops });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('http_requests_total');
    expect((await call('/v1/models', { key: KEYS.ops })).status).toBe(403);
  });

  it('works with the official OpenAI client, which sends the key as a Bearer token', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEYS.reader, maxRetries: 0 });
    const response = await client.embeddings.create({ model: 'lookbook-fixture', input: ['a scarf'] });
    expect(response.data[0]!.embedding).toHaveLength(server.services.registry.get('lookbook-fixture').info.dimension);
    const refused = await new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-not-a-key', maxRetries: 0 }).embeddings.create({ input: 'x', model: 'lookbook-fixture' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("limits a key to its budget with 429 and Retry-After; other keys keep theirs", async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await call('/v1/models', { key: KEYS.limited });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last!.json.error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(last!.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(last!.headers.get('ratelimit-limit')).toBe('3');
    expect(last!.headers.get('ratelimit-remaining')).toBe('0');
    expect((await call('/v1/models', { key: KEYS.reader })).status).toBe(200);
    // Health is never limited.
    expect((await call('/healthz', { key: KEYS.limited })).status).toBe(200);
  });

  it('logs each request with its key id, route, status and latency, never the key', async () => {
    await call('/v1/indexes/shoes/search', { key: KEYS.reader, body: { query: { text: 'shoe' } } });
    const line = server.logs.filter((entry) => entry.key_id === 'reader' && entry.path === '/v1/indexes/shoes/search').at(-1);
    expect(line).toMatchObject({ method: 'POST', route: '/v1/indexes/:name/search', res: { status: 200 } });
    expect(typeof line!.request_id).toBe('string');
    expect(typeof line!.latency_ms).toBe('number');
    const everything = JSON.stringify(server.logs);
    for (const key of Object.values(KEYS)) expect(everything).not.toContain(key);
    expect(everything).not.toContain('sk-not-a-key');
  });

  it('answers CORS preflights for the configured origins without a key', async () => {
    const preflight = await fetch(`${server.url}/v1/embeddings`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const other = await fetch(`${server.url}/v1/models`, { headers: { origin: 'http://evil.example', authorization: `Bearer ${KEYS.reader}` } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('without keys', () => {
  it('on loopback every route is open and key headers are ignored; CORS is off', async () => {
    const open = await startTestServer();
    try {
      const response = await fetch(`${open.url}/v1/models`, { headers: { authorization: 'Bearer whatever', origin: 'http://localhost:5173' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      expect((await fetch(`${open.url}/v1/indexes`, { method: 'POST', headers: { 'x-api-key': 'nonsense', 'content-type': 'application/json' }, body: '{"name":"x"}' })).status).toBe(201);
    } finally {
      await open.close();
    }
  });

  it('refuses to serve a non-loopback address unless LOOKBOOK_AUTH=none says so', async () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'].map(isLoopback)).toEqual([true, true, true, true, true]);
    expect(['0.0.0.0', '::', '192.168.1.10', 'example.com'].map(isLoopback)).toEqual([false, false, false, false]);
    expect(() => checkExposure(loadConfig({ LOOKBOOK_HOST: '0.0.0.0' }))).toThrow(/LOOKBOOK_HOST=0.0.0.0 is reachable from other hosts and no LOOKBOOK_API_KEYS are set/);
    expect(() => checkExposure(loadConfig({ LOOKBOOK_HOST: '0.0.0.0', LOOKBOOK_AUTH: 'none' }))).not.toThrow();
    expect(() => checkExposure(loadConfig({ LOOKBOOK_HOST: '0.0.0.0', LOOKBOOK_API_KEYS: `a:read:${sha256Hex('k')}` }))).not.toThrow();
    // The refusal comes before anything is loaded.
    await expect(startTestServer({ LOOKBOOK_HOST: '0.0.0.0', LOOKBOOK_MODELS: 'models/does-not-exist' })).rejects.toThrow(/no LOOKBOOK_API_KEYS/);
  });
});

describe('configuration of keys', () => {
  it('takes hashes only, reports every bad entry, and refuses contradictions', () => {
    const config = loadConfig({ LOOKBOOK_API_KEYS: ` a:read:${sha256Hex('x')} ;\n b:read,write,admin:${sha256Hex('y').toUpperCase()}:100/s ` });
    expect(config.auth.keys).toEqual([
      { id: 'a', scopes: ['read'], sha256: sha256Hex('x'), rateLimit: undefined },
      { id: 'b', scopes: ['read', 'write', 'admin'], sha256: sha256Hex('y'), rateLimit: { points: 100, seconds: 1 } },
    ]);
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ LOOKBOOK_API_KEYS: 'a:read:lbk_a_plaintextkey' }).join()).toMatch(/SHA-256/);
    expect(problems({ LOOKBOOK_API_KEYS: `a:root:${sha256Hex('x')};b:read:${sha256Hex('y')}:often` })).toHaveLength(2);
    expect(problems({ LOOKBOOK_API_KEYS: `a:read:${sha256Hex('x')};a:read:${sha256Hex('y')}` }).join()).toMatch(/given twice/);
    expect(problems({ LOOKBOOK_AUTH: 'none', LOOKBOOK_API_KEYS: `a:read:${sha256Hex('x')}` }).join()).toMatch(/LOOKBOOK_AUTH="none" with LOOKBOOK_API_KEYS/);
    expect(problems({ LOOKBOOK_AUTH: 'keys' }).join()).toMatch(/needs LOOKBOOK_API_KEYS/);
    expect(problems({ LOOKBOOK_RATE_LIMIT: '10 per second' }).join()).toMatch(/LOOKBOOK_RATE_LIMIT/);
    expect(loadConfig({ LOOKBOOK_RATE_LIMIT: '600/min' }).auth.rateLimit).toEqual({ points: 600, seconds: 60 });
  });

  it('maps routes to scopes', () => {
    expect(accessOf('GET', '/healthz')).toBe('public');
    expect(accessOf('GET', '/assets/app.js')).toBe('public');
    expect(accessOf('GET', '/v1/jobs/1/events')).toBe('read');
    expect(accessOf('POST', '/v1/indexes/a/search/upload')).toBe('read');
    expect(accessOf('POST', '/v1/complete-the-look')).toBe('read');
    expect(accessOf('POST', '/predict')).toBe('read');
    expect(accessOf('PUT', '/v1/indexes/a/categories')).toBe('write');
    expect(accessOf('POST', '/v1/indexes/a/items')).toBe('write');
    expect(accessOf('GET', '/v1/worker/chunks/1/2')).toBe('write');
    expect(accessOf('GET', '/admin/queues')).toBe('admin');
    expect(accessOf('GET', '/metrics')).toBe('admin');
  });
});

describe('rate limits on Redis', () => {
  it('two API processes share one budget per key', async () => {
    const prefix = uniquePrefix('rate');
    const env = { LOOKBOOK_API_KEYS: API_KEYS, LOOKBOOK_RATE_LIMIT_STORE: 'redis', LOOKBOOK_REDIS_URL: REDIS_URL, LOOKBOOK_QUEUE_PREFIX: prefix, LOOKBOOK_WORKER_CONCURRENCY: '0' };
    const a = await startTestServer(env);
    const b = await startTestServer(env);
    try {
      const statuses = [];
      for (const target of [a, b, a, b]) statuses.push((await fetch(`${target.url}/v1/models`, { headers: { authorization: `Bearer ${KEYS.limited}` } })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await a.close();
      await b.close();
      await dropPrefix(prefix);
    }
  });
});
