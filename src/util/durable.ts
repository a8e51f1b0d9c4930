import { open } from 'node:fs/promises';

/** Writes `data` to `path` (created or truncated) and fsyncs it: on the disk once this resolves, before a rename makes it visible. */
export async function writeSynced(path: string, data: string | Uint8Array): Promise<void> {
  const file = await open(path, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Fsyncs a directory: a rename or a new file in it is durable once this resolves. */
export async function syncDirectory(dir: string): Promise<void> {
  const folder = await open(dir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
