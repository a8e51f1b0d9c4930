import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiError } from '../src/cli/api-client.js';

/** Answers every request with 429, with a Retry-After of 7 s where the path names "slow". */
const server = createServer((req, res) => {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (req.url?.includes('slow')) headers['retry-after'] = '7';
  res.writeHead(429, headers).end(JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } }));
});
let origin = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('ApiClient errors', () => {
  it('keeps the Retry-After of a 429 in seconds, for the CLI to wait as long before trying again', async () => {
    const client = new ApiClient(origin);
    const slow = await client.job('slow').catch((error: unknown) => error);
    expect(slow).toBeInstanceOf(ApiError);
    expect(slow).toMatchObject({ status: 429, code: 'rate_limited', retryAfterSeconds: 7 });
    const plain = await client.job('plain').catch((error: unknown) => error);
    expect(plain).toMatchObject({ status: 429, code: 'rate_limited', retryAfterSeconds: undefined });
  });
});
