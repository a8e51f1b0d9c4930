import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { VectorIndex, type IndexModel, type IndexSettings } from './vector-index.js';

const INDEX_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The named indexes under `<dataDir>/indexes/`, opened at start-up. */
export class IndexStore {
  private readonly indexes = new Map<string, VectorIndex>();
  private readonly root: string;

  constructor(
    dataDir: string,
    private readonly logger: Logger,
  ) {
    this.root = join(dataDir, 'indexes');
    mkdirSync(this.root, { recursive: true });
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || !INDEX_NAME.test(entry.name)) continue;
      const dir = join(this.root, entry.name);
      if (!existsSync(join(dir, 'catalog.sqlite'))) continue;
      try {
        const index = VectorIndex.open(dir);
        this.indexes.set(index.name, index);
        logger.info({ index: index.name, items: index.count, recovery: index.recovery, model: index.model }, 'index opened');
      } catch (error) {
        logger.error({ err: error, dir }, 'index could not be opened; it is left on disk untouched');
      }
    }
  }

  create(name: string, model: IndexModel, settings: IndexSettings): VectorIndex {
    if (!INDEX_NAME.test(name)) {
      throw new ValidationError('index names are 1–63 characters of a–z, 0–9, "_" and "-", starting with a letter or digit', {
        param: 'name',
        code: 'invalid_index_name',
      });
    }
    if (this.indexes.has(name) || existsSync(join(this.root, name))) {
      throw new ConflictError('index_exists', `index ${name} already exists`, { param: 'name' });
    }
    const index = VectorIndex.create(join(this.root, name), name, model, settings);
    this.indexes.set(name, index);
    return index;
  }

  get(name: string): VectorIndex {
    const index = this.indexes.get(name);
    if (!index) throw new NotFoundError('index_not_found', `no index named ${JSON.stringify(name)}`, { param: 'name' });
    return index;
  }

  list(): VectorIndex[] {
    return [...this.indexes.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  delete(name: string): void {
    const index = this.get(name);
    this.indexes.delete(name);
    index.destroy();
  }

  /** Saves every graph and closes the files. */
  close(): void {
    for (const index of this.indexes.values()) {
      try {
        index.close();
      } catch (error) {
        this.logger.error({ err: error, index: index.name }, 'index could not be saved on close');
      }
    }
    this.indexes.clear();
  }
}
