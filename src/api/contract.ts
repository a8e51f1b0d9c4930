import { z } from 'zod';
import type { Access } from './auth.js';
import { errorBody } from './schemas/common.js';

/**
 * One route of the API as data: its request schemas (the ones the route parses with), its
 * responses' schemas and the error statuses it may answer. The OpenAPI document is generated from
 * these (`openApiDocument`), and with LOOKBOOK_CHECK_RESPONSES every JSON response is checked
 * against them (`response-check.ts`); `test/service-endpoints.test.ts` checks that the app serves
 * exactly the operations listed.
 */
export type Method = 'get' | 'post' | 'put' | 'delete';

export interface ResponseSpec {
  readonly description: string;
  /** A JSON body: checked at run time when LOOKBOOK_CHECK_RESPONSES is on. */
  readonly json?: z.ZodType;
  /** Other content (bytes, text, event streams): documented only. */
  readonly content?: Readonly<Record<string, { readonly schema: Record<string, unknown> }>>;
  readonly headers?: Readonly<Record<string, { readonly description: string; readonly schema: Record<string, unknown> }>>;
}

export interface Operation {
  readonly method: Method;
  /** The OpenAPI path template (`/v1/indexes/{name}`); Express's pattern is derived from it. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly access: Access;
  readonly query?: z.ZodObject;
  readonly body?: {
    readonly json?: z.ZodType;
    readonly multipart?: z.ZodType;
    /** A raw body: content type → description. */
    readonly raw?: Readonly<Record<string, string>>;
    readonly optional?: boolean;
  };
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** Error statuses of this route, besides those every route may answer (`commonErrors`). */
  readonly errors: readonly number[];
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request: invalid_request, invalid_json, invalid_filter, missing_file, …',
  401: 'No API key, or one the service does not know (when LOOKBOOK_API_KEYS is set)',
  403: 'The key lacks the scope this route needs',
  404: 'Not found: index_not_found, item_not_found, model_not_found, job_not_found, …',
  409: 'Conflict with the current state: index_exists, index_model_unavailable, job_not_open, …',
  413: 'Too large: body_too_large, image_too_large, too_many_files, …',
  415: 'Not an image this service decodes (unsupported_image)',
  422: 'Immich: the entries cannot be served (invalid_entries, unsupported_task)',
  429: 'Rate limited (rate_limited, per key) or the encoder queue is full (overloaded); see Retry-After',
  500: 'Internal error (logged with the request id)',
  503: 'Shutting down, Redis unavailable for jobs (queue_unavailable), or no detector configured',
  504: 'The request took longer than LOOKBOOK_REQUEST_TIMEOUT_MS',
};

/** Statuses any route may answer: auth and limits (on routes that need a key), internal errors, shutdown and timeouts. */
export function commonErrors(operation: Pick<Operation, 'access' | 'method'>): number[] {
  const keyed = operation.access === 'public' ? [] : [401, 403, 429];
  const body = operation.method === 'post' || operation.method === 'put' ? [400, 413] : [];
  return [...keyed, ...body, 500, 503, 504];
}

export const errorStatuses = (operation: Operation): Set<number> => new Set([...operation.errors, ...commonErrors(operation)]);

/** `/v1/indexes/{name}` → `/v1/indexes/:name`. */
export const expressPath = (path: string): string => path.replace(/\{(\w+)\}/g, ':$1');

const jsonSchema = (type: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _, ...schema } = z.toJSONSchema(type, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  return schema;
};

function parameters(operation: Operation) {
  const path = [...operation.path.matchAll(/\{(\w+)\}/g)].map((match) => ({ name: match[1]!, in: 'path', required: true, schema: { type: 'string' } }));
  if (!operation.query) return path;
  const query = jsonSchema(operation.query, 'input') as { properties?: Record<string, { description?: string }>; required?: string[] };
  return [
    ...path,
    ...Object.entries(query.properties ?? {}).map(([name, schema]) => ({
      name,
      in: 'query',
      required: query.required?.includes(name) ?? false,
      schema,
      ...(schema.description && { description: schema.description }),
    })),
  ];
}

function requestBody(operation: Operation) {
  const body = operation.body;
  if (!body) return undefined;
  const content: Record<string, unknown> = {};
  if (body.json) content['application/json'] = { schema: jsonSchema(body.json, 'input') };
  if (body.multipart) content['multipart/form-data'] = { schema: jsonSchema(body.multipart, 'input') };
  for (const [type, description] of Object.entries(body.raw ?? {})) content[type] = { schema: { type: 'string', format: 'binary', description } };
  return { required: !body.optional, content };
}

function responses(operation: Operation) {
  const out: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(operation.responses)) {
    out[status] = {
      description: spec.description,
      ...(spec.headers && { headers: spec.headers }),
      ...((spec.json || spec.content) && { content: { ...(spec.json && { 'application/json': { schema: jsonSchema(spec.json, 'output') } }), ...spec.content } }),
    };
  }
  for (const status of [...errorStatuses(operation)].sort((a, b) => a - b)) {
    out[String(status)] ??= {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error',
      ...(status === 429 && { headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } } }),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return out;
}

const operationId = (operation: Operation) =>
  `${operation.method}${operation.path
    .split('/')
    .filter(Boolean)
    .map((part) => part.replace(/[{}]/g, '').replace(/(^|[-_])(\w)/g, (_m, _sep, c: string) => c.toUpperCase()))
    .join('')}`;

/** The OpenAPI 3.1 document of `operations`, served at `/openapi.json`. */
export function openApiDocument(operations: readonly Operation[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of operations) {
    const body = requestBody(operation);
    (paths[operation.path] ??= {})[operation.method] = {
      operationId: operationId(operation),
      summary: operation.summary,
      tags: [operation.tag],
      ...(operation.access === 'public' ? { security: [] } : { 'x-lookbook-scope': operation.access }),
      parameters: parameters(operation),
      ...(body && { requestBody: body }),
      responses: responses(operation),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Lookbook',
      version,
      description:
        "Multimodal visual search. Embeddings follow OpenAI's /v1/embeddings envelope; inputs may be texts or images " +
        '(`{"image": URL | data URI | base64}`). Errors are `{"error": {message, type, code, param}}`. With API keys configured ' +
        '(LOOKBOOK_API_KEYS), routes need a key with the scope named in `x-lookbook-scope` (read, write or admin), sent as ' +
        '`Authorization: Bearer <key>` or `X-API-Key`; without keys on a loopback bind every route is open.',
    },
    security: [{ bearerAuth: [] }, { apiKey: [] }],
    paths,
    components: {
      schemas: { Error: jsonSchema(errorBody, 'output') },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key (lbk_…), as the OpenAI SDK sends it' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
    },
  };
}
