/** The `type` field of an error response, as in OpenAI's error envelope. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable_error'
  | 'timeout_error';

/**
 * Values quoted for an error message, up to `limit` of them and how many more: a request's
 * thousands of unknown names are not echoed back whole.
 */
export function nameSome(values: readonly string[], limit = 20): string {
  const named = values.slice(0, limit).map((value) => JSON.stringify(value)).join(', ');
  return values.length > limit ? `${named} and ${values.length - limit} more` : named;
}

export interface AppErrorOptions {
  /** The request field the error is about, e.g. `input[2].image`. */
  param?: string | undefined;
  cause?: unknown;
  /** Extra fields added to the error body (e.g. the list of available models). */
  details?: Record<string, unknown> | undefined;
  /** Response headers to set (e.g. `Retry-After`). */
  headers?: Record<string, string> | undefined;
  /**
   * Whether the same input may succeed later (a timeout, an overloaded or failing upstream), so
   * background jobs retry it. @defaultValue true for 429 and 5xx, false otherwise
   */
  retryable?: boolean | undefined;
}

/**
 * Base of every error the service answers on purpose. `code` is stable and machine-readable;
 * callers branch on it, never on `message`.
 */
export class AppError extends Error {
  param: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly retryable: boolean;

  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.param = options.param;
    this.details = options.details;
    this.headers = options.headers;
    this.retryable = options.retryable ?? (status === 429 || status >= 500);
  }

  /** Names the request field this error is about (e.g. `input[3]`), prefixing the message. */
  about(param: string): this {
    if (this.param === undefined) {
      this.param = param;
      this.message = `${param}: ${this.message}`;
    }
    return this;
  }
}

/** A request that does not match the API's schema or limits (400). */
export class ValidationError extends AppError {
  constructor(message: string, options: AppErrorOptions & { code?: string } = {}) {
    super(400, 'invalid_request_error', options.code ?? 'invalid_request', message, options);
  }
}

/** The request conflicts with the state of a resource (an index that exists, another model). */
export class ConflictError extends AppError {
  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(409, 'invalid_request_error', code, message, options);
  }
}

export class NotFoundError extends AppError {
  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(404, 'not_found_error', code, message, options);
  }
}

/** Image bytes that cannot be decoded: corrupt, truncated, or of an unsupported format. */
export class UnsupportedImageError extends AppError {
  constructor(code: 'unsupported_image' | 'invalid_image', message: string, options: AppErrorOptions = {}) {
    super(code === 'unsupported_image' ? 415 : 400, 'invalid_request_error', code, message, options);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(413, 'invalid_request_error', code, message, options);
  }
}

/** A remote image URL that was refused or could not be fetched. */
export class FetchError extends AppError {
  constructor(code: string, message: string, options: AppErrorOptions & { status?: number } = {}) {
    super(options.status ?? 400, 'invalid_request_error', code, message, options);
  }
}

export class OverloadedError extends AppError {
  constructor(retryAfterSeconds: number) {
    super(429, 'rate_limit_error', 'overloaded', 'the encoder queue is full; retry later', {
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

export class ModelUnavailableError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(503, 'service_unavailable_error', 'model_unavailable', message, options);
  }
}

export class TimeoutError extends AppError {
  constructor(message = 'the request took too long') {
    super(504, 'timeout_error', 'timeout', message);
  }
}

export class ShuttingDownError extends AppError {
  constructor() {
    super(503, 'service_unavailable_error', 'shutting_down', 'the server is shutting down', {
      headers: { 'Retry-After': '5', Connection: 'close' },
    });
  }
}

/** Background jobs need Redis, which does not answer (or is not configured). */
export class QueueUnavailableError extends AppError {
  constructor(message: string) {
    super(503, 'service_unavailable_error', 'queue_unavailable', message, { headers: { 'Retry-After': '5' } });
  }
}
