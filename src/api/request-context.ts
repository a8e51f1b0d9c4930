import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { TimeoutError } from '../errors.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      requestId: string;
      /** Aborted when the request times out or the client goes away; pass it to long work. */
      signal: AbortSignal;
    }
  }
}

/**
 * Gives each request an id (echoed in `X-Request-Id`) and a deadline. When the deadline passes
 * the client gets a 504 at once and the request's queued encoder work is dropped.
 */
export function requestContext(timeoutMs: number) {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.get('x-request-id');
    res.locals.requestId = incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', res.locals.requestId);
    const controller = new AbortController();
    res.locals.signal = controller.signal;
    const timer = setTimeout(() => {
      const error = new TimeoutError(`the request took longer than ${timeoutMs} ms`);
      controller.abort(error);
      if (!res.headersSent) next(error);
    }, timeoutMs);
    timer.unref();
    res.on('close', () => {
      clearTimeout(timer);
      if (!res.writableFinished) controller.abort(new Error('client closed the connection'));
    });
    next();
  };
}
