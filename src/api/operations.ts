import type { Operation } from './contract.js';
import * as embeddings from './schemas/embeddings.js';
import * as indexes from './schemas/indexes.js';
import * as jobs from './schemas/jobs.js';
import * as looks from './schemas/looks.js';

/**
 * Every route the app serves, with the schemas of its requests and responses. The routes parse with
 * the same schemas; `/openapi.json` is generated from this list.
 */

/** Errors of routes that take an image (decoding, fetching a URL, the encoder's queue). */
const IMAGE_ERRORS = [400, 404, 409, 413, 415, 429] as const;
const bytes = (description: string) => ({ 'application/octet-stream': { schema: { type: 'string', format: 'binary', description } } });
const jobResponse = { description: 'The job', json: jobs.jobResponse };
const sseContent = { 'text/event-stream': { schema: { type: 'string', description: 'Events `progress` and `end`, each a job object as data' } } };

export const operations: readonly Operation[] = [
  // Health and the API description.
  { method: 'get', path: '/healthz', tag: 'service', access: 'public', summary: 'Liveness, with the models and the execution provider each runs on', responses: { 200: { description: 'OK', json: embeddings.healthResponse } }, errors: [] },
  { method: 'get', path: '/readyz', tag: 'service', access: 'public', summary: 'Readiness: models loaded and not shutting down', responses: { 200: { description: 'Ready', json: embeddings.readyResponse } }, errors: [] },
  { method: 'get', path: '/metrics', tag: 'service', access: 'admin', summary: 'Prometheus metrics', responses: { 200: { description: 'Metrics in the Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } }, errors: [] },
  { method: 'get', path: '/openapi.json', tag: 'service', access: 'public', summary: 'This document', responses: { 200: { description: 'The OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } }, errors: [] },
  { method: 'get', path: '/docs', tag: 'service', access: 'public', summary: 'Interactive API documentation (Swagger UI)', responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } } }, errors: [] },

  // Models and embeddings.
  { method: 'get', path: '/v1/models', tag: 'models', access: 'read', summary: 'Loaded models, with their versions (the base and the alignment heads learnt on it) and execution providers', responses: { 200: { description: 'Models', json: embeddings.modelListResponse } }, errors: [] },
  { method: 'get', path: '/v1/models/{id}', tag: 'models', access: 'read', summary: 'One model', responses: { 200: { description: 'The model', json: embeddings.modelResponse } }, errors: [404] },
  {
    method: 'post', path: '/v1/embeddings', tag: 'embeddings', access: 'read', summary: "Embed texts and images (OpenAI's envelope)",
    body: { json: embeddings.embeddingsRequest },
    responses: { 200: { description: 'Embeddings, in input order', json: embeddings.embeddingsResponse } }, errors: IMAGE_ERRORS,
  },
  {
    method: 'post', path: '/v1/embeddings/images', tag: 'embeddings', access: 'read', summary: 'Embed uploaded image files (multipart)',
    body: { multipart: embeddings.embeddingsImagesForm },
    responses: { 200: { description: 'Embeddings, with file name, width and height per file', json: embeddings.imageEmbeddingsResponse } }, errors: IMAGE_ERRORS,
  },

  // Indexes and items.
  { method: 'get', path: '/v1/indexes', tag: 'indexes', access: 'read', summary: 'List indexes', responses: { 200: { description: 'Indexes', json: indexes.indexListResponse } }, errors: [] },
  {
    method: 'post', path: '/v1/indexes', tag: 'indexes', access: 'write', summary: 'Create an index bound to a model (the default model when omitted)',
    body: { json: indexes.createIndexRequest }, responses: { 201: { description: 'Created', json: indexes.indexResponse } }, errors: [404, 409],
  },
  { method: 'get', path: '/v1/indexes/{name}', tag: 'indexes', access: 'read', summary: 'Describe an index', responses: { 200: { description: 'The index', json: indexes.indexResponse } }, errors: [404] },
  { method: 'delete', path: '/v1/indexes/{name}', tag: 'indexes', access: 'write', summary: 'Delete an index and its files', responses: { 200: { description: 'Deleted', json: indexes.indexDeletedResponse } }, errors: [404, 409] },
  {
    method: 'post', path: '/v1/indexes/{name}/compact', tag: 'indexes', access: 'write',
    summary: 'Compact the index files online: live items at the end move into free slots, the free tail is cut off (searches and writes go on)',
    responses: { 200: { description: 'What was reclaimed', json: indexes.compactionResponse } }, errors: [404],
  },
  {
    method: 'get', path: '/v1/indexes/{name}/items', tag: 'items', access: 'read', summary: 'List items, ordered by id (paged with `after`)',
    query: indexes.itemsPageQuery, responses: { 200: { description: 'A page of items and `next_after`', json: indexes.itemsPageResponse } }, errors: [400, 404],
  },
  {
    method: 'post', path: '/v1/indexes/{name}/items', tag: 'items', access: 'write',
    summary: 'Add or replace items (upsert by id); each item is embedded from its image, else its text, or given as a vector; one bad item does not sink the batch',
    body: { json: indexes.itemsRequest }, responses: { 200: { description: 'One result per item, in order', json: indexes.itemResults } }, errors: IMAGE_ERRORS,
  },
  {
    method: 'post', path: '/v1/indexes/{name}/items/upload', tag: 'items', access: 'write', summary: 'Add or replace items from uploaded image files',
    body: { multipart: indexes.itemsUploadForm }, responses: { 200: { description: 'One result per file', json: indexes.itemResults } }, errors: IMAGE_ERRORS,
  },
  { method: 'get', path: '/v1/indexes/{name}/items/{id}', tag: 'items', access: 'read', summary: 'Get an item', responses: { 200: { description: 'The item', json: indexes.itemResponse } }, errors: [404] },
  { method: 'delete', path: '/v1/indexes/{name}/items/{id}', tag: 'items', access: 'write', summary: 'Delete an item (gone from results at once)', responses: { 200: { description: 'Deleted', json: indexes.itemDeletedResponse } }, errors: [404] },
  {
    method: 'get', path: '/v1/indexes/{name}/items/{id}/image', tag: 'items', access: 'read', summary: "The item's kept image, as it was received (404 `image_not_kept` when none was kept)",
    responses: { 200: { description: 'The image bytes', content: { 'image/*': { schema: { type: 'string', format: 'binary' } } } } }, errors: [404],
  },
  {
    method: 'post', path: '/v1/indexes/{name}/items/delete', tag: 'items', access: 'write', summary: 'Delete items by id',
    body: { json: indexes.deleteItemsRequest }, responses: { 200: { description: 'Deleted and missing ids', json: indexes.itemsDeletedResponse } }, errors: [404],
  },
  {
    method: 'post', path: '/v1/indexes/{name}/search', tag: 'search', access: 'read',
    summary: 'Search by text, image, item id or raw vector: Hamming candidates from the binary index, rescored with float vectors',
    body: { json: indexes.searchRequest }, responses: { 200: { description: 'Results, best first', json: indexes.searchResponse } }, errors: IMAGE_ERRORS,
  },
  {
    method: 'post', path: '/v1/indexes/{name}/search/upload', tag: 'search', access: 'read', summary: 'Search with an uploaded query image',
    body: { multipart: indexes.searchUploadForm }, responses: { 200: { description: 'Results, best first', json: indexes.searchResponse } }, errors: IMAGE_ERRORS,
  },
  {
    method: 'get', path: '/v1/indexes/{name}/facets', tag: 'search', access: 'read', summary: 'The values search filters can take: categories and attribute values with their item counts',
    responses: { 200: { description: 'Facets', json: indexes.facetsResponse } }, errors: [404],
  },
  {
    method: 'get', path: '/v1/indexes/{name}/categories', tag: 'looks', access: 'read',
    summary: "The catalog's categories (item counts, the detector labels that map to them) and each label's categories and their source: `index` (set here), `configured` (LOOKBOOK_LABEL_CATEGORIES), `derived` (from the catalog), `none` (searched unfiltered)",
    responses: { 200: { description: 'The mapping', json: indexes.categoryMappingResponse } }, errors: [404],
  },
  {
    method: 'put', path: '/v1/indexes/{name}/categories', tag: 'looks', access: 'write', summary: "Set this index's label → categories overrides (they come before the derived mapping)",
    body: { json: indexes.categoryOverridesRequest }, responses: { 200: { description: 'The mapping', json: indexes.categoryMappingResponse } }, errors: [404],
  },
  { method: 'delete', path: '/v1/indexes/{name}/categories', tag: 'looks', access: 'write', summary: "Drop this index's overrides", responses: { 200: { description: 'The mapping', json: indexes.categoryMappingResponse } }, errors: [404] },
  {
    method: 'post', path: '/v1/indexes/{name}/graph', tag: 'alignment', access: 'write',
    summary: "Replace the index's item graph (boards and weighted pairs) that neighbor alignment learns from; ids the index does not hold are reported, not refused",
    body: { json: indexes.graphRequest, multipart: indexes.graphForm }, responses: { 200: { description: 'The graph summary', json: indexes.graphResponse } }, errors: [404],
  },
  { method: 'get', path: '/v1/indexes/{name}/graph', tag: 'alignment', access: 'read', summary: 'The graph summary: boards, pairs, items covered and unknown', responses: { 200: { description: 'The graph summary', json: indexes.graphResponse } }, errors: [404] },
  { method: 'delete', path: '/v1/indexes/{name}/graph', tag: 'alignment', access: 'write', summary: "Delete the index's graph", responses: { 200: { description: 'Deleted', json: indexes.graphDeletedResponse } }, errors: [404] },

  // Scenes.
  {
    method: 'post', path: '/v1/detect', tag: 'looks', access: 'read', summary: 'Detect objects in a scene (YOLO-format detector): boxes in pixels of the original, EXIF-rotated image',
    body: { json: looks.detectRequest, multipart: looks.detectForm }, responses: { 200: { description: 'Objects, best first', json: looks.detectResponse } }, errors: IMAGE_ERRORS,
  },
  {
    method: 'post', path: '/v1/shop-the-look', tag: 'looks', access: 'read', summary: 'Shop The Look: detect, crop, embed and retrieve products per object (or search the crop box given)',
    body: { json: looks.shopTheLookRequest, multipart: looks.shopTheLookForm }, responses: { 200: { description: 'Objects with their products', json: looks.shopTheLookResponse } }, errors: IMAGE_ERRORS,
  },
  {
    method: 'post', path: '/v1/complete-the-look', tag: 'looks', access: 'read',
    summary: "Complete the Look: products of the other categories that go with a scene (or an item): per catalog category not in the scene, candidates by the compatibility model's global term, re-scored by its local term over the scene's detected objects",
    body: { json: looks.completeTheLookRequest, multipart: looks.completeTheLookForm }, responses: { 200: { description: 'Products per category', json: looks.completeTheLookResponse } }, errors: IMAGE_ERRORS,
  },

  // Background jobs (they need Redis: 503 `queue_unavailable` without it).
  {
    method: 'post', path: '/v1/jobs', tag: 'jobs', access: 'write',
    summary: 'Start a background job: ingest items into an index (inline, a JSONL manifest upload or URL, or an open job to append to), re-embed an index (another model, or a version of its own), or learn an alignment head on its graph',
    body: { json: jobs.jobRequest, multipart: jobs.jobForm },
    responses: { 202: { ...jobResponse, description: 'Accepted; `Location` names the job', headers: { Location: { description: 'The job', schema: { type: 'string' } } } } }, errors: [404, 409],
  },
  { method: 'get', path: '/v1/jobs', tag: 'jobs', access: 'read', summary: 'List jobs, newest first (paged with `before`)', query: jobs.listQuery, responses: { 200: { description: 'Jobs', json: jobs.jobListResponse } }, errors: [400] },
  { method: 'get', path: '/v1/jobs/{id}', tag: 'jobs', access: 'read', summary: 'A job: state, progress, items/s, ETA, timestamps (and, for a reembed, the source and target models)', responses: { 200: jobResponse }, errors: [404] },
  { method: 'delete', path: '/v1/jobs/{id}', tag: 'jobs', access: 'write', summary: 'Cancel a job: no new chunks start; a reembed leaves the index as it was', responses: { 200: jobResponse }, errors: [404, 409] },
  {
    method: 'get', path: '/v1/jobs/{id}/failures', tag: 'jobs', access: 'read', summary: "A page of the job's failed items, each once with its final reason",
    query: jobs.failuresQuery, responses: { 200: { description: 'Failed items', json: jobs.failuresResponse } }, errors: [400, 404],
  },
  { method: 'get', path: '/v1/jobs/{id}/events', tag: 'jobs', access: 'read', summary: 'Server-sent events: `progress` (a job object, at most four a second) until `end` (its final state)', responses: { 200: { description: 'An event stream', content: sseContent } }, errors: [404] },
  {
    method: 'post', path: '/v1/jobs/{id}/items', tag: 'jobs', access: 'write',
    summary: 'Append items to an open ingest job: JSON `{"items": [...]}`, image `file` fields (with an optional `items` JSON array of their fields), or a JSONL `manifest`',
    body: { json: jobs.appendRequest, multipart: jobs.appendForm }, responses: { 200: jobResponse }, errors: [404, 409],
  },
  { method: 'post', path: '/v1/jobs/{id}/close', tag: 'jobs', access: 'write', summary: 'Close an open ingest job: it completes once its chunks are done', responses: { 200: jobResponse }, errors: [404, 409] },

  // The worker protocol (`lookbook worker` processes call the owner of the indexes).
  { method: 'get', path: '/v1/worker/jobs/{id}/chunks/{chunk}', tag: 'worker', access: 'write', summary: "Worker protocol: a chunk's items still to embed, and the model to embed them with", responses: { 200: { description: 'The work, or `{"status": "skip"}`', json: jobs.chunkWorkResponse } }, errors: [400, 404] },
  {
    method: 'post', path: '/v1/worker/jobs/{id}/chunks/{chunk}/results', tag: 'worker', access: 'write', summary: "Worker protocol: a chunk's vectors (base64 float32) and failed items, applied as idempotent upserts",
    body: { json: jobs.chunkResultsRequest }, responses: { 200: { description: 'Items still to do', json: jobs.chunkResultsResponse } }, errors: [404, 409],
  },
  {
    method: 'post', path: '/v1/worker/jobs/{id}/blobs', tag: 'worker', access: 'write', summary: 'Worker protocol: keep the bytes of an image the worker fetched (answers its hash)',
    body: { raw: { 'application/octet-stream': 'The image bytes' } }, responses: { 201: { description: 'Kept', json: jobs.blobKeptResponse } }, errors: [404, 409],
  },
  { method: 'get', path: '/v1/worker/blobs/{hash}', tag: 'worker', access: 'write', summary: 'Worker protocol: the bytes of a kept image', responses: { 200: { description: 'The bytes', content: bytes('The kept image') } }, errors: [404] },

  // Immich's machine-learning contract.
  { method: 'get', path: '/ping', tag: 'immich', access: 'public', summary: 'Immich: liveness', responses: { 200: { description: 'pong', content: { 'text/plain': { schema: { type: 'string', const: 'pong' } } } } }, errors: [] },
  {
    method: 'post', path: '/predict', tag: 'immich', access: 'read', summary: 'Immich machine-learning contract (CLIP only)',
    body: { multipart: embeddings.predictForm }, responses: { 200: { description: 'The embedding as a JSON string, as Immich stores it', json: embeddings.predictResponse } }, errors: [...IMAGE_ERRORS, 422],
  },
];
