import type { NextFunction, Request, Response } from 'express';
import multer from 'multer';
import { AppError, PayloadTooLargeError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';

const MULTER_STATUS: Record<string, [number, string]> = {
  LIMIT_FILE_SIZE: [413, 'image_too_large'],
  LIMIT_FILE_COUNT: [413, 'too_many_files'],
  LIMIT_PART_COUNT: [413, 'too_many_parts'],
  LIMIT_FIELD_COUNT: [413, 'too_many_fields'],
  LIMIT_FIELD_VALUE: [413, 'field_too_large'],
  LIMIT_FIELD_KEY: [400, 'field_name_too_long'],
  LIMIT_UNEXPECTED_FILE: [400, 'unexpected_file_field'],
  MISSING_FIELD_NAME: [400, 'missing_field_name'],
};

/** Maps errors that come from libraries (body parser, multer) to the service's own. */
function normalize(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof multer.MulterError) {
    const [status, code] = MULTER_STATUS[error.code] ?? [400, 'invalid_multipart'];
    const message = error.field ? `${error.message} (field ${error.field})` : error.message;
    return status === 413
      ? new PayloadTooLargeError(code, message, { param: error.field })
      : new ValidationError(message, { code, param: error.field });
  }
  const httpError = error as { status?: number; type?: string; message?: string };
  if (httpError && typeof httpError.status === 'number' && httpError.status >= 400 && httpError.status < 500) {
    if (httpError.type === 'entity.too.large') return new PayloadTooLargeError('body_too_large', 'the request body is too large');
    if (httpError.type === 'entity.parse.failed') return new ValidationError(`the body is not valid JSON: ${httpError.message}`, { code: 'invalid_json' });
    return new AppError(httpError.status, 'invalid_request_error', 'bad_request', httpError.message ?? 'bad request');
  }
  if (error instanceof Error && /Multipart: Boundary not found|Unexpected end of form|Malformed part header/i.test(error.message)) {
    return new ValidationError(`malformed multipart body: ${error.message}`, { code: 'invalid_multipart' });
  }
  return undefined;
}

/**
 * The one error middleware: every error becomes `{"error": {message, type, code, param}}` with
 * its status; anything unexpected is a 500, logged with its stack, and never takes the process down.
 */
export function errorMiddleware(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const known = normalize(error);
    const requestId = res.locals.requestId;
    if (!known) logger.error({ err: error, requestId, path: req.path }, 'unhandled error');
    else if (known.status >= 500) logger.warn({ code: known.code, requestId, path: req.path, msg: known.message }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const appError = known ?? new AppError(500, 'server_error', 'internal_error', 'internal server error');
    for (const [name, value] of Object.entries(appError.headers ?? {})) res.setHeader(name, value);
    res.status(appError.status).json({
      error: {
        message: appError.message,
        type: appError.type,
        code: appError.code,
        param: appError.param ?? null,
        ...(appError.details ?? {}),
        request_id: requestId,
      },
    });
  };
}

/** 404 for routes that do not exist, in the same envelope. */
export function notFoundHandler(req: Request, _res: Response, next: NextFunction) {
  next(new AppError(404, 'not_found_error', 'route_not_found', `no route ${req.method} ${req.path}`));
}
