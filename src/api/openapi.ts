import { openApiDocument as generate } from './contract.js';
import { operations } from './operations.js';

/**
 * The OpenAPI 3.1 document served at `/openapi.json`, generated from the operations' zod schemas
 * (src/api/operations.ts). A test checks that it documents exactly the routes the app serves.
 */
export function openApiDocument(version: string) {
  return generate(operations, version);
}
