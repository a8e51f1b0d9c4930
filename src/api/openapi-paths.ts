import { z } from 'zod';
import { graphSchema } from '../services/graph.service.js';
import { completeTheLookRequest } from './routes/complete-the-look.routes.js';
import { alignRequest, failuresQuery, failuresResponse, ingestRequest, jobListResponse, jobResponse, listQuery, reembedRequest } from './routes/jobs.schemas.js';

/**
 * The OpenAPI paths of the routes added with jobs (jobs, workers, graphs, categories), generated
 * from the zod schemas the routes parse with where they have them (one
 * schema, one truth). The older routes' documentation is still written by hand in openapi.ts.
 */
const schema = (type: z.ZodType, io: 'input' | 'output' = 'output') => z.toJSONSchema(type, { io, unrepresentable: 'any', target: 'draft-2020-12' });
const json = (type: z.ZodType, io: 'input' | 'output' = 'output') => ({ 'application/json': { schema: schema(type, io) } });
const error = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const queueDown = { description: 'Redis does not answer (or LOOKBOOK_REDIS_URL=none): `queue_unavailable`', content: error.content };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };

/** Query parameters from a zod object. */
function queryParams(type: z.ZodObject) {
  const json = schema(type, 'input') as { properties?: Record<string, { description?: string }> };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({ name, in: 'query', required: false, schema: property, description: property.description }));
}

