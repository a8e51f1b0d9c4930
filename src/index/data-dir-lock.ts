import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** What the lock file says about the process that holds it. */
interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

/** Another live process owns the data directory. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    super(
      `the data directory ${dataDir} is in use by process ${owner.pid} on ${owner.host} (since ${owner.startedAt}); ` +
        'one process owns an index\'s files: stop that process, or give this one another LOOKBOOK_DATA_DIR (workers need none: `lookbook worker`)',
    );
    this.name = 'DataDirLockedError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The single-owner lock of a data directory: `owner.lock`, created exclusively (`O_EXCL`), holding
 * the owner's pid and host, as PostgreSQL's `postmaster.pid` does. A lock left by a process that
 * no longer runs on this host is taken over; one held by a live process refuses the start.
 * A lock written by another host is honoured as live (its process cannot be checked from here).
 */
export class DataDirLock {
  private released = false;

  private constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {}

  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, 'owner.lock');
    const owner: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        try {
          writeSync(fd, JSON.stringify(owner));
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        return new DataDirLock(path, owner);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let holder: LockOwner | undefined;
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
      } catch {
        holder = undefined; // torn or empty: its writer died while writing it
      }
      if (holder && (holder.host !== owner.host || alive(holder.pid))) throw new DataDirLockedError(dataDir, holder);
      rmSync(path, { force: true }); // stale: its process is gone
    }
    throw new Error(`could not take the lock ${path}`);
  }

  /** Removes the lock file, if it is still ours. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      const holder = JSON.parse(readFileSync(this.path, 'utf8')) as LockOwner;
      if (holder.pid === this.owner.pid && holder.startedAt === this.owner.startedAt) rmSync(this.path, { force: true });
    } catch {
      // already gone
    }
  }
}
