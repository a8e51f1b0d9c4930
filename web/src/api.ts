/** The service's HTTP API as the web app uses it: the key from localStorage, errors as ApiError. */

const KEY_STORAGE = 'lookbook.apiKey';
const KEY_EVENT = 'lookbook:key';

export function storedKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

/** Keeps the key in this browser and tells the views to load again. */
export function saveKey(key: string): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage may be off (private mode): the key then lasts until the page is left.
  }
  memoryKey = key;
  window.dispatchEvent(new Event(KEY_EVENT));
}

let memoryKey = storedKey();
export const currentKey = () => memoryKey;

export function onKeyChange(listener: () => void): () => void {
  window.addEventListener(KEY_EVENT, listener);
  return () => window.removeEventListener(KEY_EVENT, listener);
}

/** An error the service answered (its envelope), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly type: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export function authHeaders(): Record<string, string> {
  const key = currentKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

interface CallOptions {
  method?: string;
  json?: unknown;
  form?: FormData;
  signal?: AbortSignal | undefined;
}

async function toError(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error: { message: string; code: string; type: string; param?: string | null } };
    return new ApiError(error.message, response.status, error.code, error.type, error.param ?? null);
  } catch {
    return new ApiError(text.slice(0, 200) || response.statusText || `HTTP ${response.status}`, response.status, `http_${response.status}`, 'http_error');
  }
}

/** Calls the API and answers the parsed JSON; throws ApiError for any non-2xx answer. */
export async function call<T>(path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() };
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) body = options.form;
  let response: Response;
  try {
    response = await fetch(path, { method: options.method ?? (body ? 'POST' : 'GET'), headers, body: body ?? null, signal: options.signal ?? null });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(`the service did not answer (${(error as Error).message})`, 0, 'network_error', 'network_error');
  }
  if (!response.ok) throw await toError(response);
  return (await response.json()) as T;
}

export const isAbort = (error: unknown) => (error as Error | undefined)?.name === 'AbortError';

/**
 * Follows a job's Server-Sent Events with fetch (EventSource cannot send the Authorization
 * header). Resolves when the stream ends; abort the signal to leave early.
 */
export async function followEvents(path: string, onEvent: (event: string, data: string) => void, signal: AbortSignal): Promise<void> {
  const response = await fetch(path, { headers: { Accept: 'text/event-stream', ...authHeaders() }, signal });
  if (!response.ok) throw await toError(response);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  }
}

export const itemImageUrl = (index: string, id: string) => `/v1/indexes/${encodeURIComponent(index)}/items/${encodeURIComponent(id)}/image`;
