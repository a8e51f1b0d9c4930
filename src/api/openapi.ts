/**
 * The OpenAPI 3.1 document served at `/openapi.json`. A test checks that every route the app
 * registers is documented here and that every documented path exists.
 */
const error = {
  description: 'Error',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};
const errors = {
  '400': error,
  '404': error,
  '413': error,
  '415': error,
  '429': { ...error, description: 'Encoder queue full; see Retry-After' },
  '503': error,
  '504': error,
};

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
      '/v1/embeddings': {
        post: {
          summary: 'Embed texts and images',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/EmbeddingsRequest' } } } },
          responses: { '200': { description: 'Embeddings', content: { 'application/json': { schema: { $ref: '#/components/schemas/EmbeddingsResponse' } } } }, ...errors },
        },
      },
      '/v1/embeddings/images': {
        post: {
          summary: 'Embed uploaded image files (multipart)',
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['file'],
                  properties: {
                    file: { type: 'array', items: { type: 'string', format: 'binary' }, description: 'One or more images, each in a field named "file"' },
                    model: { type: 'string' },
                    encoding_format: { type: 'string', enum: ['float', 'base64', 'ubinary'], default: 'float' },
                  },
                },
              },
            },
          },
          responses: { '200': { description: 'Embeddings, with filename, width and height per item', content: { 'application/json': { schema: { $ref: '#/components/schemas/EmbeddingsResponse' } } } }, ...errors },
        },
      },
      '/v1/models': {
        get: {
          summary: 'List loaded models',
          responses: { '200': { description: 'Models', content: { 'application/json': { schema: { type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: { $ref: '#/components/schemas/Model' } } } } } } } },
        },
      },
      '/v1/models/{id}': {
        get: {
          summary: 'Describe one model',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'Model', content: { 'application/json': { schema: { $ref: '#/components/schemas/Model' } } } }, '404': error },
        },
      },
      '/ping': { get: { summary: 'Immich: liveness', responses: { '200': { description: 'pong', content: { 'text/plain': { schema: { type: 'string', const: 'pong' } } } } } } },
      '/predict': {
        post: {
          summary: 'Immich machine-learning contract (CLIP only)',
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['entries'],
                  properties: {
                    entries: { type: 'string', description: 'JSON: {"clip": {"visual": {"modelName": …}}} or {"clip": {"textual": {"modelName": …}}}' },
                    image: { type: 'string', format: 'binary' },
                    text: { type: 'string' },
                  },
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'The embedding as a JSON string, as Immich stores it',
              content: { 'application/json': { schema: { type: 'object', properties: { clip: { type: 'string' }, imageHeight: { type: 'integer' }, imageWidth: { type: 'integer' } } } } },
            },
            '400': error,
            '422': error,
          },
        },
      },
      '/healthz': { get: { summary: 'Liveness, with the execution provider each model runs on', responses: { '200': { description: 'OK' } } } },
      '/readyz': { get: { summary: 'Readiness: models loaded and not shutting down', responses: { '200': { description: 'Ready' }, '503': { description: 'Shutting down' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
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
            input: { oneOf: [{ $ref: '#/components/schemas/EmbeddingInputItem' }, { type: 'array', minItems: 1, items: { $ref: '#/components/schemas/EmbeddingInputItem' } }] },
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
