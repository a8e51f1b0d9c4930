import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import multer from 'multer';
import type { Config } from '../config.js';
import { PayloadTooLargeError, ValidationError } from '../errors.js';

/** multer on memory storage, bounded by the configured image size and count. */
export function createUpload(limits: Config['limits']) {
  return multer({
    storage: multer.memoryStorage(),
    limits: {
      fileSize: limits.maxImageBytes,
      files: limits.maxFiles,
      fields: 32,
      fieldSize: 1024 * 1024,
      parts: limits.maxFiles + 32,
    },
  });
}

export type Upload = ReturnType<typeof createUpload>;

/**
 * multer for job and graph uploads: a JSONL document (`manifest`, `graph`) is streamed to a file
 * under `uploadDir` with its own size limit (it may be far larger than an image), images in `file`
 * fields are kept in memory with the image limit. The route deletes the document once it has been read.
 */
export function createJobUpload(uploadDir: string, limits: Config['limits'], manifestMaxBytes: number) {
  mkdirSync(uploadDir, { recursive: true });
  const storage: multer.StorageEngine = {
    _handleFile(_req, file, callback) {
      const document = file.fieldname === 'manifest' || file.fieldname === 'graph';
      const max = document ? manifestMaxBytes : limits.maxImageBytes;
      if (!document && file.fieldname !== 'file') {
        file.stream.resume();
        callback(new ValidationError(`unexpected file field ${JSON.stringify(file.fieldname)}: send a "manifest" or "graph" (JSONL) or image "file" fields`, { code: 'unexpected_file_field', param: file.fieldname }));
        return;
      }
      let size = 0;
      const tooLarge = () =>
        new PayloadTooLargeError(document ? `${file.fieldname}_too_large` : 'image_too_large', `${file.fieldname} ${JSON.stringify(file.originalname)} is larger than ${max} bytes`, { param: file.fieldname });
      if (file.fieldname === 'file') {
        const chunks: Buffer[] = [];
        file.stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= max) chunks.push(chunk);
        });
        file.stream.on('error', callback);
        file.stream.on('end', () => (size > max ? callback(tooLarge()) : callback(null, { buffer: Buffer.concat(chunks), size })));
        return;
      }
      const path = join(uploadDir, `${randomUUID()}.jsonl`);
      const out = createWriteStream(path);
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, next) {
          size += chunk.length;
          next(size > max ? tooLarge() : null, chunk);
        },
      });
      void pipeline(file.stream, counter, out).then(
        () => callback(null, { path, size }),
        (error: unknown) => {
          file.stream.resume();
          void rm(path, { force: true }).finally(() => callback(error as Error));
        },
      );
    },
    _removeFile(_req, file, callback) {
      if (file.path) rm(file.path, { force: true }).then(() => callback(null), callback);
      else callback(null);
    },
  };
  return multer({
    storage,
    limits: { fileSize: Math.max(manifestMaxBytes, limits.maxImageBytes), files: limits.maxFiles + 1, fields: 32, fieldSize: 1024 * 1024, parts: limits.maxFiles + 33 },
  });
}
