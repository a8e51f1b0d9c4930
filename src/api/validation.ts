import { z } from 'zod';
import { ValidationError } from '../errors.js';

type IssueLike = { params?: { code?: unknown }; issues?: IssueLike[] };

/** The code a check named for itself, also inside a record key's or element's issue. */
function issueCode(issue: IssueLike): string | undefined {
  if (typeof issue.params?.code === 'string') return issue.params.code;
  for (const inner of issue.issues ?? []) {
    const code = issueCode(inner);
    if (code) return code;
  }
  return undefined;
}

/**
 * Parses a request body with zod; the first problem becomes a 400 naming its field. An undefined
 * body is one Express read no JSON from (another Content-Type, or none): the message says so.
 */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  const first = issues[0]!;
  const param = first.path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`)).join('');
  const message =
    (body === undefined ? 'no JSON body was read (send it with Content-Type: application/json); ' : '') +
    issues
      .slice(0, 5)
      .map((issue) => `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`)
      .join('; ');
  // A check may name its own code (e.g. `invalid_json` for a multipart field that is not JSON).
  const code = issueCode(first as IssueLike);
  throw new ValidationError(message, { param: param || undefined, code: code ?? 'invalid_request' });
}

export { jsonField } from './schemas/common.js';
