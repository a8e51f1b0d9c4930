import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { VectorIndex, type CompactionReport, type IndexModel, type IndexSettings } from './vector-index.js';
import { WriteGate } from './write-gate.js';

const INDEX_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** A version of an index built beside the one serving: `<name>.<generation>`. */
const VERSION_DIR = /^([a-z0-9][a-z0-9_-]{0,62})\.([a-z0-9]+)$/;
const ALIASES = 'aliases.json';

/** A new version's directory: `<name>.<generation>`. */
const versionDir = (name: string) => `${name}.${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

/** One opened index directory and the reads that hold it open. */
interface Held {
  readonly index: VectorIndex;
  readonly dirName: string;
  leases: number;
  retired: boolean;
}

/**
 * The named indexes under `<dataDir>/indexes/`, opened at start-up.
 *
 * A name points at a directory: `<name>/` for an index as created (and for every index written
 * before versions existed), or `<name>.<generation>/` once it has been rebuilt, as
 * `aliases.json` says (Qdrant's collection aliases). A rebuild writes a new version beside the
 * serving one ({@link createBuild}) and {@link promote} switches the name to it atomically:
 * the alias file is replaced by a rename, reads that hold the old version finish on it, and its
 * directory is deleted when the last of them is done. Versions that no alias names are left-overs
 * of an interrupted rebuild: a rebuild that resumes adopts its own ({@link adoptBuild}), and
 * {@link removeOrphans} deletes the rest. An index created under the name of a deleted one whose
 * `<name>/` reads still hold is such a version too.
 */
export class IndexStore {
  private readonly live = new Map<string, Held>();
  private readonly builds = new Map<string, Held>();
  private readonly gates = new Map<string, WriteGate>();
  private readonly orphans = new Map<string, string[]>();
  /** Directories of retired versions that reads in flight still hold: deleted when the last of them is done. */
  private readonly retiring = new Set<string>();
  private readonly aliases: Map<string, string>;
  private readonly root: string;

  constructor(
    dataDir: string,
    private readonly logger: Logger,
    /** `filterCopyBytesPerItem`: each index's budget for copies of its filters' codes (see `FilteredSearchTuning.copyBytesPerItem`); the default's when unset. */
    private readonly options: { filterCopyBytesPerItem?: number; filterGraphBytesPerItem?: number; targetRecall?: number } = {},
  ) {
    this.root = join(dataDir, 'indexes');
    mkdirSync(this.root, { recursive: true });
    this.aliases = this.readAliases();
    const dirs = readdirSync(this.root, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    for (const [name, dirName] of this.aliases) {
      if (!dirs.includes(dirName)) {
        logger.error({ index: name, dir: dirName }, 'the directory an index name points at is missing; the name is dropped');
        this.aliases.delete(name);
        continue;
      }
      this.openInto(this.live, name, dirName);
    }
    for (const dirName of dirs) {
      if (INDEX_NAME.test(dirName)) {
        if (this.aliases.has(dirName)) {
          // The version this name served before a switch whose clean-up was cut short.
          rmSync(join(this.root, dirName), { recursive: true, force: true });
        } else if (existsSync(join(this.root, dirName, 'catalog.sqlite'))) {
          this.openInto(this.live, dirName, dirName);
        }
        continue;
      }
      const version = VERSION_DIR.exec(dirName);
      if (version && this.aliases.get(version[1]!) !== dirName) {
        this.orphans.set(version[1]!, [...(this.orphans.get(version[1]!) ?? []), dirName]);
      }
    }
  }

  private openInto(target: Map<string, Held>, name: string, dirName: string): Held | undefined {
    try {
      const index = this.watch(name, VectorIndex.open(join(this.root, dirName)));
      const held: Held = { index, dirName, leases: 0, retired: false };
      target.set(name, held);
      this.logger.info({ index: name, dir: dirName, items: index.count, recovery: index.recovery, model: index.model }, 'index opened');
      return held;
    } catch (error) {
      this.logger.error({ err: error, dir: dirName }, 'index could not be opened; it is left on disk untouched');
      return undefined;
    }
  }

  private readAliases(): Map<string, string> {
    try {
      return new Map(Object.entries(JSON.parse(readFileSync(join(this.root, ALIASES), 'utf8')) as Record<string, string>));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.error({ err: error }, `${ALIASES} could not be read; indexes open under their directory names`);
      return new Map();
    }
  }

  /** Replaces the alias file atomically: temporary file, fsync, rename, fsync of the directory. */
  private writeAliases(): void {
    const path = join(this.root, ALIASES);
    const temporary = `${path}.tmp`;
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, JSON.stringify(Object.fromEntries(this.aliases), null, 2));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    const dir = openSync(this.root, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  create(name: string, model: IndexModel, settings: IndexSettings): VectorIndex {
    if (!INDEX_NAME.test(name)) {
      throw new ValidationError('index names are 1–63 characters of a–z, 0–9, "_" and "-", starting with a letter or digit', {
        param: 'name',
        code: 'invalid_index_name',
      });
    }
    const dirTaken = existsSync(join(this.root, name));
    if (this.live.has(name) || this.aliases.has(name) || (dirTaken && !this.retiring.has(name))) {
      throw new ConflictError('index_exists', `index ${name} already exists`, { param: 'name' });
    }
    this.removeOrphans(name);
    // A deleted index whose directory reads in flight still hold (a compaction, a search) leaves its
    // name free: the new index is a version beside it, named by alias, as a rebuild's is.
    const dirName = dirTaken ? versionDir(name) : name;
    const index = this.watch(name, VectorIndex.create(join(this.root, dirName), name, model, settings));
    if (dirName !== name) {
      this.aliases.set(name, dirName);
      this.writeAliases();
    }
    this.live.set(name, { index, dirName, leases: 0, retired: false });
    return index;
  }

  get(name: string): VectorIndex {
    return this.held(name).index;
  }

  private held(name: string): Held {
    const held = this.live.get(name);
    if (!held) throw new NotFoundError('index_not_found', `no index named ${JSON.stringify(name)}`, { param: 'name' });
    return held;
  }

  /** The directory that serves `name` now. */
  dirOf(name: string): string {
    return this.held(name).dirName;
  }

  has(name: string): boolean {
    return this.live.has(name);
  }

  list(): VectorIndex[] {
    return [...this.live.values()].map((held) => held.index).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Runs `read` on the serving version of an index, keeping that version open until it is done
   * even if the name is switched to another version meanwhile.
   */
  async read<T>(name: string, read: (index: VectorIndex) => Promise<T>): Promise<T> {
    const held = this.held(name);
    held.leases += 1;
    try {
      return await read(held.index);
    } finally {
      this.unlease(held);
    }
  }

  /**
   * Runs `write` on the serving version of an index through its {@link WriteGate}: held back
   * while a switch is under way, and counted so a switch waits for it.
   */
  async write<T>(name: string, write: (index: VectorIndex) => Promise<T> | T): Promise<T> {
    const leave = await this.gate(name).enter();
    try {
      return await this.read(name, async (index) => write(index));
    } finally {
      leave();
    }
  }

  /**
   * Compacts the serving version of an index through its write gate (a switch waits for it; writes
   * and searches go on between its batches): see {@link VectorIndex.compact}.
   */
  async compact(name: string): Promise<CompactionReport> {
    return this.write(name, async (index) => {
      const started = performance.now();
      const report = await index.compact();
      this.logger.info({ index: name, ...report, ms: Math.round(performance.now() - started) }, 'index compacted');
      return report;
    });
  }

  /** Logs each time an index's save releases slots for reuse or cuts its files, or its ef is measured; applies the service's tuning. */
  private watch(name: string, index: VectorIndex): VectorIndex {
    const copyBytesPerItem = this.options.filterCopyBytesPerItem;
    if (copyBytesPerItem !== undefined) index.tuning = { ...index.tuning, copyBytesPerItem };
    const graphBytesPerItem = this.options.filterGraphBytesPerItem;
    if (graphBytesPerItem !== undefined) index.tuning = { ...index.tuning, graphBytesPerItem };
    const targetRecall = this.options.targetRecall;
    if (targetRecall !== undefined) index.tuning = { ...index.tuning, targetRecall };
    index.onExpansionMeasured = (measured) =>
      this.logger.info(
        { index: name, expansion: measured.expansion, recall: measured.recall, target: measured.target, queries: measured.queries, items: measured.items, recallByExpansion: measured.recallByExpansion, scanned: measured.scanned, scan: measured.scan },
        'index search ef measured',
      );
    index.onExpansionMeasureFailed = (error) => this.logger.error({ index: name, err: error }, 'index search ef measurement failed');
    index.onReclaim = (reclaimed) => this.logger.info({ index: name, releasedSlots: reclaimed.slots, reclaimedBytes: reclaimed.bytes, truncatedBytes: reclaimed.truncatedBytes }, 'index space reclaimed');
    return index;
  }

  private gate(name: string): WriteGate {
    let gate = this.gates.get(name);
    if (!gate) {
      gate = new WriteGate();
      this.gates.set(name, gate);
    }
    return gate;
  }

  /** Holds new writes to `name` back and waits for those in flight (before a switch). */
  closeWrites(name: string): Promise<void> {
    return this.gate(name).close();
  }

  openWrites(name: string): void {
    this.gate(name).open();
  }

  private unlease(held: Held): void {
    held.leases -= 1;
    if (held.retired && held.leases === 0) this.dispose(held);
  }

  private dispose(held: Held): void {
    this.retiring.delete(held.dirName);
    try {
      held.index.destroy();
    } catch (error) {
      this.logger.error({ err: error, dir: held.dirName }, 'a retired index version could not be removed');
    }
  }

  private retire(held: Held): void {
    held.retired = true;
    if (held.leases === 0) this.dispose(held);
    else this.retiring.add(held.dirName);
  }

  /** The version being built for `name`, if a rebuild is under way. */
  buildOf(name: string): VectorIndex | undefined {
    return this.builds.get(name)?.index;
  }

  /** Starts a new version of `name` beside the serving one; its directory is returned for the rebuild's records. */
  createBuild(name: string, model: IndexModel, settings: IndexSettings): { index: VectorIndex; dirName: string } {
    this.held(name);
    if (this.builds.has(name)) throw new ConflictError('rebuild_in_progress', `index ${name} is already being rebuilt`, { param: 'index' });
    const dirName = versionDir(name);
    const index = this.watch(name, VectorIndex.create(join(this.root, dirName), name, model, settings));
    this.builds.set(name, { index, dirName, leases: 0, retired: false });
    return { index, dirName };
  }

  /** Reopens the version an interrupted rebuild of `name` was writing, if it is still on disk. */
  adoptBuild(name: string, dirName: string): VectorIndex | undefined {
    const waiting = this.orphans.get(name) ?? [];
    if (!waiting.includes(dirName) || this.builds.has(name)) return undefined;
    this.orphans.set(
      name,
      waiting.filter((dir) => dir !== dirName),
    );
    return this.openInto(this.builds, name, dirName)?.index;
  }

  /** Deletes versions that no name points at and no rebuild adopted (all names, or one). */
  removeOrphans(name?: string): void {
    for (const [owner, dirs] of this.orphans) {
      if (name !== undefined && owner !== name) continue;
      for (const dirName of dirs) {
        rmSync(join(this.root, dirName), { recursive: true, force: true });
        this.logger.info({ index: owner, dir: dirName }, 'removed the left-over version of an interrupted rebuild');
      }
      this.orphans.delete(owner);
    }
  }

  /** Abandons the rebuild of `name`: its version is closed and deleted, the serving one untouched. */
  dropBuild(name: string): void {
    const held = this.builds.get(name);
    if (!held) return;
    this.builds.delete(name);
    this.retire(held);
  }

  /**
   * Switches `name` to the version being built: its graph is saved, the alias file is replaced
   * atomically, and the old version is deleted once no read holds it.
   */
  promote(name: string): VectorIndex {
    const build = this.builds.get(name);
    if (!build) throw new Error(`index ${name} has no version being built`);
    const old = this.held(name);
    build.index.save();
    this.aliases.set(name, build.dirName);
    this.writeAliases();
    this.live.set(name, build);
    this.builds.delete(name);
    this.retire(old);
    return build.index;
  }

  delete(name: string): void {
    const held = this.held(name);
    this.live.delete(name);
    this.dropBuild(name);
    if (this.aliases.delete(name)) this.writeAliases();
    this.retire(held);
  }

  /** Saves every graph and closes the files. */
  close(): void {
    for (const held of [...this.live.values(), ...this.builds.values()]) {
      try {
        held.index.close();
      } catch (error) {
        this.logger.error({ err: error, index: held.index.name }, 'index could not be saved on close');
      }
    }
    this.live.clear();
    this.builds.clear();
  }
}
