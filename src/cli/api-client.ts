/** A small client of Lookbook's HTTP API, for the CLI. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
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

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey?: string,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let payload: RequestInit['body'];
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload });
    } catch (error) {
      throw new ApiError(0, 'unreachable', `cannot reach ${this.baseUrl}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message} (start it with \`npm start\`, or pass --server)`);
    }
    const text = await response.text();
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(response.status, error?.code ?? 'http_error', error?.message ?? `${method} ${path} answered ${response.status}`);
    }
    return json as T;
  }

  job(id: string): Promise<JobView> {
    return this.request('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }
}
