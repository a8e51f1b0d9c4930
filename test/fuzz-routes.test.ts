import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { expressPath, type Operation } from '../src/api/contract.js';
import { operations } from '../src/api/operations.js';
import { errorBody } from '../src/api/schemas/common.js';
import { gradientJpeg, dataUri } from './helpers/images.js';
import { startJobServer, type JobServer } from './helpers/jobs.js';

/**
 * Bad input never reaches a 5xx: for every route of the contract, a seeded fast-check property
 * sends its valid request with one part made malformed — a field set to a value of another type,
 * out of range, a broken JSON or data: string, a field left out, an unknown field, junk file bytes,
 * a junk path parameter — and asserts an answer below 500, the error envelope on every 4xx, a
 * 4xx whenever the route's own request schema refuses the body, and a live process. The fields
 * come from the routes' zod schemas (their JSON Schema), so a field added to a schema is fuzzed too.
 */
const RUNS = Number(process.env.LOOKBOOK_FUZZ_RUNS ?? 12);
const SEED = Number(process.env.LOOKBOOK_FUZZ_SEED ?? 20261201);
const DETECTOR = 'test/fixtures/models/yolo-handmade/model.onnx';

type Json = unknown;
interface Case {
  params: Record<string, string>;
  query?: Record<string, string>;
  json?: Record<string, Json>;
  form?: { fields: Record<string, string>; files: Record<string, Buffer> };
  raw?: Buffer;
  /** Items are validated one by one: a bad item is reported in a 200 (or a job's failures), not refused. */
  perItem?: boolean;
}

const junkStrings = ['', ' ', '%zz', 'data:image/png;base64,@@@', 'data:,%E0%A4%A', 'data:image/jpeg,%ff%d8%ff', '\u0000', '../../etc/passwd', 'x'.repeat(5000), '[1,2', '{"a":', 'true', 'NaN', '-1', '1e400', '[0,0,-5,"a"]', '{"category":[{}]}', '{"attributes":{"bad name!":1}}'];
const junkString = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom(...junkStrings), fc.json({ maxDepth: 2 }));
const junkValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1e9, max: 1e9 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-1, 0, 0.5, 1e308, -1e308, 2 ** 53 + 1),
  junkString,
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null), fc.constant({})), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null)), { maxKeys: 4 }),
);

/** Field paths of a request schema: its properties, and one level into the object-valued ones the base request holds. */
function fieldPaths(schema: z.ZodType | undefined, base: Record<string, Json>): string[][] {
  const json = schema ? (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown>; anyOf?: { properties?: Record<string, unknown> }[] }) : {};
  const names = new Set([...Object.keys(json.properties ?? {}), ...(json.anyOf ?? []).flatMap((option) => Object.keys(option.properties ?? {})), ...Object.keys(base)]);
  const paths = [...names].map((name) => [name]);
  for (const [name, value] of Object.entries(base)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) for (const key of Object.keys(value)) paths.push([name, key]);
    if (Array.isArray(value) && value[0] && typeof value[0] === 'object' && !Array.isArray(value[0])) for (const key of Object.keys(value[0] as object)) paths.push([name, '0', key]);
  }
  return paths;
}

function setPath(body: Record<string, Json>, path: string[], value: Json | undefined): Record<string, Json> {
  const copy = structuredClone(body);
  let node = copy as Record<string, Json>;
  for (const key of path.slice(0, -1)) {
    if (!node[key] || typeof node[key] !== 'object') node[key] = {};
    node = node[key] as Record<string, Json>;
  }
  if (value === undefined) delete node[path.at(-1)!];
  else node[path.at(-1)!] = value;
  return copy;
}

type Mutation =
  | { kind: 'field'; path: string[]; value: Json | undefined }
  | { kind: 'unknown'; value: Json }
  | { kind: 'body'; value: Json }
  | { kind: 'text'; text: string }
  | { kind: 'form-field'; name: string; value: string | undefined }
  | { kind: 'file'; name: string; bytes: Uint8Array | undefined }
  | { kind: 'param'; name: string; value: string }
  | { kind: 'query'; name: string; value: string | undefined };

