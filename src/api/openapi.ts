import { z } from 'zod';
import { generatedPaths } from './openapi-paths.js';
import { FacetsResponse } from './routes/facets.routes.js';

/**
 * The OpenAPI 3.1 document served at `/openapi.json`. A test checks that every route the app
 * registers is documented here and that every documented path exists.
 */
const json = (schema: unknown) => ({ 'application/json': { schema } });
const text = (schema: unknown) => ({ 'text/plain': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
/** A multipart form whose fields are `properties`. */
const multipart = (required: string[], properties: Record<string, unknown>) => ({
  'multipart/form-data': { schema: { type: 'object', required, properties } },
});
/** A required request body with the given content types. */
const body = (content: Record<string, unknown>) => ({ required: true, content });
/** A JSON response. */
const response = (description: string, schema: unknown) => ({ description, content: json(schema) });
/** The `{object: 'list', data: [...]}` envelope. */
const list = (items: unknown) => ({ type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items } } });
const pathParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });

const error = response('Error', ref('Error'));
const errors = {
  '400': error,
  '404': error,
  '413': error,
  '415': error,
  '429': { ...error, description: 'Encoder queue full; see Retry-After' },
  '503': error,
  '504': error,
};
const searchResponses = { '200': response('Results', ref('SearchResults')), ...errors, '409': error };
const nameParam = pathParam('name');
const idParam = pathParam('id');
const binary = { type: 'string', format: 'binary' };
const detectOptions = { confidence: { type: 'number' }, iou: { type: 'number' }, max_objects: { type: 'integer' } };

