import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger.js';

/** Probes that would drown the log: logged only when they fail. */
const QUIET = new Set(['/healthz', '/readyz', '/ping']);

/**
 * One log line per request (pino-http): request id, method, path, matched route, status,
 * latency and the API key's id — never the key, never headers or bodies.
 */
export function requestLog(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId: (_req: IncomingMessage, res: ServerResponse) => (res as Response).locals.requestId,
    quietReqLogger: true,
    quietResLogger: true,
    autoLogging: { ignore: (req: IncomingMessage) => QUIET.has((req as Request).path) && (req as Request).method === 'GET' },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${(req as Request).path} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${(req as Request).path} ${res.statusCode}`,
    customAttributeKeys: { reqId: 'request_id', responseTime: 'latency_ms' },
    customProps: (req: IncomingMessage, res: ServerResponse) => {
      const express = req as Request;
      const locals = (res as Response).locals;
      return {
        method: express.method,
        path: express.path,
        ...(express.route?.path ? { route: String(express.route.path) } : {}),
        ...(locals?.keyId ? { key_id: locals.keyId } : {}),
      };
    },
    serializers: { req: () => undefined, res: (res: { statusCode: number }) => ({ status: res.statusCode }) },
  });
}