function mutations(operation: Operation, base: Case): fc.Arbitrary<Mutation> {
  const options: fc.Arbitrary<Mutation>[] = [];
  const params = Object.keys(base.params);
  if (params.length > 0) options.push(fc.record({ kind: fc.constant('param' as const), name: fc.constantFrom(...params), value: fc.oneof(junkString, fc.constantFrom('nope', '%', '..', 'a'.repeat(300))) }));
  if (base.json) {
    const paths = fieldPaths(operation.body?.json, base.json);
    options.push(
      fc.record({ kind: fc.constant('field' as const), path: fc.constantFrom(...paths), value: fc.option(junkValue, { nil: undefined, freq: 5 }) }),
      fc.record({ kind: fc.constant('unknown' as const), value: junkValue }),
      fc.record({ kind: fc.constant('body' as const), value: fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 10 }), fc.array(junkValue, { maxLength: 3 })) }),
      fc.record({ kind: fc.constant('text' as const), text: fc.constantFrom('{', '{"a":1,}', 'nul', '\u0000', '{"input": "x"') }),
    );
  }
  if (base.form) {
    const schema = operation.body?.multipart ? (z.toJSONSchema(operation.body.multipart, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown> }) : {};
    const fields = [...new Set([...Object.keys(base.form.fields), ...Object.keys(schema.properties ?? {}).filter((name) => !(name in base.form!.files))])];
    if (fields.length > 0) options.push(fc.record({ kind: fc.constant('form-field' as const), name: fc.constantFrom(...fields), value: fc.option(junkString, { nil: undefined, freq: 5 }) }));
    const files = Object.keys(base.form.files);
    if (files.length > 0) options.push(fc.record({ kind: fc.constant('file' as const), name: fc.constantFrom(...files, 'unexpected'), bytes: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: undefined, freq: 4 }) }));
  }
  if (base.query) {
    const schema = operation.query ? (z.toJSONSchema(operation.query, { io: 'input' }) as { properties?: Record<string, unknown> }) : {};
    const names = [...new Set([...Object.keys(base.query), ...Object.keys(schema.properties ?? {})])];
    options.push(fc.record({ kind: fc.constant('query' as const), name: fc.constantFrom(...names), value: fc.option(junkString, { nil: undefined, freq: 5 }) }));
  }
  if (base.raw) options.push(fc.record({ kind: fc.constant('body' as const), value: fc.uint8Array({ maxLength: 64 }) }));
  return fc.oneof(...options);
}

/** The request a case and a mutation make; `refused` when the route's own request schema must refuse it. */
function request(operation: Operation, base: Case, mutation: Mutation) {
  const params = { ...base.params };
  let query = base.query ? { ...base.query } : undefined;
  let json = base.json;
  let text: string | undefined;
  const form = base.form ? { fields: { ...base.form.fields }, files: { ...base.form.files } as Record<string, Uint8Array | undefined> } : undefined;
  let raw: Uint8Array | undefined = base.raw;
  switch (mutation.kind) {
    case 'param': params[mutation.name] = mutation.value; break;
    case 'field': json = setPath(json!, mutation.path, mutation.value); break;
    case 'unknown': json = { ...json, unknown_field_xyz: mutation.value }; break;
    case 'body': if (base.raw) raw = mutation.value as Uint8Array; else { text = JSON.stringify(mutation.value); json = undefined; } break;
    case 'text': text = mutation.text; json = undefined; break;
    case 'form-field': if (mutation.value === undefined) delete form!.fields[mutation.name]; else form!.fields[mutation.name] = mutation.value; break;
    case 'file': form!.files[mutation.name] = mutation.bytes; break;
    case 'query': if (mutation.value === undefined) delete query![mutation.name]; else query = { ...query, [mutation.name]: mutation.value }; break;
  }
  const path = operation.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(params[name]!));
  const search = query ? `?${new URLSearchParams(query)}` : '';
  let body: BodyInit | undefined;
  const headers: Record<string, string> = {};
  if (json !== undefined || text !== undefined) {
    body = text ?? JSON.stringify(json);
    headers['content-type'] = 'application/json';
  } else if (form) {
    const data = new FormData();
    for (const [name, value] of Object.entries(form.fields)) data.append(name, value);
    for (const [name, bytes] of Object.entries(form.files)) if (bytes) data.append(name, new Blob([bytes]), `${name}.jpg`);
    body = data;
  } else if (raw) {
    body = raw;
    headers['content-type'] = 'application/octet-stream';
  }
  const schema = operation.body?.json;
  const refused = (mutation.kind === 'field' || mutation.kind === 'unknown' || mutation.kind === 'body' || mutation.kind === 'text') && schema !== undefined && !base.raw && (text !== undefined || !schema.safeParse(json).success);
  // A malformed item (not the envelope) of a route that validates items one by one is reported, not refused.
  const itemOnly = base.perItem === true && mutation.kind === 'field' && mutation.path[0] === 'items' && mutation.path.length > 1;
  return { url: `${path}${search}`, init: { method: operation.method.toUpperCase(), headers, body }, refused: refused && !itemOnly, itemRefused: refused && itemOnly };
}