export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Lookbook',
      version,
      description:
        'Multimodal visual search. Embeddings follow OpenAI\'s /v1/embeddings envelope; inputs may be texts or images ' +
        '(`{"image": URL | data URI | base64}`). Errors are `{"error": {message, type, code, param}}`.',
    },
    paths: {
      ...generatedPaths(),
      '/v1/embeddings': {
        post: {
          summary: 'Embed texts and images',
          requestBody: body(json(ref('EmbeddingsRequest'))),
          responses: { '200': response('Embeddings', ref('EmbeddingsResponse')), ...errors },
        },
      },
      '/v1/embeddings/images': {
        post: {
          summary: 'Embed uploaded image files (multipart)',
          requestBody: body(
            multipart(['file'], {
              file: { type: 'array', items: binary, description: 'One or more images, each in a field named "file"' },
              model: { type: 'string' },
              encoding_format: { type: 'string', enum: ['float', 'base64', 'ubinary'], default: 'float' },
            }),
          ),
          responses: { '200': response('Embeddings, with filename, width and height per item', ref('EmbeddingsResponse')), ...errors },
        },
      },
      '/v1/models': {
        get: {
          summary: 'List loaded models',
          responses: { '200': response('Models', list(ref('Model'))) },
        },
      },
      '/v1/models/{id}': {
        get: {
          summary: 'Describe one model',
          parameters: [idParam],
          responses: { '200': response('Model', ref('Model')), '404': error },
        },
      },
      '/v1/indexes': {
        get: { summary: 'List indexes', responses: { '200': response('Indexes', list(ref('Index'))) } },
        post: {
          summary: 'Create an index bound to a model (the default model when omitted)',
          requestBody: body(json(ref('CreateIndex'))),
          responses: { '201': response('Created', ref('Index')), '400': error, '404': error, '409': error },
        },
      },
      '/v1/indexes/{name}': {
        get: { summary: 'Describe an index', parameters: [nameParam], responses: { '200': response('Index', ref('Index')), '404': error } },
        delete: { summary: 'Delete an index and its files', parameters: [nameParam], responses: { '200': { description: 'Deleted' }, '404': error } },
      },
      '/v1/indexes/{name}/items': {
        get: {
          summary: 'List items, ordered by id (paged with `after`)',
          parameters: [nameParam, { name: 'limit', in: 'query', schema: { type: 'integer', default: 100, maximum: 1000 } }, { name: 'after', in: 'query', schema: { type: 'string' } }],
          responses: {
            '200': response('A page of items and `next_after`', { type: 'object', properties: { data: { type: 'array', items: ref('Item') }, next_after: { type: ['string', 'null'] } } }),
            '404': error,
          },
        },
        post: {
          summary: 'Add or replace items (upsert by id); each item is embedded from its image, else its text, or given as a vector',
          parameters: [nameParam],
          requestBody: body(json({ type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('NewItem') } } })),
          responses: { '200': response('One result per item, in order', ref('ItemResults')), ...errors, '409': error },
        },
      },
      '/v1/indexes/{name}/items/upload': {
        post: {
          summary: 'Add or replace items from uploaded image files',
          parameters: [nameParam],
          requestBody: body(
            multipart(['file'], {
              file: { type: 'array', items: binary },
              items: { type: 'string', description: 'JSON array, one object per file (id, category, attributes, metadata, …); ids default to file names' },
            }),
          ),
          responses: { '200': response('One result per file', ref('ItemResults')), ...errors },
        },
      },
      '/v1/indexes/{name}/items/{id}': {
        get: { summary: 'Get an item', parameters: [nameParam, idParam], responses: { '200': response('Item', ref('Item')), '404': error } },
        delete: { summary: 'Delete an item (gone from results at once)', parameters: [nameParam, idParam], responses: { '200': { description: 'Deleted' }, '404': error } },
      },
      '/v1/indexes/{name}/items/{id}/image': {
        get: {
          summary: "The item's kept image, as it was received (404 `image_not_kept` when none was kept)",
          parameters: [nameParam, idParam],
          responses: { '200': { description: 'The image bytes', content: { 'image/*': { schema: binary } } }, '404': error },
        },
      },
      '/v1/indexes/{name}/facets': {
        get: {
          summary: "The index's categories and scalar attribute values with their item counts (what search filters can take)",
          parameters: [nameParam],
          responses: { '200': response('Facets', z.toJSONSchema(FacetsResponse, { io: 'output', target: 'draft-2020-12' })), '404': error },
        },
      },
      '/v1/indexes/{name}/items/delete': {
        post: {
          summary: 'Delete items by id',
          parameters: [nameParam],
          requestBody: body(json({ type: 'object', required: ['ids'], properties: { ids: { type: 'array', items: { type: 'string' } } } })),
          responses: { '200': { description: 'Deleted and missing ids' }, '400': error, '404': error },
        },
      },
      '/v1/indexes/{name}/search': {
        post: {
          summary: 'Search by text, image, item id or raw vector: Hamming candidates from the binary HNSW, rescored with float vectors',
          parameters: [nameParam],
          requestBody: body(json(ref('SearchRequest'))),
          responses: searchResponses,
        },
      },
      '/v1/indexes/{name}/search/upload': {
        post: {
          summary: 'Search with an uploaded query image',
          parameters: [nameParam],
          requestBody: body(
            multipart(['file'], {
              file: binary,
              limit: { type: 'integer' },
              oversampling: { type: 'number' },
              rescore: { type: 'boolean' },
              exact: { type: 'boolean' },
              filter: { type: 'string', description: 'JSON filter' },
            }),
          ),
          responses: searchResponses,
        },
      },
      '/v1/detect': {
        post: {
          summary: 'Detect objects in a scene (YOLO-format detector): boxes in pixels of the original, EXIF-rotated image',
          requestBody: body({
            ...json({ type: 'object', required: ['image'], properties: { image: { type: 'string' }, ...detectOptions } }),
            ...multipart(['file'], { file: binary, ...detectOptions }),
          }),
          responses: {
            '200': response('Objects, best first', {
              type: 'object',
              properties: {
                image: { type: 'object', properties: { width: { type: 'integer' }, height: { type: 'integer' } } },
                objects: { type: 'array', items: { type: 'object', properties: { bbox: { type: 'array', items: { type: 'number' }, description: '[x1, y1, x2, y2]' }, label: { type: 'string' }, score: { type: 'number' } } } },
              },
            }),
            ...errors,
          },
        },
      },
      '/v1/shop-the-look': {
        post: {
          summary: 'Shop The Look: detect, crop, embed and retrieve products per object (or search the crop box given)',
          requestBody: body({
            ...json(ref('ShopTheLookRequest')),
            'multipart/form-data': { schema: { allOf: [ref('ShopTheLookRequest'), { type: 'object', properties: { file: binary } }] } },
          }),
          responses: {
            '200': response(
              'Objects with their products',
              {
                type: 'object',
                properties: {
                  image: { type: 'object' },
                  index: { type: 'string' },
                  objects: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        bbox: { type: 'array', items: { type: 'number' } },
                        label: { type: ['string', 'null'] },
                        score: { type: ['number', 'null'] },
                        categories: { type: ['array', 'null'], items: { type: 'string' } },
                        products: { type: 'array', items: { type: 'object' } },
                      },
                    },
                  },
                },
              },
            ),
            ...errors,
          },
        },
      },
      '/ping': { get: { summary: 'Immich: liveness', responses: { '200': { description: 'pong', content: text({ type: 'string', const: 'pong' }) } } } },
      '/predict': {
        post: {
          summary: 'Immich machine-learning contract (CLIP only)',
          requestBody: body(
            multipart(['entries'], {
              entries: { type: 'string', description: 'JSON: {"clip": {"visual": {"modelName": …}}} or {"clip": {"textual": {"modelName": …}}}' },
              image: binary,
              text: { type: 'string' },
            }),
          ),
          responses: {
            '200': response('The embedding as a JSON string, as Immich stores it', {
              type: 'object',
              properties: { clip: { type: 'string' }, imageHeight: { type: 'integer' }, imageWidth: { type: 'integer' } },
            }),
            '400': error,
            '422': error,
          },
        },
      },
      '/healthz': { get: { summary: 'Liveness, with the execution provider each model runs on', responses: { '200': { description: 'OK' } } } },
      '/readyz': { get: { summary: 'Readiness: models loaded and not shutting down', responses: { '200': { description: 'Ready' }, '503': { description: 'Shutting down' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Metrics', content: text({ type: 'string' }) } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI document' } } } },
      '/docs': { get: { summary: 'Interactive API documentation', responses: { '200': { description: 'HTML page' } } } },
    },
    components: {
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['message', 'type', 'code'],
              properties: {
                message: { type: 'string' },
                type: { type: 'string' },
                code: { type: 'string' },
                param: { type: ['string', 'null'] },
                request_id: { type: 'string' },
              },
            },
          },
        },
        EmbeddingInputItem: {
          oneOf: [
            { type: 'string', description: 'A text' },
            { type: 'object', required: ['text'], properties: { text: { type: 'string' } }, additionalProperties: false },
            {
              type: 'object',
              required: ['image'],
              properties: { image: { type: 'string', description: 'http(s) URL (fetched with SSRF protection), data: URI, or base64' } },
              additionalProperties: false,
            },
          ],
        },
        EmbeddingsRequest: {
          type: 'object',
          required: ['input'],
          properties: {
            input: { oneOf: [ref('EmbeddingInputItem'), { type: 'array', minItems: 1, items: ref('EmbeddingInputItem') }] },
            model: { type: 'string', description: 'A loaded model id; the default model when omitted' },
            encoding_format: {
              type: 'string',
              enum: ['float', 'base64', 'ubinary'],
              default: 'float',
              description: 'base64: little-endian float32; ubinary: packed sign bits as unsigned bytes, MSB first (numpy packbits)',
            },
            dimensions: { type: 'integer', description: 'Must equal the model dimension if given' },
            user: { type: 'string' },
          },
        },
        EmbeddingsResponse: {
          type: 'object',
          properties: {
            object: { const: 'list' },
            data: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  object: { const: 'embedding' },
                  index: { type: 'integer' },
                  embedding: { oneOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string' }] },
                },
              },
            },
            model: { type: 'string' },
            model_version: { type: 'string' },
            dimension: { type: 'integer' },
            usage: {
              type: 'object',
              properties: {
                prompt_tokens: { type: 'integer' },
                total_tokens: { type: 'integer' },
                images: { type: 'integer' },
                truncated_inputs: { type: 'array', items: { type: 'integer' }, description: 'Indexes of texts cut to the context length' },
              },
            },
          },
        },
        Filter: {
          type: 'object',
          description: 'Applied inside the search, before cutting to the limit',
          properties: {
            category: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
            attributes: { type: 'object', additionalProperties: { oneOf: [{ type: ['string', 'number', 'boolean'] }, { type: 'array' }] } },
          },
        },
        CreateIndex: {
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
            model: { type: 'string' },
            vector_storage: { type: 'string', enum: ['f32', 'f16'], default: 'f32' },
            connectivity: { type: 'integer', default: 16 },
            expansion_add: { type: 'integer', default: 128 },
            expansion_search: { type: 'integer', default: 64 },
            exact_threshold: { type: 'integer', default: 20000, description: 'Indexes or filtered subsets up to this size are scanned exactly' },
          },
        },
        Index: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            model: { type: 'object', properties: { id: { type: 'string' }, version: { type: 'string' }, dimension: { type: 'integer' } } },
            model_loaded: { type: 'boolean' },
            count: { type: 'integer' },
            settings: { type: 'object' },
            bytes: { type: 'object' },
            created_at: { type: 'string' },
          },
        },
        NewItem: {
          type: 'object',
          required: ['id'],
          properties: {
            id: { type: 'string' },
            image: { type: 'string', description: 'URL, data URI or base64' },
            text: { type: 'string' },
            vector: { type: 'array', items: { type: 'number' } },
            model: { type: 'string', description: 'With vector: the model that produced it (checked)' },
            model_version: { type: 'string' },
            category: { type: ['string', 'null'] },
            attributes: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
            metadata: { type: 'object' },
            source_url: { type: ['string', 'null'] },
          },
        },
        Item: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            category: { type: ['string', 'null'] },
            attributes: { type: 'object' },
            metadata: { type: 'object' },
            source_url: { type: ['string', 'null'] },
            text: { type: ['string', 'null'] },
            model: { type: 'object' },
            created_at: { type: 'string' },
            updated_at: { type: 'string' },
          },
        },
        ItemResults: {
          type: 'object',
          properties: {
            results: {
              type: 'array',
              items: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string', enum: ['ok', 'error'] }, error: { type: 'object' } } },
            },
            succeeded: { type: 'integer' },
            failed: { type: 'integer' },
          },
        },
        SearchRequest: {
          type: 'object',
          required: ['query'],
          properties: {
            query: {
              oneOf: [
                { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
                { type: 'object', required: ['image'], properties: { image: { type: 'string' } } },
                { type: 'object', required: ['item_id'], properties: { item_id: { type: 'string' } } },
                { type: 'object', required: ['vector'], properties: { vector: { type: 'array', items: { type: 'number' } }, model: { type: 'string' }, model_version: { type: 'string' } } },
              ],
            },
            limit: { type: 'integer', default: 10, maximum: 1000 },
            filter: ref('Filter'),
            oversampling: { type: 'number', default: 4, description: 'Binary candidates = limit × oversampling' },
            rescore: { type: 'boolean', default: true },
            exact: { type: 'boolean', description: 'Scan every code instead of walking the graph' },
          },
        },
        SearchResults: {
          type: 'object',
          properties: {
            index: { type: 'string' },
            model: { type: 'object' },
            strategy: { type: 'string', enum: ['hnsw', 'exact', 'filtered-exact', 'filtered-hnsw'] },
            candidates: { type: 'integer' },
            took_ms: { type: 'number' },
            data: {
              type: 'array',
              items: {
                type: 'object',
                properties: { id: { type: 'string' }, score: { type: 'number' }, category: {}, attributes: {}, metadata: {}, source_url: {}, text: {} },
              },
            },
          },
        },
        ShopTheLookRequest: {
          type: 'object',
          required: ['index'],
          properties: {
            image: { type: 'string', description: 'URL, data URI or base64 (or a multipart file named "file")' },
            index: { type: 'string' },
            limit: { type: 'integer', default: 5, description: 'Products per object' },
            max_objects: { type: 'integer', default: 20 },
            min_score: { type: 'number', description: 'Lowest detection score (default LOOKBOOK_DETECT_CONFIDENCE)' },
            min_product_score: { type: 'number' },
            iou: { type: 'number' },
            crop: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4, description: 'Your own box [x1, y1, x2, y2]: no detection' },
            category_filter: { type: 'boolean', default: true, description: 'Restrict products to the catalog categories of each label (derived from the catalog, overridden per index or by LOOKBOOK_LABEL_CATEGORIES; see GET /v1/indexes/{name}/categories), when the catalog has categories; a label with none is searched unfiltered' },
            categories: { type: 'array', items: { type: 'string' }, description: 'With crop: restrict to these categories' },
          },
        },
        Model: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            object: { const: 'model' },
            version: { type: 'string' },
            dimension: { type: 'integer' },
            layout: { type: 'string', enum: ['lookbook', 'hf-clip', 'openclip'] },
            providers: { type: 'object', properties: { image: { type: 'string' }, text: { type: 'string' } } },
            context_length: { type: 'integer' },
            image_size: { type: 'object', properties: { width: { type: 'integer' }, height: { type: 'integer' } } },
            default: { type: 'boolean' },
          },
        },
      },
    },
  };
}
