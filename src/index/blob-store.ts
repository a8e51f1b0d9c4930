import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { writeSynced } from '../util/durable.js';

const HASH = /^[0-9a-f]{64}$/;

/** The SHA-256 of some bytes, in hex: the name a blob is stored under. */
export function blobHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function isBlobHash(value: string): boolean {
  return HASH.test(value);
}

/**
 * The kept source images: content-addressed files under `<dataDir>/blobs/ab/<sha256>` (bytes as
 * received), reference-counted across items and indexes in `blobs.sqlite`. An item holds a
 * reference by (index, item id); a holder (a job, or one request's write in flight) holds the
 * images it has taken in but not yet indexed. A blob whose last reference goes is deleted.
 *
 * Write order: the holder's reference is committed, the file is written and fsynced, then (by
 * the caller) the catalog row and the item's reference, and only then is the holder released.
 * So a blob is never deleted between being received and being named by an item, and a crash
 * leaves at worst a holder to clear and files to sweep at start-up ({@link recover}); never a
 * catalog row without its file.
 */
export class BlobStore {
  private readonly db: Database.Database;
  private readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'blobs');
    mkdirSync(this.root, { recursive: true });
    this.db = new Database(join(dataDir, 'blobs.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS item_refs (index_name TEXT NOT NULL, item_id TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (index_name, item_id));
      CREATE INDEX IF NOT EXISTS item_refs_hash ON item_refs(hash);
      CREATE TABLE IF NOT EXISTS holds (holder TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (holder, hash));
      CREATE INDEX IF NOT EXISTS holds_hash ON holds(hash);
    `);
  }

  private pathOf(hash: string): string {
    return join(this.root, hash.slice(0, 2), hash);
  }

  has(hash: string): boolean {
    return isBlobHash(hash) && existsSync(this.pathOf(hash));
  }

  /**
   * The bytes of a blob read at once, or undefined when it is not kept. For the embedding
   * pipeline, which is CPU-bound: a kept image is small and usually in the page cache, and a
   * blocking read of it costs a fifth of the CPU of `fs.promises`' open, stat, read and close.
   */
  readNow(hash: string): Buffer | undefined {
    if (!isBlobHash(hash)) return undefined;
    try {
      return readFileSync(this.pathOf(hash));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** The bytes of a blob, or undefined when it is not kept. */
  async read(hash: string): Promise<Buffer | undefined> {
    if (!isBlobHash(hash)) return undefined;
    try {
      return await readFile(this.pathOf(hash));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * Stores bytes (once per content) under `holder`'s reference and returns their hash; the file
   * is durable when this resolves. The holder keeps it until {@link release}.
   */
  async put(bytes: Uint8Array, holder: string): Promise<string> {
    return (await this.putMany([bytes], holder))[0]!;
  }

  /** {@link put} for many images: one reference transaction, the files written side by side. */
  async putMany(images: readonly Uint8Array[], holder: string): Promise<string[]> {
    const hashes = images.map((bytes) => blobHash(bytes));
    // Referenced before anything is awaited, so no delete elsewhere can take a file being reused.
    this.hold(holder, hashes);
    const written = new Set<string>();
    await Promise.all(
      images.map(async (bytes, i) => {
        const hash = hashes[i]!;
        const path = this.pathOf(hash);
        if (written.has(hash) || existsSync(path)) return;
        written.add(hash);
        await mkdir(join(this.root, hash.slice(0, 2)), { recursive: true });
        const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
        await writeSynced(temporary, bytes);
        await rename(temporary, path);
      }),
    );
    return hashes;
  }

  /** Adds references for `holder` to blobs that are already stored. */
  hold(holder: string, hashes: Iterable<string>): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO holds (holder, hash) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const hash of hashes) insert.run(holder, hash);
    })();
  }

  /** Drops every reference `holder` has, deleting blobs nothing else references. */
  release(holder: string): void {
    const hashes = this.db.prepare('SELECT hash FROM holds WHERE holder = ?').pluck().all(holder) as string[];
    if (hashes.length === 0) return;
    this.db.prepare('DELETE FROM holds WHERE holder = ?').run(holder);
    this.collect(new Set(hashes));
  }

  /** Holders with references, e.g. to clear those of jobs that no longer exist. */
  holders(): string[] {
    return this.db.prepare('SELECT DISTINCT holder FROM holds').pluck().all() as string[];
  }

  /**
   * Points items at blobs (or at none, with `null`), in one transaction, and deletes the blobs
   * that lost their last reference.
   */
  setItemRefs(indexName: string, refs: readonly { id: string; hash: string | null }[]): void {
    if (refs.length === 0) return;
    const previous = this.db.prepare('SELECT hash FROM item_refs WHERE index_name = ? AND item_id = ?').pluck();
    const upsert = this.db.prepare(
      'INSERT INTO item_refs (index_name, item_id, hash) VALUES (?, ?, ?) ON CONFLICT(index_name, item_id) DO UPDATE SET hash = excluded.hash',
    );
    const remove = this.db.prepare('DELETE FROM item_refs WHERE index_name = ? AND item_id = ?');
    const dropped = new Set<string>();
    this.db.transaction(() => {
      for (const { id, hash } of refs) {
        const old = previous.get(indexName, id) as string | undefined;
        if (old === (hash ?? undefined)) continue;
        if (old !== undefined) dropped.add(old);
        if (hash === null) remove.run(indexName, id);
        else upsert.run(indexName, id, hash);
      }
    })();
    this.collect(dropped);
  }

  /** Drops the references of deleted items. */
  releaseItems(indexName: string, ids: readonly string[]): void {
    this.setItemRefs(
      indexName,
      ids.map((id) => ({ id, hash: null })),
    );
  }

  /** Drops every reference an index holds (the index is deleted). */
  releaseIndex(indexName: string): void {
    const hashes = this.db.prepare('SELECT DISTINCT hash FROM item_refs WHERE index_name = ?').pluck().all(indexName) as string[];
    this.db.prepare('DELETE FROM item_refs WHERE index_name = ?').run(indexName);
    this.collect(new Set(hashes));
  }

  /** References to a blob, from items and jobs. */
  references(hash: string): number {
    const items = this.db.prepare('SELECT COUNT(*) FROM item_refs WHERE hash = ?').pluck().get(hash) as number;
    const held = this.db.prepare('SELECT COUNT(*) FROM holds WHERE hash = ?').pluck().get(hash) as number;
    return items + held;
  }

  private collect(candidates: Iterable<string>): void {
    for (const hash of candidates) if (this.references(hash) === 0) rmSync(this.pathOf(hash), { force: true });
  }

  /**
   * Start-up only, before anything writes: drops the holds of holders that are gone (requests of a
   * previous run, jobs that no longer exist), then deletes blob files that no reference names
   * and temporary files of interrupted writes. Returns how many files were removed.
   */
  recover(isLiveHolder: (holder: string) => boolean): number {
    for (const holder of this.holders()) if (!isLiveHolder(holder)) this.db.prepare('DELETE FROM holds WHERE holder = ?').run(holder);
    let removed = 0;
    const referenced = this.db.prepare('SELECT EXISTS(SELECT 1 FROM item_refs WHERE hash = ?) OR EXISTS(SELECT 1 FROM holds WHERE hash = ?)').pluck();
    for (const shard of readdirSync(this.root)) {
      const dir = join(this.root, shard);
      if (!statSync(dir).isDirectory()) continue;
      for (const name of readdirSync(dir)) {
        if (isBlobHash(name) && referenced.get(name, name) === 1) continue;
        rmSync(join(dir, name), { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  /** Blob files and their bytes (for stats and tests). */
  usage(): { blobs: number; bytes: number } {
    let blobs = 0;
    let bytes = 0;
    for (const shard of readdirSync(this.root)) {
      const dir = join(this.root, shard);
      if (!statSync(dir).isDirectory()) continue;
      for (const name of readdirSync(dir)) {
        if (!isBlobHash(name)) continue;
        blobs += 1;
        bytes += statSync(join(dir, name)).size;
      }
    }
    return { blobs, bytes };
  }

  close(): void {
    this.db.close();
  }
}
