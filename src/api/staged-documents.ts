import { rm } from 'node:fs/promises';
import type { Request } from 'express';
import { ValidationError } from '../errors.js';

/** The files a multipart request staged on disk (its `manifest` and `graph` documents; images stay in memory). */
function stagedFiles(req: Request): Express.Multer.File[] {
  return ((req.files ?? []) as Express.Multer.File[]).filter((file) => typeof file.path === 'string');
}

/**
 * The path of the one document a route reads from a multipart request (`manifest` or `graph`),
 * if it was sent. A second one, or a document the route does not read, is refused (400) rather
 * than ignored; {@link removeStaged} deletes them all the same.
 */
export function stagedDocument(req: Request, field: 'manifest' | 'graph'): string | undefined {
  const staged = stagedFiles(req);
  const other = staged.find((file) => file.fieldname !== field);
  if (other) {
    throw new ValidationError(`unexpected file field ${JSON.stringify(other.fieldname)}: this route reads one JSONL "${field}"`, { code: 'unexpected_file_field', param: other.fieldname });
  }
  if (staged.length > 1) throw new ValidationError(`send one "${field}" file, not ${staged.length}`, { code: 'unexpected_file_field', param: field });
  return staged[0]?.path;
}

/**
 * Deletes every file a multipart request staged, except `kept` (a document handed to a job,
 * which deletes it once it has read it). Routes call it when they are done, answered or not.
 */
export async function removeStaged(req: Request, kept?: string): Promise<void> {
  await Promise.all(
    stagedFiles(req)
      .filter((file) => file.path !== kept)
      .map((file) => rm(file.path, { force: true })),
  );
}