export function generatedPaths() {
  const job = { '200': { description: 'The job', content: json(jobResponse) }, '404': error, '503': queueDown };
  return {
    '/v1/jobs': {
      post: {
        summary: 'Start a background job: ingest items into an index (inline, a JSONL manifest upload or URL, or an open job to append to), re-embed an index (another model, or a version of its own), or learn an alignment head on its graph',
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { oneOf: [schema(ingestRequest, 'input'), schema(reembedRequest, 'input'), schema(alignRequest, 'input')] } },
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['type', 'index', 'manifest'],
                properties: {
                  type: { const: 'ingest' },
                  index: { type: 'string' },
                  open: { type: 'string', enum: ['true', 'false'] },
                  manifest: { type: 'string', format: 'binary', description: 'JSONL, one item per line (streamed to disk; LOOKBOOK_MANIFEST_MAX_BYTES)' },
                },
              },
            },
          },
        },
        responses: { '202': { description: 'Accepted; `Location` names the job', content: json(jobResponse) }, '400': error, '404': error, '409': error, '413': error, '503': queueDown },
      },
      get: {
        summary: 'List jobs, newest first (paged with `before`)',
        parameters: queryParams(listQuery),
        responses: { '200': { description: 'Jobs', content: json(jobListResponse) }, '400': error, '503': queueDown },
      },
    },
    '/v1/jobs/{id}': {
      get: { summary: 'A job: state, progress, items/s, ETA, timestamps (and, for a reembed, the source and target models)', parameters: [idParam], responses: job },
      delete: { summary: 'Cancel a job: no new chunks start; a reembed leaves the index as it was', parameters: [idParam], responses: { ...job, '409': error } },
    },
    '/v1/jobs/{id}/failures': {
      get: {
        summary: "A page of the job's failed items, each once with its final reason",
        parameters: [idParam, ...queryParams(failuresQuery)],
        responses: { '200': { description: 'Failed items', content: json(failuresResponse) }, '400': error, '404': error, '503': queueDown },
      },
    },
    '/v1/jobs/{id}/events': {
      get: {
        summary: 'Server-sent events: `progress` (a job object, at most four a second) until `end` (its final state)',
        parameters: [idParam],
        responses: { '200': { description: 'text/event-stream of job objects', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '404': error, '503': queueDown },
      },
    },
    '/v1/jobs/{id}/items': {
      post: {
        summary: 'Append items to an open ingest job: JSON `{"items": [...]}`, image `file` fields (with an optional `items` JSON array of their fields), or a JSONL `manifest`',
        parameters: [idParam],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: {} } } } },
            'multipart/form-data': {
              schema: {
                type: 'object',
                properties: {
                  file: { type: 'array', items: { type: 'string', format: 'binary' } },
                  items: { type: 'string', description: 'JSON array of item fields, one per file (ids default to file names)' },
                  manifest: { type: 'string', format: 'binary' },
                },
              },
            },
          },
        },
        responses: { ...job, '400': error, '409': error, '413': error },
      },
    },
    '/v1/jobs/{id}/close': {
      post: { summary: 'Close an open ingest job: it completes once its chunks are done', parameters: [idParam], responses: { ...job, '409': error } },
    },
    '/v1/indexes/{name}/graph': {
      post: {
        summary: "Replace the index's item graph (boards and weighted pairs) that neighbor alignment learns from; ids the index does not hold are reported, not refused",
        parameters: [nameParam],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: schema(graphSchema, 'input') },
            'multipart/form-data': {
              schema: { type: 'object', required: ['graph'], properties: { graph: { type: 'string', format: 'binary', description: 'JSONL: a board {"id", "items": [...]} or a pair ["a", "b", weight?] per line' } } },
            },
          },
        },
        responses: { '200': { description: 'The graph summary' }, '400': error, '404': error, '413': error },
      },
      get: { summary: 'The graph summary: boards, pairs, items covered and unknown', parameters: [nameParam], responses: { '200': { description: 'The graph summary' }, '404': error } },
      delete: { summary: "Delete the index's graph", parameters: [nameParam], responses: { '200': { description: 'Deleted' }, '404': error } },
    },
    '/v1/complete-the-look': {
      post: {
        summary:
          'Complete the Look: products of the other categories that go with a scene (or an item): per catalog category not in the scene, candidates by the compatibility model\'s global term, re-scored by its local term over the scene\'s detected objects',
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: schema(completeTheLookRequest, 'input') },
            'multipart/form-data': { schema: { type: 'object', required: ['file', 'index'], properties: { file: { type: 'string', format: 'binary' }, index: { type: 'string' }, categories: { type: 'string', description: 'JSON array' }, limit: { type: 'integer' }, exclude_present: { type: 'boolean' } } } },
          },
        },
        responses: { '200': { description: '{objects, present_categories, categories: [{category, products}]}, strategy' }, '400': error, '404': error, '409': error, '413': error, '415': error },
      },
    },
    '/v1/indexes/{name}/categories': {
      get: {
        summary: "The catalog's categories (item counts, the detector labels that map to them) and each label's categories and their source: `index` (set here), `configured` (LOOKBOOK_LABEL_CATEGORIES), `derived` (from the catalog), `none` (searched unfiltered)",
        parameters: [nameParam],
        responses: { '200': { description: 'The mapping' }, '404': error },
      },
      put: {
        summary: 'Set this index\'s label → categories overrides (they come before the derived mapping)',
        parameters: [nameParam],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['labels'], properties: { labels: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } } } } } } },
        responses: { '200': { description: 'The mapping' }, '400': error, '404': error },
      },
      delete: { summary: "Drop this index's overrides", parameters: [nameParam], responses: { '200': { description: 'The mapping' }, '404': error } },
    },
    '/v1/worker/jobs/{id}/chunks/{chunk}': {
      get: {
        summary: "Worker protocol: a chunk's items still to embed, and the model to embed them with",
        parameters: [idParam, { name: 'chunk', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'The work, or `{"status": "skip"}`' }, '404': error },
      },
    },
    '/v1/worker/jobs/{id}/chunks/{chunk}/results': {
      post: {
        summary: "Worker protocol: a chunk's vectors (base64 float32) and failed items, applied as idempotent upserts",
        parameters: [idParam, { name: 'chunk', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: '`{"pending": n}`: items still to do' }, '400': error, '404': error, '409': error },
      },
    },
    '/v1/worker/jobs/{id}/blobs': {
      post: {
        summary: 'Worker protocol: keep the bytes of an image the worker fetched (answers its hash)',
        parameters: [idParam],
        requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
        responses: { '201': { description: '`{"hash"}`' }, '400': error, '404': error, '409': error, '413': error },
      },
    },
    '/v1/worker/blobs/{hash}': {
      get: {
        summary: 'Worker protocol: the bytes of a kept image',
        parameters: [{ name: 'hash', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'The bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, '404': error },
      },
    },
  };
}
