import type { z } from 'zod';
import { ValidationError } from '../errors.js';

/** Parses a request body with zod; the first problem becomes a 400 naming its field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  const first = issues[0]!;
  const param = first.path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`)).join('');
  const message = issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
  // A check may name its own code (e.g. `invalid_json` for a multipart field that is not JSON).
  const code = (first as { params?: { code?: unknown } }).params?.code;
  throw new ValidationError(message, { param: param || undefined, code: typeof code === 'string' ? code : 'invalid_request' });
}
