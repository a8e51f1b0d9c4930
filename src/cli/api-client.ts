/** A small client of Lookbook's HTTP API, for the CLI. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The answer's Retry-After in seconds, when it gave one (a 429 or 503): how long a retry should wait. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A Retry-After header given in seconds (the service's form); undefined for none or an HTTP date. */
function retryAfterOf(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  const seconds = value === null || value.trim() === '' ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

export interface JobView {
  id: string;
  type: string;
  index: string;
  state: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  open: boolean;
  progress: { total: number; done: number; failed: number };
  items_per_second: number;
  eta_seconds: number | null;
  created_at: string;
  finished_at: string | null;
  source_model?: { id: string; version: string };
  target_model?: { id: string; version: string };
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
}

export interface ApiClientOptions {
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /**
   * How long one request may take, answer included, before it fails with `timeout`.
   * @defaultValue 120_000
   */
  timeoutMs?: number;
}

/**
 * Why a key cannot be sent, or undefined when it can: an HTTP header carries only bytes, so a
 * key with characters beyond Latin-1 (or control characters) would fail inside fetch.
 */
export function apiKeyProblem(key: string): string | undefined {
  // Keys are printable ASCII (`lookbook keys create` makes `lbk_<id>_<base64url>`).
  return /^[\x21-\x7e]+$/.test(key) ? undefined : 'the API key (--api-key or LOOKBOOK_API_KEY) has characters an HTTP header cannot carry (spaces, control or non-ASCII characters)';
}

/** Node's fetch wraps the reason in `cause`; TLS reasons come as OpenSSL strings. */
function networkFailure(baseUrl: string, error: unknown): ApiError {
  const cause = error instanceof Error && error.cause instanceof Error ? (error.cause as Error & { code?: string }) : undefined;
  const code = cause?.code ?? '';
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return new ApiError(0, 'tls_error', `${baseUrl} does not speak TLS: is it an http:// server? (--server)`);
  }
  if (/^ERR_SSL_|^ERR_TLS_|^EPROTO$|CERT|^UNABLE_TO_|^DEPTH_ZERO_/.test(code)) {
    const reason = /SSL routines:[^:]*:([^:]+)/.exec(cause!.message)?.[1] ?? cause!.message;
    return new ApiError(0, 'tls_error', `TLS with ${baseUrl} failed: ${reason}`);
  }
  const reason = cause?.message ?? (error instanceof Error ? error.message : String(error));
  return new ApiError(0, 'unreachable', `cannot reach ${baseUrl}: ${reason} (start it with \`npm start\`, or pass --server)`);
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}

export class ApiClient {
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;

  /** @throws ApiError `invalid_api_key` when the key cannot be sent in a header. */
  constructor(
    readonly baseUrl: string,
    options: ApiClientOptions = {},
  ) {
    const problem = options.apiKey ? apiKeyProblem(options.apiKey) : undefined;
    if (problem) throw new ApiError(0, 'invalid_api_key', problem);
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let payload: RequestInit['body'];
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const timedOut = () => new ApiError(0, 'timeout', `${this.baseUrl} did not answer ${method} ${path} within ${this.timeoutMs / 1000} s (LOOKBOOK_CLIENT_TIMEOUT_MS)`);
    // One deadline for the whole exchange: a server that accepts and never answers, or stops mid-body.
    const signal = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload, signal });
      text = await response.text();
    } catch (error) {
      throw isTimeout(error) ? timedOut() : networkFailure(this.baseUrl, error);
    }
    let json: unknown;
    try {
      json = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      const type = response.headers.get('content-type')?.split(';')[0] ?? 'no content type';
      throw new ApiError(response.status, 'not_json', `${method} ${path} answered ${response.status} with ${type}, not JSON: is ${this.baseUrl} a Lookbook server? (--server)`);
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(response.status, error?.code ?? 'http_error', error?.message ?? `${method} ${path} answered ${response.status}`, retryAfterOf(response));
    }
    return json as T;
  }

  job(id: string): Promise<JobView> {
    return this.request('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }
}
