import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFetcher, isPublicAddress, type HostResolver } from '../src/media/image-fetcher.js';
import { listenLocal } from './helpers/http-server.js';

const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

type Local = Awaited<ReturnType<typeof listenLocal>>;
let images: Local;
let secret: Local;
let connectionsToSecret = 0;

beforeAll(async () => {
  secret = await listenLocal((_req, res) => {
    connectionsToSecret += 1;
    res.setHeader('content-type', 'image/png');
    res.end(PNG_1x1);
  });
  images = await listenLocal((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/pixel.png':
        res.setHeader('content-type', 'image/png');
        res.end(PNG_1x1);
        return;
      case '/to-secret':
        res.writeHead(302, { location: `http://127.0.0.1:${secret.port}/metadata` });
        res.end();
        return;
      case '/loop':
        res.writeHead(301, { location: '/loop' });
        res.end();
        return;
      case '/page.html':
        res.setHeader('content-type', 'text/html');
        res.end('<html></html>');
        return;
      case '/big-declared':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(2_000_000) });
        res.end(Buffer.alloc(2_000_000));
        return;
      case '/big-chunked':
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        for (let i = 0; i < 20; i++) res.write(Buffer.alloc(100_000));
        res.end();
        return;
      case '/never':
        return; // holds the request open
      default:
        res.writeHead(404).end();
    }
  });
});

afterAll(async () => {
  await images.close();
  await secret.close();
});

function fetcher(options: { allowHosts?: string[]; resolve?: HostResolver; timeoutMs?: number } = {}) {
  return new ImageFetcher({
    timeoutMs: options.timeoutMs ?? 2_000,
    maxBytes: 1_000_000,
    maxRedirects: 3,
    allowHosts: options.allowHosts ?? [`127.0.0.1:${images.port}`],
    allowPrivate: false,
    resolve: options.resolve,
  });
}

describe('isPublicAddress', () => {
  it('accepts global unicast and refuses every internal range', () => {
    expect(['8.8.8.8', '151.101.1.1', '2606:4700::1111'].map(isPublicAddress)).toEqual([true, true, true]);
    const internal = ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '224.0.0.1', 'not-an-ip'];
    expect(internal.filter(isPublicAddress)).toEqual([]);
  });
});

describe('ImageFetcher', () => {
  it('fetches an image from an allow-listed host', async () => {
    const bytes = await fetcher().fetch(`${images.origin}/pixel.png`);
    expect(Buffer.from(bytes).equals(PNG_1x1)).toBe(true);
  });

  it('refuses a private address literal', async () => {
    await expect(fetcher().fetch('http://10.0.0.7/cat.jpg')).rejects.toMatchObject({ code: 'url_not_allowed', status: 400 });
    await expect(fetcher().fetch('http://169.254.169.254/latest/meta-data/')).rejects.toMatchObject({ code: 'url_not_allowed' });
    await expect(fetcher().fetch('http://[::1]:80/x.png')).rejects.toMatchObject({ code: 'url_not_allowed' });
  });

  it('refuses a hostname that resolves to a private address', async () => {
    const resolve: HostResolver = async () => [{ address: '93.184.216.34', family: 4 }, { address: '192.168.0.10', family: 4 }];
    await expect(fetcher({ resolve }).fetch('http://images.example.com/cat.jpg')).rejects.toMatchObject({
      code: 'url_not_allowed',
      message: expect.stringContaining('192.168.0.10'),
    });
  });

  it('refuses a loopback address that is not allow-listed, even on another port of an allowed host', async () => {
    const before = connectionsToSecret;
    await expect(fetcher().fetch(`http://127.0.0.1:${secret.port}/metadata`)).rejects.toMatchObject({ code: 'url_not_allowed' });
    expect(connectionsToSecret).toBe(before);
  });

  it('refuses a redirect from an allow-listed server to a loopback port that is not allowed', async () => {
    const before = connectionsToSecret;
    await expect(fetcher().fetch(`${images.origin}/to-secret`)).rejects.toMatchObject({ code: 'url_not_allowed' });
    expect(connectionsToSecret).toBe(before);
  });

  it('connects to the address it checked, not to what DNS says later', async () => {
    // The resolver is consulted once per hop; a name only it knows proves the socket used the pinned address.
    let calls = 0;
    const resolve: HostResolver = async () => {
      calls += 1;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const bytes = await fetcher({ resolve, allowHosts: [`pinned.lookbook.test:${images.port}`] }).fetch(`http://pinned.lookbook.test:${images.port}/pixel.png`);
    expect(bytes.length).toBe(PNG_1x1.length);
    expect(calls).toBe(1);
  });

  it('gives up after too many redirects', async () => {
    await expect(fetcher().fetch(`${images.origin}/loop`)).rejects.toMatchObject({ code: 'url_too_many_redirects' });
  });

  it('refuses what is not an image, and schemes other than http(s)', async () => {
    await expect(fetcher().fetch(`${images.origin}/page.html`)).rejects.toMatchObject({ code: 'url_not_an_image', status: 415 });
    await expect(fetcher().fetch('file:///etc/passwd')).rejects.toMatchObject({ code: 'url_scheme_not_allowed' });
    await expect(fetcher().fetch('gopher://127.0.0.1/')).rejects.toMatchObject({ code: 'url_scheme_not_allowed' });
  });

  it('caps the size, whether declared or streamed', async () => {
    await expect(fetcher().fetch(`${images.origin}/big-declared`)).rejects.toMatchObject({ code: 'image_too_large', status: 413 });
    await expect(fetcher().fetch(`${images.origin}/big-chunked`)).rejects.toMatchObject({ code: 'image_too_large', status: 413 });
  });

  it('times out a server that never answers', async () => {
    const started = Date.now();
    await expect(fetcher({ timeoutMs: 300 }).fetch(`${images.origin}/never`)).rejects.toMatchObject({ code: 'url_fetch_timeout' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('reports a missing resource with the upstream status', async () => {
    await expect(fetcher().fetch(`${images.origin}/nothing.png`)).rejects.toMatchObject({ code: 'url_fetch_failed', message: expect.stringContaining('404') });
  });
});
