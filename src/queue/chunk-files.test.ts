import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkFiles } from './chunk-files.js';
import type { ChunkEntry } from './job-types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('ChunkFiles', () => {
  it('writes a chunk durably: the file synced before its rename, the folder synced after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lookbook-chunks-'));
    dirs.push(dir);
    const files = new ChunkFiles(dir);
    const entries: ChunkEntry[] = [{ pos: 0, id: 'a', source: { kind: 'text', text: 'a red shoe' } }];
    // Every sync of a file handle, with the path it was opened on, in order.
    const probe = await open(join(dir, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const sync = prototype.sync;
    const synced: string[] = [];
    prototype.sync = async function (this: { fd: number }) {
      synced.push(readdirSync(join(dir, 'jobs', 'j1')).sort().join(','));
      return sync.call(this);
    };
    try {
      await files.write('j1', 0, entries);
    } finally {
      prototype.sync = sync;
    }
    // The temporary file's sync (before the rename), then the folder's (after it).
    expect(synced).toEqual(['0.json.tmp', '0.json']);
    expect(await files.read('j1', 0)).toEqual(entries);
    expect(files.has('j1', 0)).toBe(true);
    await files.remove('j1');
    expect(files.has('j1', 0)).toBe(false);
  });
});
