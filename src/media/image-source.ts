import { FetchError, PayloadTooLargeError, ValidationError } from '../errors.js';
import type { ImageFetcher } from './image-fetcher.js';

export interface ImageSourceOptions {
  maxBytes: number;
  /** Undefined when server-side fetching is disabled. */
  fetcher: ImageFetcher | undefined;
}

const DATA_URI = /^data:([^,;]*)((?:;[^,;]*)*?)(;base64)?,/i;
const BARE_BASE64 = /^[A-Za-z0-9+/=\s_-]+$/;

/**
 * A data: URI's payload as bytes (RFC 2397): each `%XX` is one byte (binary data percent-encoded),
 * other characters are their UTF-8 bytes; a `%` without two hex digits is the caller's error.
 */
export function percentDecoded(payload: string): Buffer {
  const bytes = Buffer.from(payload, 'utf8');
  const out = Buffer.alloc(bytes.length);
  let length = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x25) {
      out[length++] = bytes[i]!;
      continue;
    }
    const hex = bytes.subarray(i + 1, i + 3).toString('latin1');
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new ValidationError(`the data: URI has a malformed percent escape at byte ${i} (send binary data with ;base64)`, { code: 'invalid_image_reference' });
    out[length++] = parseInt(hex, 16);
    i += 2;
  }
  return out.subarray(0, length);
}

/**
 * Turns an image reference from a request into bytes: an `http(s)` URL (fetched under the SSRF
 * rules), a `data:` URI, or bare base64 (as Jina and Cohere clients send).
 */
export async function loadImageReference(reference: string, options: ImageSourceOptions, signal?: AbortSignal): Promise<Uint8Array> {
  const trimmed = reference.trim();
  const dataUri = DATA_URI.exec(trimmed);
  if (dataUri) {
    const payload = trimmed.slice(dataUri[0].length);
    return checkSize(
      dataUri[3] ? decodeBase64(payload) : percentDecoded(payload),
      options.maxBytes,
    );
  }
  if (/^https?:\/\//i.test(trimmed)) {
    if (!options.fetcher) throw new FetchError('url_fetch_disabled', 'fetching image URLs is disabled on this server; send the image bytes');
    return options.fetcher.fetch(trimmed, signal);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed) && !BARE_BASE64.test(trimmed)) {
    throw new FetchError('url_scheme_not_allowed', 'an image must be an http(s) URL, a data: URI or base64');
  }
  if (trimmed.length > 0 && BARE_BASE64.test(trimmed)) return checkSize(decodeBase64(trimmed), options.maxBytes);
  throw new ValidationError('an image must be an http(s) URL, a data: URI or base64', { code: 'invalid_image_reference' });
}

function decodeBase64(payload: string): Buffer {
  const bytes = Buffer.from(payload.replace(/\s+/g, ''), payload.includes('-') || payload.includes('_') ? 'base64url' : 'base64');
  if (bytes.length === 0) throw new ValidationError('the image data is empty', { code: 'invalid_image_reference' });
  return bytes;
}

function checkSize(bytes: Buffer, maxBytes: number): Buffer {
  if (bytes.length > maxBytes) {
    throw new PayloadTooLargeError('image_too_large', `the image is ${bytes.length} bytes; at most ${maxBytes} are accepted`);
  }
  return bytes;
}
