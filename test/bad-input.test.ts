import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResolver } from '../src/media/image-fetcher.js';
import { listenLocal } from './helpers/http-server.js';
import { dataUri, gradientJpeg, hugePngHeader } from './helpers/images.js';
import { postJson, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let images: Awaited<ReturnType<typeof listenLocal>>;
let secret: Awaited<ReturnType<typeof listenLocal>>;
let secretHits = 0;
let jpeg: Buffer;

// Pretend DNS: one name that points inside the network, everything else unknown.
const resolve: HostResolver = async (hostname) => {
  if (hostname === 'internal.example.com') return [{ address: '10.20.30.40', family: 4 }];
  throw new Error(`ENOTFOUND ${hostname}`);
};

beforeAll(async () => {
  jpeg = await gradientJpeg();
  secret = await listenLocal((_req, res) => {
    secretHits += 1;
    res.setHeader('content-type', 'image/jpeg');
    res.end(jpeg);
  });
  images = await listenLocal((req, res) => {
    if (req.url === '/photo.jpg') {
      res.setHeader('content-type', 'image/jpeg');
      res.end(jpeg);
    } else if (req.url === '/redirect') {
      res.writeHead(302, { location: `http://127.0.0.1:${secret.port}/latest/meta-data` }).end();
    } else if (req.url === '/slow.jpg') {
      // never answers
    } else res.writeHead(404).end();
  });
  server = await startTestServer({ LOOKBOOK_FETCH_ALLOW_HOSTS: `127.0.0.1:${images.port}` }, { resolve });
});

afterAll(async () => {
  await server?.close();
  await images?.close();
  await secret?.close();
});

async function embedImage(bytes: Buffer, type = 'image/jpeg') {
  return postJson(`${server.url}/v1/embeddings`, { input: [{ text: 'fine' }, { image: dataUri(bytes, type) }] });
}

describe('bad images', () => {
  it('answers a truncated JPEG with 400 invalid_image naming the input', async () => {
    const { status, json } = await embedImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'invalid_image', param: 'input[1]', type: 'invalid_request_error' });
  });

  it('answers zero bytes with a 4xx', async () => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(0)]), 'empty.jpg');
    const response = await fetch(`${server.url}/v1/embeddings/images`, { method: 'POST', body: form });
    expect(response.status).toBe(415);
    expect((await response.json()).error.code).toBe('unsupported_image');
  });

  it('refuses a 30000×30000 PNG from its header, before decoding', async () => {
    const { status, json } = await embedImage(hugePngHeader(), 'image/png');
    expect(status).toBe(413);
    expect(json.error.code).toBe('image_too_many_pixels');
    expect(json.error.message).toContain('30000×30000');
  });

  it('answers a text file sent as an image with 415', async () => {
    const { status, json } = await embedImage(Buffer.from('just some words, not pixels\n'.repeat(20)), 'text/plain');
    expect(status).toBe(415);
    expect(json.error.code).toBe('unsupported_image');
  });

  it('answers a reference that is neither URL, data URI nor base64 with 400', async () => {
    const { status, json } = await postJson(`${server.url}/v1/embeddings`, { input: [{ image: 'not an image at all!' }] });
    expect(status).toBe(400);
    expect(json.error.param).toBe('input[0]');
  });

  it('keeps serving after every bad request', async () => {
    const { status } = await embedImage(jpeg);
    expect(status).toBe(200);
  });
});

describe('bad requests', () => {
  it.each([
    ['malformed JSON', '{"input": ', 'invalid_json'],
    ['a missing input', '{}', 'invalid_request'],
    ['an empty input list', '{"input": []}', 'invalid_request'],
    ['token-id input', '{"input": [[1, 2, 3]]}', 'unsupported_input'],
    ['an unknown encoding', '{"input": "x", "encoding_format": "int8"}', 'invalid_request'],
    ['an empty text', '{"input": ["ok", "  "]}', 'empty_input'],
    ['an unknown typed item', '{"input": [{"video": "x"}]}', 'invalid_request'],
  ])('answers %s with 400 in the error envelope', async (_name, body, code) => {
    const response = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(400);
    const json = await response.json();
    expect(json.error).toMatchObject({ code, type: 'invalid_request_error' });
    expect(typeof json.error.message).toBe('string');
    expect(json.error).toHaveProperty('param');
  });

  it('refuses more inputs than the limit', async () => {
    const { status, json } = await postJson(`${server.url}/v1/embeddings`, { input: Array.from({ length: 257 }, () => 'x') });
    expect(status).toBe(400);
    expect(json.error.code).toBe('too_many_inputs');
  });

  it('answers unknown routes with 404 in the envelope', async () => {
    const response = await fetch(`${server.url}/v2/nothing`);
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe('route_not_found');
  });
});

describe('image URLs (SSRF)', () => {
  it('fetches an allow-listed URL', async () => {
    const { status, json } = await postJson(`${server.url}/v1/embeddings`, { input: [{ image: `${images.origin}/photo.jpg` }] });
    expect(status).toBe(200);
    expect(json.data[0].embedding).toHaveLength(512);
  });

  it('refuses a private address', async () => {
    const { status, json } = await postJson(`${server.url}/v1/embeddings`, { input: [{ image: 'http://192.168.1.1/router.png' }] });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'url_not_allowed', param: 'input[0]' });
  });

  it('refuses a hostname that resolves to a private address', async () => {
    const { status, json } = await postJson(`${server.url}/v1/embeddings`, { input: [{ image: 'http://internal.example.com/a.jpg' }] });
    expect(status).toBe(400);
    expect(json.error.code).toBe('url_not_allowed');
    expect(json.error.message).toContain('10.20.30.40');
  });

  it('refuses a redirect from an allow-listed server to a loopback port that is not allowed', async () => {
    const before = secretHits;
    const { status, json } = await postJson(`${server.url}/v1/embeddings`, { input: [{ image: `${images.origin}/redirect` }] });
    expect(status).toBe(400);
    expect(json.error.code).toBe('url_not_allowed');
    expect(secretHits).toBe(before);
  });

  it('answers 504 when the request outlives its deadline', async () => {
    const slow = await startTestServer({ LOOKBOOK_FETCH_ALLOW_HOSTS: `127.0.0.1:${images.port}`, LOOKBOOK_REQUEST_TIMEOUT_MS: '300' });
    try {
      const { status, json } = await postJson(`${slow.url}/v1/embeddings`, { input: [{ image: `${images.origin}/slow.jpg` }] });
      expect(status).toBe(504);
      expect(json.error.code).toBe('timeout');
    } finally {
      await slow.close();
    }
  });
});