let server: JobServer;
const cases = new Map<string, Case>();

beforeAll(async () => {
  server = await startJobServer({ LOOKBOOK_DETECTOR: DETECTOR, LOOKBOOK_JOB_CHUNK_SIZE: '4' });
  const jpeg = await gradientJpeg(96, 72, 3);
  const uri = dataUri(jpeg);
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status, path).toBeLessThan(300);
    return response.json();
  };
  await post('/v1/indexes', { name: 'shop' });
  await post('/v1/indexes/shop/items', {
    items: [
      { id: 'item-1', text: 'red running shoe', category: 'shoes', attributes: { color: 'red' } },
      { id: 'item-2', text: 'blue leather bag', category: 'bags', attributes: { color: 'blue' } },
      { id: 'item-3', image: uri, category: 'shirts', attributes: { color: 'green' } },
    ],
  });
  const job = await post('/v1/jobs', { type: 'ingest', index: 'shop', open: true });
  const name = { name: 'shop' };
  const model = { id: 'lookbook-fixture', version: '0.0.1' };
  const add = (method: string, path: string, c: Case) => cases.set(`${method} ${path}`, c);
  add('post', '/v1/embeddings', { params: {}, json: { input: ['red shoe', { text: 'bag' }, { image: uri }], model: 'lookbook-fixture', encoding_format: 'float', dimensions: 512, user: 'u' } });
  add('post', '/v1/embeddings/images', { params: {}, form: { fields: { model: 'lookbook-fixture', encoding_format: 'base64' }, files: { file: jpeg } } });
  add('post', '/v1/indexes', { params: {}, json: { name: 'fuzz-new', model: 'lookbook-fixture', vector_storage: 'f16', connectivity: 8, expansion_add: 64, expansion_search: 32, exact_threshold: 100 } });
  add('get', '/v1/indexes/{name}/items', { params: name, query: { limit: '2', after: 'item-1' } });
  add('post', '/v1/indexes/{name}/items', { params: name, perItem: true, json: { items: [{ id: 'fz-1', text: 'green hat', category: 'hats', attributes: { color: 'green' }, metadata: { sku: 1 }, source_url: null }] } });
  add('post', '/v1/indexes/{name}/items/upload', { params: name, form: { fields: { items: '[{"id":"fz-up","category":"shirts"}]' }, files: { file: jpeg } } });
  add('post', '/v1/indexes/{name}/items/delete', { params: name, json: { ids: ['no-such-item'] } });
  add('post', '/v1/indexes/{name}/search', { params: name, json: { query: { text: 'shoe' }, limit: 3, filter: { category: 'shoes', attributes: { color: 'red' } }, oversampling: 4, rescore: true, exact: false } });
  add('post', '/v1/indexes/{name}/search/upload', { params: name, form: { fields: { limit: '3', oversampling: '4', rescore: 'true', exact: 'false', filter: '{"category":"shirts"}' }, files: { file: jpeg } } });
  add('put', '/v1/indexes/{name}/categories', { params: name, json: { labels: { shoe: ['shoes'] } } });
  add('post', '/v1/indexes/{name}/graph', { params: name, json: { boards: [{ id: 'b1', items: ['item-1', 'item-2'] }], pairs: [['item-1', 'item-3', 2]] } });
  add('post', '/v1/detect', { params: {}, json: { image: uri, confidence: 0.2, iou: 0.5, max_objects: 10 } });
  add('post', '/v1/shop-the-look', { params: {}, json: { image: uri, index: 'shop', limit: 2, min_score: 0.2, min_product_score: -1, crop: [0, 0, 48, 36], category_filter: true, categories: ['shoes'] } });
  add('post', '/v1/complete-the-look', { params: {}, json: { index: 'shop', image: uri, categories: ['bags'], limit: 2, exclude_present: true } });
  add('post', '/v1/jobs', { params: {}, perItem: true, json: { type: 'ingest', index: 'shop', items: [{ id: 'fz-job', text: 'yellow scarf', category: 'scarves' }] } });
  add('get', '/v1/jobs', { params: {}, query: { limit: '5', state: 'running', index: 'shop' } });
  add('get', '/v1/jobs/{id}/failures', { params: { id: job.id }, query: { limit: '5', after: '0.1' } });
  add('post', '/v1/jobs/{id}/items', { params: { id: job.id }, perItem: true, json: { items: [{ id: 'fz-open', text: 'white sock', category: 'socks' }] } });
  add('post', '/v1/worker/jobs/{id}/chunks/{chunk}/results', { params: { id: job.id, chunk: '0' }, json: { model, final: true, vectors: [], failures: [] } });
  add('post', '/v1/worker/jobs/{id}/blobs', { params: { id: job.id }, raw: Buffer.from(jpeg) });
  add('post', '/predict', { params: {}, form: { fields: { entries: '{"clip":{"textual":{"modelName":"ViT-B-32__openai"}}}', text: 'a red shoe' }, files: {} } });
  // Routes without a body: their path parameters are fuzzed.
  for (const operation of operations) {
    const key = `${operation.method} ${operation.path}`;
    if (cases.has(key)) continue;
    const params: Record<string, string> = {};
    for (const [, param] of operation.path.matchAll(/\{(\w+)\}/g)) params[param!] = param === 'name' ? 'shop' : param === 'id' ? (operation.path.startsWith('/v1/jobs') || operation.path.startsWith('/v1/worker') ? job.id : 'item-1') : param === 'chunk' ? '0' : 'a'.repeat(64);
    cases.set(key, { params });
  }
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('malformed requests to every route', () => {
  it('has a request for every operation of the contract', () => {
    expect([...cases.keys()].sort()).toEqual(operations.map((operation) => `${operation.method} ${operation.path}`).sort());
  });

  // Deleting routes run last, on junk names only, so the index the others use stays.
  const ordered = [...operations].sort((a, b) => Number(a.method === 'delete') - Number(b.method === 'delete'));
  for (const operation of ordered) {
    const title = `${operation.method.toUpperCase()} ${operation.path}`;
    it(`${title}: answers below 500, with the error envelope, and 4xx where its schema refuses`, async () => {
      const base = cases.get(`${operation.method} ${operation.path}`)!;
      const deleting = operation.method === 'delete' || (operation.method === 'post' && operation.path.endsWith('/close'));
      const arbitrary = Object.keys(base.params).length === 0 && !base.json && !base.form && !base.query && !base.raw ? undefined : mutations(operation, base);
      if (!arbitrary) {
        // No input to spoil (health, models, docs): it must simply answer.
        const response = await fetch(`${server.url}${operation.path}`, { method: operation.method.toUpperCase() });
        expect(response.status).toBeLessThan(500);
        await response.arrayBuffer();
        return;
      }
      const seen: number[] = [];
      await fc.assert(
        fc.asyncProperty(arbitrary, async (mutation) => {
          if (deleting) fc.pre(mutation.kind === 'param');
          const { url, init, refused, itemRefused } = request(operation, base, mutation);
          const response = await fetch(`${server.url}${url}`, { ...init, signal: AbortSignal.timeout(20_000) });
          const text = await response.text();
          seen.push(response.status);
          const context = `${init.method} ${url} (${JSON.stringify(mutation).slice(0, 300)}) → ${response.status} ${text.slice(0, 300)}`;
          expect(response.status, context).toBeLessThan(500);
          if (response.status >= 400 && response.headers.get('content-type')?.includes('json')) expect(errorBody.safeParse(JSON.parse(text)).success, context).toBe(true);
          if (response.status >= 400) expect(response.headers.get('content-type'), context).toContain('application/json');
          if (refused) expect(response.status, context).toBeGreaterThanOrEqual(400);
          if (itemRefused && response.status === 200 && operation.path.endsWith('/items') && operation.path.startsWith('/v1/indexes')) expect(JSON.parse(text).failed, context).toBe(1);
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
      expect(seen.length).toBeGreaterThan(0);
      // Still alive and answering.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    }, 120_000);
  }

  it('logged no unhandled error', () => {
    expect(server.logs.filter((line) => line.msg === 'unhandled error' || line.msg === 'response breaks the API contract')).toEqual([]);
    expect(expressPath('/v1/indexes/{name}')).toBe('/v1/indexes/:name');
  });
});
