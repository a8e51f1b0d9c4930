import Database from 'better-sqlite3';
import { join } from 'node:path';
import { NotFoundError } from '../errors.js';
import type { JobState, JobType } from './job-types.js';

/** A job as the owner keeps it: what it is, where it stands, its counts. */
export interface JobRecord {
  readonly id: string;
  readonly type: JobType;
  readonly index: string;
  readonly state: JobState;
  /** More chunks may still be appended (an open ingest, or a manifest still being read). */
  readonly open: boolean;
  /** Type-specific parameters and bookkeeping (models, the version being built, sources). */
  readonly params: Record<string, unknown>;
  readonly result: Record<string, unknown> | null;
  readonly error: { code: string; message: string } | null;
  /** Items taken in so far, and those done (applied) or failed for good. */
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  /** Chunks created so far (the next chunk's number). */
  readonly chunks: number;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly updatedAt: string;
}

export interface ItemFailure {
  readonly pos: number;
  readonly id: string;
  readonly code: string;
  readonly message: string;
}

interface JobRow {
  id: string;
  type: JobType;
  index_name: string;
  state: JobState;
  open: number;
  params: string;
  result: string | null;
  error: string | null;
  total: number;
  done: number;
  failed: number;
  chunks: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    type: row.type,
    index: row.index_name,
    state: row.state,
    open: row.open === 1,
    params: JSON.parse(row.params) as Record<string, unknown>,
    result: row.result === null ? null : (JSON.parse(row.result) as Record<string, unknown>),
    error: row.error === null ? null : (JSON.parse(row.error) as { code: string; message: string }),
    total: row.total,
    done: row.done,
    failed: row.failed,
    chunks: row.chunks,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

/**
 * The owner's record of every job, in `<dataDir>/jobs.sqlite`: BullMQ dispatches the work, this
 * counts it. Each chunk remembers which of its positions are resolved (applied, or failed for
 * good), so a chunk tried again counts nothing twice and a job's counts are exact whatever was
 * retried, and each failed item has one row with its final reason.
 */
export class JobStore {
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    this.db = new Database(join(dataDir, 'jobs.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        index_name TEXT NOT NULL,
        state TEXT NOT NULL,
        open INTEGER NOT NULL DEFAULT 0,
        params TEXT NOT NULL DEFAULT '{}',
        result TEXT,
        error TEXT,
        total INTEGER NOT NULL DEFAULT 0,
        done INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        chunks INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at, id);
      CREATE TABLE IF NOT EXISTS chunks (
        job_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        size INTEGER NOT NULL,
        resolved TEXT NOT NULL DEFAULT '[]',
        complete INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, n)
      );
      CREATE TABLE IF NOT EXISTS failures (
        job_id TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        pos INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (job_id, chunk, pos)
      );
    `);
  }

  create(job: { id: string; type: JobType; index: string; open: boolean; params: Record<string, unknown> }): JobRecord {
    const now = new Date().toISOString();
    this.db
      .prepare('INSERT INTO jobs (id, type, index_name, state, open, params, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(job.id, job.type, job.index, 'queued', job.open ? 1 : 0, JSON.stringify(job.params), now, now);
    return this.get(job.id)!;
  }

  get(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row && toRecord(row);
  }

  /** Jobs newest first, after the job `before` (a cursor) when given. */
  list(options: { limit: number; before?: string | undefined; index?: string | undefined; states?: readonly JobState[] | undefined }): JobRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (options.before !== undefined) {
      const cursor = this.get(options.before);
      if (cursor) {
        where.push('(created_at < ? OR (created_at = ? AND id < ?))');
        params.push(cursor.createdAt, cursor.createdAt, cursor.id);
      }
    }
    if (options.index !== undefined) {
      where.push('index_name = ?');
      params.push(options.index);
    }
    if (options.states && options.states.length > 0) {
      where.push(`state IN (${options.states.map(() => '?').join(', ')})`);
      params.push(...options.states);
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, options.limit) as JobRow[]).map(toRecord);
  }

  /** Jobs that have not ended. */
  active(): JobRecord[] {
    return (this.db.prepare("SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at").all() as JobRow[]).map(toRecord);
  }

  /** Changes a job's state (stamping when it started and ended) and, optionally, its params, result or error. */
  update(
    id: string,
    patch: { state?: JobState; open?: boolean; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { code: string; message: string } },
  ): JobRecord {
    const now = new Date().toISOString();
    const job = this.get(id);
    if (!job) throw new Error(`no job ${id}`);
    const state = patch.state ?? job.state;
    const started = job.startedAt ?? (state !== 'queued' ? now : null);
    const finished = job.finishedAt ?? (state === 'completed' || state === 'failed' || state === 'cancelled' ? now : null);
    this.db
      .prepare('UPDATE jobs SET state = ?, open = ?, params = ?, result = ?, error = ?, started_at = ?, finished_at = ?, updated_at = ? WHERE id = ?')
      .run(
        state,
        (patch.open ?? job.open) ? 1 : 0,
        JSON.stringify(patch.params ?? job.params),
        patch.result ? JSON.stringify(patch.result) : job.result && JSON.stringify(job.result),
        patch.error ? JSON.stringify(patch.error) : job.error && JSON.stringify(job.error),
        started,
        finished,
        now,
        id,
      );
    return this.get(id)!;
  }

  /**
   * Records a new chunk of `size` items and, in the same transaction, the items of it that
   * failed before any work (bad input), and returns the chunk's number.
   */
  addChunk(jobId: string, size: number, failures: readonly ItemFailure[] = []): number {
    return this.db.transaction(() => {
      const n = this.db.prepare('SELECT chunks FROM jobs WHERE id = ?').pluck().get(jobId) as number;
      this.db.prepare('INSERT INTO chunks (job_id, n, size) VALUES (?, ?, ?)').run(jobId, n, size);
      this.db.prepare('UPDATE jobs SET chunks = chunks + 1, total = total + ?, updated_at = ? WHERE id = ?').run(size, new Date().toISOString(), jobId);
      this.resolve(jobId, n, [], failures);
      return n;
    })();
  }

  /** For a job whose work is not items in chunks (training steps, say): its total and how much is done. */
  setProgress(jobId: string, total: number, done: number): void {
    this.db.prepare('UPDATE jobs SET total = ?, done = ?, updated_at = ? WHERE id = ?').run(total, done, new Date().toISOString(), jobId);
  }

  /** Positions of a chunk that are resolved (applied, or failed for good). */
  resolved(jobId: string, n: number): Set<number> | undefined {
    const row = this.db.prepare('SELECT resolved FROM chunks WHERE job_id = ? AND n = ?').get(jobId, n) as { resolved: string } | undefined;
    return row && new Set(JSON.parse(row.resolved) as number[]);
  }

  /**
   * Marks positions of a chunk done or failed, counting each position once however often it is
   * reported; returns how many of the chunk's positions are still unresolved.
   */
  resolve(jobId: string, n: number, done: readonly number[], failures: readonly ItemFailure[]): number {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT size, resolved FROM chunks WHERE job_id = ? AND n = ?').get(jobId, n) as { size: number; resolved: string } | undefined;
      if (!row) throw new NotFoundError('chunk_not_found', `job ${jobId} has no chunk ${n}`, { param: 'chunk' });
      const resolved = new Set(JSON.parse(row.resolved) as number[]);
      let newlyDone = 0;
      let newlyFailed = 0;
      for (const pos of done) {
        if (resolved.has(pos)) continue;
        resolved.add(pos);
        newlyDone += 1;
      }
      const insert = this.db.prepare('INSERT OR REPLACE INTO failures (job_id, chunk, pos, item_id, code, message) VALUES (?, ?, ?, ?, ?, ?)');
      for (const failure of failures) {
        if (resolved.has(failure.pos)) continue;
        resolved.add(failure.pos);
        newlyFailed += 1;
        insert.run(jobId, n, failure.pos, failure.id, failure.code, failure.message);
      }
      this.db
        .prepare('UPDATE chunks SET resolved = ?, complete = ? WHERE job_id = ? AND n = ?')
        .run(JSON.stringify([...resolved]), resolved.size >= row.size ? 1 : 0, jobId, n);
      if (newlyDone + newlyFailed > 0) {
        this.db
          .prepare('UPDATE jobs SET done = done + ?, failed = failed + ?, updated_at = ? WHERE id = ?')
          .run(newlyDone, newlyFailed, new Date().toISOString(), jobId);
      }
      return row.size - resolved.size;
    })();
  }

  /** Chunks with unresolved positions. */
  incompleteChunks(jobId: string): number[] {
    return this.db.prepare('SELECT n FROM chunks WHERE job_id = ? AND complete = 0 ORDER BY n').pluck().all(jobId) as number[];
  }

  /** A page of a job's failed items, in the order they were taken in; `after` is the previous page's cursor. */
  failures(jobId: string, limit: number, after?: string): { items: ItemFailure[]; next: string | null } {
    const [chunk, pos] = after?.split('.').map(Number) ?? [-1, -1];
    const rows = this.db
      .prepare('SELECT chunk, pos, item_id, code, message FROM failures WHERE job_id = ? AND (chunk > ? OR (chunk = ? AND pos > ?)) ORDER BY chunk, pos LIMIT ?')
      .all(jobId, chunk ?? -1, chunk ?? -1, pos ?? -1, limit) as { chunk: number; pos: number; item_id: string; code: string; message: string }[];
    const last = rows.at(-1);
    return {
      items: rows.map((row) => ({ pos: row.pos, id: row.item_id, code: row.code, message: row.message })),
      next: rows.length === limit && last ? `${last.chunk}.${last.pos}` : null,
    };
  }

  close(): void {
    this.db.close();
  }
}
