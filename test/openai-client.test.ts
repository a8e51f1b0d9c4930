import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('the official openai client', () => {
  it('gets the same vectors as the encoder produces (it asks for base64 by default)', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
    const input = ['red leather handbag', 'a cup of coffee', 'running shoes'];
    const response = await client.embeddings.create({ model: 'lookbook-fixture', input });
    expect(response.model).toBe('lookbook-fixture');
    expect(response.data).toHaveLength(3);
    // The same three texts straight into the encoder, batched together as the request was.
    const model = server.services.registry.get('lookbook-fixture');
    const direct = await Promise.all(input.map((text) => model.embedText(text)));
    input.forEach((_, i) => expect(response.data[i]!.embedding).toEqual(Array.from(direct[i]!.vector)));
    expect(response.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('surfaces the error envelope as an APIError with status and code', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const error = await client.embeddings.create({ model: 'missing-model', input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(404);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_found');
  });
});
