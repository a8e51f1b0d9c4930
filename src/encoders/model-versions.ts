import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProjectionHead } from '../alignment/projection-head.js';
import { decodeSafetensors, encodeSafetensors } from '../alignment/safetensors.js';
import type { Logger } from '../logger.js';

/** A model version that is a base model plus an alignment head. */
export interface HeadVersion {
  readonly modelId: string;
  readonly version: string;
  readonly baseVersion: string;
  readonly head: ProjectionHead;
  readonly createdAt: string;
  /** What made it: the job, the index and graph it learnt from, its options and validation figures. */
  readonly training: Record<string, unknown>;
}

interface VersionFile {
  model: string;
  version: string;
  base_version: string;
  created_at: string;
  training: Record<string, unknown>;
}

/**
 * Alignment heads, each a new version of its base model (`<base>+align.<n>`): kept under the data
 * directory (`model-versions/<model id>/<version>/`, never in the shipped `models/`), the head's
 * A and B in `head.safetensors` beside `version.json`. Written to a temporary folder and renamed,
 * so a version is there whole or not at all.
 */
export class ModelVersions {
  private readonly root: string;
  private readonly versions = new Map<string, HeadVersion>();

  constructor(
    dataDir: string,
    private readonly logger: Logger,
  ) {
    this.root = join(dataDir, 'model-versions');
    mkdirSync(this.root, { recursive: true });
    for (const model of readdirSync(this.root)) {
      for (const version of readdirSync(join(this.root, model))) {
        const dir = join(this.root, model, version);
        if (version.endsWith('.tmp')) {
          rmSync(dir, { recursive: true, force: true });
          continue;
        }
        try {
          this.remember(this.read(dir));
        } catch (error) {
          logger.error({ err: error, dir }, 'a model version could not be read; it is left on disk');
        }
      }
    }
  }

  private key(modelId: string, version: string) {
    return `${modelId}\u0000${version}`;
  }

  private remember(version: HeadVersion): void {
    this.versions.set(this.key(version.modelId, version.version), version);
  }

  private read(dir: string): HeadVersion {
    const file = JSON.parse(readFileSync(join(dir, 'version.json'), 'utf8')) as VersionFile;
    const { tensors } = decodeSafetensors(readFileSync(join(dir, 'head.safetensors')));
    const a = tensors.A;
    const b = tensors.B;
    if (!a || !b || a.shape.length !== 2) throw new Error(`${dir}/head.safetensors needs tensors A and B of d × r`);
    const [dimension, rank] = a.shape as [number, number];
    return { modelId: file.model, version: file.version, baseVersion: file.base_version, head: new ProjectionHead(dimension, rank, a.data, b.data), createdAt: file.created_at, training: file.training };
  }

  get(modelId: string, version: string): HeadVersion | undefined {
    return this.versions.get(this.key(modelId, version));
  }

  /** The head versions of a model, oldest first. */
  list(modelId: string): HeadVersion[] {
    return [...this.versions.values()].filter((version) => version.modelId === modelId).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Registers a head as the next version of `modelId@baseVersion`; returns it. */
  add(modelId: string, baseVersion: string, head: ProjectionHead, training: Record<string, unknown>): HeadVersion {
    const prefix = `${baseVersion}+align.`;
    const taken = this.list(modelId).map((entry) => (entry.version.startsWith(prefix) ? Number(entry.version.slice(prefix.length)) : 0));
    const version = `${prefix}${Math.max(0, ...taken) + 1}`;
    const modelDir = join(this.root, encodeURIComponent(modelId));
    const dir = join(modelDir, version);
    if (existsSync(dir)) throw new Error(`model version ${modelId}@${version} exists already`);
    mkdirSync(`${dir}.tmp`, { recursive: true });
    const createdAt = new Date().toISOString();
    writeFileSync(
      join(`${dir}.tmp`, 'head.safetensors'),
      encodeSafetensors(
        { A: { shape: [head.dimension, head.rank], data: head.a }, B: { shape: [head.dimension, head.rank], data: head.b } },
        { format: 'lookbook.alignment-head', model: modelId, base_version: baseVersion, formula: 'normalize(x + (x·A)·Bᵀ)' },
      ),
    );
    const file: VersionFile = { model: modelId, version, base_version: baseVersion, created_at: createdAt, training };
    writeFileSync(join(`${dir}.tmp`, 'version.json'), JSON.stringify(file, null, 2));
    renameSync(`${dir}.tmp`, dir);
    const entry: HeadVersion = { modelId, version, baseVersion, head, createdAt, training };
    this.remember(entry);
    this.logger.info({ model: modelId, version }, 'model version registered');
    return entry;
  }
}
