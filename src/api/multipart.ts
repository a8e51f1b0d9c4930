import multer from 'multer';
import type { Config } from '../config.js';

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
