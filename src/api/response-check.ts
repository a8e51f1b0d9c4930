import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.js';
import { errorStatuses, expressPath, type Operation } from './contract.js';
import { errorBody } from './schemas/common.js';

/** Why `body`, answered with `status` by `operation`'s route, breaks the contract; undefined when it keeps it. */
export function contractViolation(operation: Operation | undefined, status: number, body: unknown): string | undefined {
  if (status >= 400) {
    const parsed = errorBody.safeParse(body);
    if (!parsed.success) return `a ${status} body is not the error envelope: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`;
    if (operation && !errorStatuses(operation).has(status)) return `status ${status} (${(body as { error: { code: string } }).error.code}) is not documented for ${operation.method.toUpperCase()} ${operation.path}`;
    return undefined;
  }
  if (!operation) return undefined;
  const spec = operation.responses[status];
  if (!spec) return `status ${status} is not documented for ${operation.method.toUpperCase()} ${operation.path}`;
  if (!spec.json) return spec.content?.['application/json'] ? undefined : `${operation.method.toUpperCase()} ${operation.path} does not answer JSON with ${status}`;
  const parsed = spec.json.safeParse(body);
  if (parsed.success) return undefined;
  return parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
    .join('; ');
}

/**
 * Checks every JSON response against the operation's schemas (LOOKBOOK_CHECK_RESPONSES, on in the
 * tests): a response that breaks the contract is logged and replaced by a 500
 * `response_contract_violation`, so a test that reads it fails where the drift is.
 */
export function responseCheck(operations: readonly Operation[], logger: Logger) {
  const byRoute = new Map(operations.map((operation) => [`${operation.method.toUpperCase()} ${expressPath(operation.path)}`, operation]));
  return (req: Request, res: Response, next: NextFunction) => {
    const send = res.json.bind(res);
    res.json = (body: unknown) => {
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const operation = req.route?.path ? byRoute.get(`${method} ${String(req.route.path)}`) : undefined;
      const violation = contractViolation(operation, res.statusCode, body);
      if (!violation) return send(body);
      logger.error({ requestId: res.locals.requestId, route: operation?.path, status: res.statusCode, violation }, 'response breaks the API contract');
      res.status(500);
      return send({
        error: { message: `the response breaks the API contract: ${violation}`, type: 'server_error', code: 'response_contract_violation', param: null, request_id: res.locals.requestId },
      });
    };
    next();
  };
}
