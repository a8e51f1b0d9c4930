import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import ipaddr from 'ipaddr.js';
import { FetchError, PayloadTooLargeError } from '../errors.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has (injectable so tests can pretend DNS says anything). */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface ImageFetcherOptions {
  /** Whole-fetch deadline, redirects included. */
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  /** Exact `host` or `host:port` entries fetched even when they resolve to non-public addresses. */
  allowHosts: readonly string[];
  /** Skip the address check altogether (closed networks only). */
  allowPrivate: boolean;
  resolve?: HostResolver | undefined;
}

export const systemResolver: HostResolver = async (hostname) => {
  const addresses = await dnsLookup(hostname, { all: true, verbatim: true });
  return addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

/**
 * Whether an address may be fetched: only global unicast. Loopback, private, link-local
 * (cloud metadata at 169.254.169.254), carrier-grade NAT, unique-local, multicast, reserved and
 * unspecified ranges are refused, and IPv4-mapped IPv6 is judged as the IPv4 it carries.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}

/**
 * Fetches images from URLs a client gave, defending the network the server sits in (SSRF):
 * every hop's host is resolved and each address checked before connecting, the connection is
 * pinned to the checked address (no second DNS answer can slip in), redirects are followed by
 * hand and checked the same way, and time, size and content type are bounded.
 */
export class ImageFetcher {
  private readonly resolve: HostResolver;

  constructor(private readonly options: ImageFetcherOptions) {
    this.resolve = options.resolve ?? systemResolver;
  }

  async fetch(url: string, signal?: AbortSignal): Promise<Uint8Array> {
    const combined = this.deadline(this.options.timeoutMs, signal);
    const { response, url: final } = await this.follow(url, combined, 'image/*');
    return this.readBody(final, response, combined);
  }

  /**
   * Streams a text document (a JSONL manifest) to `path` under the same address rules, with its
   * own size cap and deadline; any text, JSON or binary content type is taken, but not a web page
   * (`text/html`, `application/xhtml+xml`: an error or sign-in page answered with 200 in place of
   * the manifest), refused as `manifest_not_jsonl` before its body is read.
   */
  async fetchToFile(url: string, path: string, limits: { maxBytes: number; timeoutMs: number }, signal?: AbortSignal): Promise<number> {
    const combined = this.deadline(limits.timeoutMs, signal);
    const { response, url: final } = await this.follow(url, combined, 'application/x-ndjson, application/jsonl, application/json, text/plain, */*');
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      response.resume();
      throw new FetchError('url_fetch_failed', `fetching ${final} answered HTTP ${status}`, { details: { upstream_status: status }, retryable: status >= 500 || status === 429 });
    }
    const type = String(response.headers['content-type'] ?? '').toLowerCase();
    const page = /^\s*(text\/html|application\/xhtml\+xml)\s*(;|$)/.exec(type);
    if (page) {
      response.resume();
      throw new FetchError('manifest_not_jsonl', `${final} served ${page[1]}, expected JSON lines (one item per line): a web page, such as an error or sign-in page, answered in place of the manifest`);
    }
    const declared = Number(response.headers['content-length'] ?? NaN);
    if (declared > limits.maxBytes) {
      response.destroy();
      throw new PayloadTooLargeError('manifest_too_large', `${final} is ${declared} bytes; at most ${limits.maxBytes} are accepted`);
    }
    let size = 0;
    const out = createWriteStream(path);
    try {
      await pipeline(
        response,
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            size += chunk.length;
            if (size > limits.maxBytes) callback(new PayloadTooLargeError('manifest_too_large', `${final} is larger than ${limits.maxBytes} bytes`));
            else callback(null, chunk);
          },
        }),
        out,
      );
    } catch (error) {
      if (error instanceof PayloadTooLargeError) throw error;
      throw this.describe(final, error, combined);
    }
    return size;
  }

  private deadline(timeoutMs: number, signal?: AbortSignal): AbortSignal {
    const deadline = AbortSignal.timeout(timeoutMs);
    return signal ? AbortSignal.any([signal, deadline]) : deadline;
  }

  /** Requests `url`, following redirects by hand, each hop's address checked; returns the last response. */
  private async follow(url: string, signal: AbortSignal, accept: string): Promise<{ response: http.IncomingMessage; url: URL }> {
    let current = parseUrl(url);
    for (let hop = 0; ; hop++) {
      const address = await this.checkedAddress(current);
      const response = await this.request(current, address, signal, accept);
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location) {
        response.resume();
        if (hop >= this.options.maxRedirects) {
          throw new FetchError('url_too_many_redirects', `more than ${this.options.maxRedirects} redirects fetching ${url}`);
        }
        current = parseUrl(new URL(response.headers.location, current).toString());
        continue;
      }
      return { response, url: current };
    }
  }

  private async checkedAddress(url: URL): Promise<ResolvedAddress> {
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: ResolvedAddress[];
    const literal = isIP(hostname);
    if (literal) {
      addresses = [{ address: hostname, family: literal === 6 ? 6 : 4 }];
    } else {
      try {
        addresses = await this.resolve(hostname);
      } catch (error) {
        throw new FetchError('url_unresolvable', `cannot resolve ${hostname}`, { cause: error });
      }
      if (addresses.length === 0) throw new FetchError('url_unresolvable', `cannot resolve ${hostname}`);
    }
    const allowed = this.options.allowPrivate || this.options.allowHosts.includes(hostname) || this.options.allowHosts.includes(url.host);
    if (!allowed) {
      const refused = addresses.find((entry) => !isPublicAddress(entry.address));
      if (refused) {
        throw new FetchError(
          'url_not_allowed',
          `refusing to fetch ${url.host}: it resolves to ${refused.address}, a non-public address (allow it with LOOKBOOK_FETCH_ALLOW_HOSTS)`,
        );
      }
    }
    return addresses[0]!;
  }

  private request(url: URL, pinned: ResolvedAddress, signal: AbortSignal, accept: string): Promise<http.IncomingMessage> {
    // The socket connects to the address that was checked, whatever DNS would answer now.
    const lookup: LookupFunction = (_hostname, options, callback) => {
      if (options.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
      else callback(null, pinned.address, pinned.family);
    };
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = client.get(url, { lookup, signal, headers: { accept, 'user-agent': 'lookbook-image-fetcher' } }, resolve);
      request.on('error', (error) => reject(this.describe(url, error, signal)));
    });
  }

  private async readBody(url: URL, response: http.IncomingMessage, signal: AbortSignal): Promise<Uint8Array> {
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      response.resume();
      // The caller's mistake (404, 403) is final; a failing or throttling server may answer later.
      throw new FetchError('url_fetch_failed', `fetching ${url} answered HTTP ${status}`, {
        details: { upstream_status: status },
        retryable: status >= 500 || status === 429,
      });
    }
    const type = String(response.headers['content-type'] ?? '').toLowerCase();
    if (!type.startsWith('image/') && !type.startsWith('application/octet-stream')) {
      response.resume();
      throw new FetchError('url_not_an_image', `${url} has content type ${JSON.stringify(type || 'none')}, not an image`, { status: 415 });
    }
    const declared = Number(response.headers['content-length'] ?? NaN);
    if (declared > this.options.maxBytes) {
      response.destroy();
      throw new PayloadTooLargeError('image_too_large', `${url} is ${declared} bytes; at most ${this.options.maxBytes} are accepted`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response) {
        size += (chunk as Buffer).length;
        if (size > this.options.maxBytes) {
          response.destroy();
          throw new PayloadTooLargeError('image_too_large', `${url} is larger than ${this.options.maxBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      if (error instanceof PayloadTooLargeError) throw error;
      throw this.describe(url, error, signal);
    }
    return Buffer.concat(chunks);
  }

  private describe(url: URL, error: unknown, signal: AbortSignal): FetchError {
    if (signal.aborted) {
      return new FetchError('url_fetch_timeout', `fetching ${url} took longer than ${this.options.timeoutMs} ms`, { cause: error, retryable: true });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new FetchError('url_fetch_failed', `fetching ${url} failed: ${message}`, { cause: error, retryable: true });
  }
}

function parseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new FetchError('invalid_url', `not a valid URL: ${value.slice(0, 200)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FetchError('url_scheme_not_allowed', `only http and https URLs are fetched, not ${url.protocol}`);
  }
  return url;
}
