import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory, writeSynced } from '../util/durable.js';
import type { ChunkEntry } from './job-types.js';

/**
 * Chunk files under `<dataDir>/jobs/<job id>/<n>.json`: what a chunk's flow child refers to.
 * Written before the child is queued (temporary file, fsync, rename, fsync of the folder: the
 * items a job took in and acknowledged survive a power loss, not only a killed process), deleted
 * with the job's folder when the job ends.
 */
export class ChunkFiles {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'jobs');
  }

  dirOf(jobId: string): string {
    return join(this.root, jobId);
  }

  async write(jobId: string, n: number, entries: readonly ChunkEntry[]): Promise<void> {
    const dir = this.dirOf(jobId);
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${n}.json`);
    await writeSynced(`${path}.tmp`, JSON.stringify(entries));
    await rename(`${path}.tmp`, path);
    await syncDirectory(dir);
  }

  /** A chunk's entries (a small file, read at once: cheaper in CPU than a promise-based read). */
  async read(jobId: string, n: number): Promise<ChunkEntry[] | undefined> {
    try {
      return JSON.parse(readFileSync(join(this.dirOf(jobId), `${n}.json`), 'utf8')) as ChunkEntry[];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Whether chunk `n`'s file is written (a chunk is recorded just before its file). */
  has(jobId: string, n: number): boolean {
    return existsSync(join(this.dirOf(jobId), `${n}.json`));
  }

  /** A place for a job's staged input (an uploaded or fetched manifest). */
  async stagingPath(jobId: string, name: string): Promise<string> {
    const dir = this.dirOf(jobId);
    await mkdir(dir, { recursive: true });
    return join(dir, name);
  }

  async remove(jobId: string): Promise<void> {
    // A chunk still being written as its job ends lands meanwhile (ENOTEMPTY): Node's rm tries again.
    await rm(this.dirOf(jobId), { recursive: true, force: true, maxRetries: 5 });
  }
}
