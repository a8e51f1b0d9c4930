import { Validator } from '@seriousme/openapi-schema-validator';
import express from 'express';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { expressPath, openApiDocument, type Operation } from '../src/api/contract.js';
import { operations } from '../src/api/operations.js';
import { contractViolation, responseCheck } from '../src/api/response-check.js';
import { indexDeletedResponse } from '../src/api/schemas/indexes.js';
import { listenLocal } from './helpers/http-server.js';

const deleteIndex = operations.find((operation) => operation.method === 'delete' && operation.path === '/v1/indexes/{name}')!;

describe('the API contract', () => {
  it('generates a valid OpenAPI 3.1 document from the operations', async () => {
    const document = openApiDocument(operations, '1.2.3');
    const result = await new Validator().validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // Request and response schemas come from zod, with their limits.
    const search = (document.paths['/v1/indexes/{name}/search'] as any).post;
    const request = search.requestBody.content['application/json'].schema;
    expect(request.properties.limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, default: 10 });
    expect(request.additionalProperties).toBe(false);
    expect(search.responses['200'].content['application/json'].schema.properties.data.items.required).toContain('score');
    expect(search.responses['401'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    expect(search['x-lookbook-scope']).toBe('read');
    // Multipart fields are documented too, files as binary.
    const shop = (document.paths['/v1/shop-the-look'] as any).post.requestBody.content['multipart/form-data'].schema;
    expect(shop.properties.file).toMatchObject({ type: 'string', format: 'binary' });
    expect(shop.properties.crop.prefixItems).toHaveLength(4);
    // Public routes need no key.
    expect((document.paths['/healthz'] as any).get.security).toEqual([]);
    expect(Object.keys(document.components.securitySchemes)).toEqual(['bearerAuth', 'apiKey']);
  });

  it('names every operation once, with a JSON schema for each JSON success response', () => {
    const keys = operations.map((operation) => `${operation.method} ${expressPath(operation.path)}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const operation of operations) {
      expect(Object.keys(operation.responses).length, `${operation.method} ${operation.path}`).toBeGreaterThan(0);
      for (const spec of Object.values(operation.responses)) expect(spec.json !== undefined || spec.content !== undefined).toBe(true);
    }
  });

  it('finds the breaches: a missing or extra field, an undocumented status, a body that is not the error envelope', () => {
    expect(contractViolation(deleteIndex, 200, { name: 'a', deleted: true })).toBeUndefined();
    expect(contractViolation(deleteIndex, 200, { name: 'a' })).toMatch(/deleted/);
    expect(contractViolation(deleteIndex, 200, { name: 'a', deleted: true, extra: 1 })).toMatch(/extra/);
    expect(contractViolation(deleteIndex, 201, { name: 'a', deleted: true })).toMatch(/status 201 is not documented/);
    expect(contractViolation(deleteIndex, 404, { error: { message: 'm', type: 't', code: 'index_not_found', param: null } })).toBeUndefined();
    expect(contractViolation(deleteIndex, 415, { error: { message: 'm', type: 't', code: 'x', param: null } })).toMatch(/status 415 \(x\) is not documented/);
    expect(contractViolation(deleteIndex, 404, { message: 'not found' })).toMatch(/not the error envelope/);
    // An error for a route that does not exist is only checked for its envelope.
    expect(contractViolation(undefined, 404, { error: { message: 'm', type: 't', code: 'route_not_found', param: null, request_id: 'r' } })).toBeUndefined();
  });

  it('answers a response that breaks the contract with a logged 500 when checking is on', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(new Writable({ write: (chunk, _e, done) => (lines.push(JSON.parse(String(chunk))), done()) }));
    const drifted: Operation = { ...deleteIndex, responses: { 200: { description: 'Deleted', json: indexDeletedResponse } } };
    const app = express();
    app.use(responseCheck([drifted], logger));
    app.delete('/v1/indexes/:name', (req, res) => {
      res.json(req.params.name === 'good' ? { name: 'good', deleted: true } : { name: req.params.name, removed: true });
    });
    const server = await listenLocal(app);
    try {
      const good = await fetch(`${server.origin}/v1/indexes/good`, { method: 'DELETE' });
      expect(good.status).toBe(200);
      expect(await good.json()).toEqual({ name: 'good', deleted: true });
      const bad = await fetch(`${server.origin}/v1/indexes/bad`, { method: 'DELETE' });
      expect(bad.status).toBe(500);
      const body = await bad.json();
      expect(body.error.code).toBe('response_contract_violation');
      expect(body.error.message).toMatch(/removed|deleted/);
      expect(lines.some((line) => line.msg === 'response breaks the API contract' && line.route === '/v1/indexes/{name}')).toBe(true);
    } finally {
      await server.close();
    }
  });
});
