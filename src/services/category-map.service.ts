import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Detection, Detector } from '../detection/detector.js';
import { ValidationError, nameSome } from '../errors.js';
import sharp from 'sharp';
import { decodeImage } from '../encoders/image-preprocessor.js';
import type { VectorIndex } from '../index/vector-index.js';
import type { IndexService } from './index.service.js';

/** Where a label's categories come from. */
export type MappingSource = 'index' | 'configured' | 'derived' | 'none';

export interface LabelMapping {
  readonly label: string;
  /** Catalog categories the label's objects are searched in; empty: searched unfiltered. */
  readonly categories: readonly string[];
  readonly source: MappingSource;
}

export interface CategoryMapping {
  readonly categories: readonly { readonly category: string; readonly count: number; readonly labels: readonly string[] }[];
  readonly labels: readonly LabelMapping[];
}

/** Per-index label → categories overrides, kept apart from the index's versions (`label-categories.sqlite`). */
export class CategoryOverrides {
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    this.db = new Database(join(dataDir, 'label-categories.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS overrides (index_name TEXT NOT NULL, label TEXT NOT NULL, categories TEXT NOT NULL, PRIMARY KEY (index_name, label))');
  }

  /** An index's overrides by label: a Map, as labels such as "constructor" or "toString" are Object.prototype's names. */
  get(index: string): Map<string, string[]> {
    const rows = this.db.prepare('SELECT label, categories FROM overrides WHERE index_name = ?').all(index) as { label: string; categories: string }[];
    return new Map(rows.map((row) => [row.label, JSON.parse(row.categories) as string[]]));
  }

  /** Replaces an index's overrides. */
  set(index: string, overrides: Record<string, readonly string[]>): void {
    const insert = this.db.prepare('INSERT INTO overrides (index_name, label, categories) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM overrides WHERE index_name = ?').run(index);
      for (const [label, categories] of Object.entries(overrides)) insert.run(index, label, JSON.stringify(categories));
    })();
  }

  remove(index: string): void {
    this.db.prepare('DELETE FROM overrides WHERE index_name = ?').run(index);
  }

  close(): void {
    this.db.close();
  }
}

/**
 * A product image as the detector sees objects in scenes: scaled to at most 128 px on a white
 * 256 px canvas. A product image fills its frame, far larger than the objects a detector is trained
 * to find in scenes: on the 40 objects of the fixture scenes cut out of them, the project's
 * detector names 3 right seen whole-frame (12 with no detection), 20 / 21 / 23 staged at 64 / 96 /
 * 128 px.
 */
async function staged(bytes: Uint8Array, maxPixels: number): Promise<Buffer> {
  const object = await sharp(bytes, { limitInputPixels: maxPixels }).rotate().resize(128, 128, { fit: 'inside' }).png().toBuffer();
  return sharp({ create: { width: 256, height: 256, channels: 3, background: '#ffffff' } })
    .composite([{ input: object, gravity: 'center' }])
    .png()
    .toBuffer();
}

/** Items of a category the detector looks at: more for larger ones, whose minorities matter (2√n, 6 to 32). */
const sampleSize = (count: number) => Math.min(32, Math.max(6, Math.ceil(2 * Math.sqrt(count))));
/** A label gets a category when it has this share of the category's votes, or the category this share of the label's items (and two votes). */
const SHARE = 0.15;

/** What the detector said about a sample of one category. */
export interface CategorySample {
  readonly category: string;
  /** The label named as the category, if any. */
  readonly namesake: string | undefined;
  /** Votes per label. */
  readonly tally: ReadonlyMap<string, number>;
  /** Samples that got a vote (a detection). */
  readonly cast: number;
  /** Items in the category. */
  readonly count: number;
}

/**
 * The categories of each label: those where the label has {@link SHARE} of the votes, or that
 * hold {@link SHARE} of the label's items in the catalog (estimated from the votes and the
 * categories' sizes), with two votes either way; and a category named as the label.
 */
export function assignCategories(labels: readonly string[], samples: readonly CategorySample[]): Map<string, string[]> {
  const mapping = new Map<string, string[]>(labels.map((label) => [label, []]));
  for (const label of labels) {
    const estimate = (sample: CategorySample) => (sample.cast > 0 ? ((sample.tally.get(label) ?? 0) / sample.cast) * sample.count : 0);
    const total = samples.reduce((sum, sample) => sum + estimate(sample), 0);
    for (const sample of samples) {
      const votes = sample.tally.get(label) ?? 0;
      const enough = votes > 0 && votes >= Math.min(2, sample.cast);
      if (sample.namesake === label || (enough && (votes >= SHARE * sample.cast || estimate(sample) >= SHARE * total))) mapping.get(label)!.push(sample.category);
    }
  }
  return mapping;
}

const words = (name: string) => name.replace(/[-_/:.&]+/g, ' ').replace(/\s+/g, ' ').trim().toLowerCase();

/**
 * Relates the detector's labels to a catalog's own categories, which are named as the catalog's
 * owner pleases ("footwear", "Bags & Luggage", a CLDR subgroup…). Derived from the catalog itself:
 * the detector looks at the kept images of some items of each category (2√n of them, 6 to 32,
 * spread over it) and each votes for the label of its most confident detection; a category goes to
 * a label with at least 15 % of its votes, or holding at least 15 % of the label's items in the
 * catalog (estimated from the votes and the categories' sizes), with two votes either way —
 * many-to-many, so a catalog's "clothing" that holds shoes and bags goes to clothing, shoes and
 * bags, even where bags are few of its items but most of the catalog's bags. A category named as a label always goes
 * to that label too. The votes are remembered
 * per image, and the mapping is recomputed whenever the catalog has changed (keyed by its change
 * number), so it reflects every item written before a request. Per-index overrides
 * (`PUT …/categories`) and `LOOKBOOK_LABEL_CATEGORIES` come first, in that order. A label no
 * category goes to is searched unfiltered, and says so.
 *
 * (The text tower on category and label names was tried first: on the fixture scenes' products,
 * 5 of 40 crops were closest to the right label's name — the default model knows emoji names, not
 * words such as "apparel". The detector was trained on exactly these classes.)
 */
export class CategoryMapper {
  private readonly cache = new Map<string, { key: string; mapping: Map<string, string[]>; counts: { category: string; count: number }[] }>();
  /** Mappings being computed, by index and catalog state: concurrent requests share one computation. */
  private readonly computing = new Map<string, Promise<{ key: string; mapping: Map<string, string[]>; counts: { category: string; count: number }[] }>>();
  private readonly warmers = new Map<string, NodeJS.Timeout>();
  /** The label each kept image's most confident detection has (null: none). */
  private readonly votes = new Map<string, string | null>();

  constructor(
    private readonly deps: {
      indexes: IndexService;
      /** Looks at the sampled images; without one there are no labels to map. */
      detector: Detector | undefined;
      /** `LOOKBOOK_LABEL_CATEGORIES`. */
      configured: Readonly<Record<string, readonly string[]>>;
      overrides: CategoryOverrides;
      maxPixels: number;
    },
  ) {
    deps.indexes.onDeleted((name) => {
      deps.overrides.remove(name);
      this.cache.delete(name);
    });
    // After writes settle, the detector looks at the new samples in the background, so the next
    // request finds their votes remembered (it still recomputes the mapping, from those votes).
    deps.indexes.onWritten((name) => {
      if (!deps.detector) return;
      clearTimeout(this.warmers.get(name));
      this.warmers.set(
        name,
        setTimeout(() => {
          this.warmers.delete(name);
          if (!deps.indexes.store.has(name)) return;
          this.derived(deps.indexes.get(name)).catch(() => undefined);
        }, 2_000).unref(),
      );
    });
  }

  /** Stops the background warm-ups (shutdown). */
  close(): void {
    for (const timer of this.warmers.values()) clearTimeout(timer);
    this.warmers.clear();
  }

  private get labels(): readonly string[] {
    return this.deps.detector?.info.labels ?? [];
  }

  /**
   * Refuses override labels the loaded detector does not have: a misspelt one ("shoos") would take
   * its categories away from the labels derived for them and map them to nothing the detector
   * reports, without a word. Without a detector there is nothing to check against.
   */
  checkLabels(labels: readonly string[]): void {
    const known = new Set(this.labels);
    if (known.size === 0) return;
    const unknown = labels.filter((label) => !known.has(label));
    if (unknown.length === 0) return;
    throw new ValidationError(`unknown detector label${unknown.length > 1 ? 's' : ''} ${nameSome(unknown)}; the detector's labels are: ${this.labels.join(', ')}`, {
      param: 'labels',
      code: 'unknown_label',
      details: { known: this.labels },
    });
  }

  private async vote(hash: string): Promise<string | null> {
    if (this.votes.has(hash)) return this.votes.get(hash)!;
    const bytes = this.deps.indexes.blobs.readNow(hash);
    let label: string | null = null;
    if (bytes && this.deps.detector) {
      try {
        const detections = await this.deps.detector.detect(await decodeImage(await staged(bytes, this.deps.maxPixels), this.deps.maxPixels), { confidence: 0.25, iou: 0.45, maxObjects: 5 });
        label = detections.reduce<Detection | undefined>((best, detection) => (!best || detection.score > best.score ? detection : best), undefined)?.label ?? null;
      } catch {
        label = null; // an image the decoder refuses casts no vote
      }
    }
    this.votes.set(hash, label);
    return label;
  }

  /** The derived label → categories mapping of an index, current with its catalog. */
  private async derived(index: VectorIndex) {
    const overrides = this.deps.overrides.get(index.name);
    const key = `${index.dir}\u0000${index.seq}\u0000${JSON.stringify([...overrides])}`;
    const cached = this.cache.get(index.name);
    if (cached?.key === key) return cached;
    const running = this.computing.get(`${index.name}\u0000${key}`);
    if (running) return running;
    const computation = this.compute(index, key, overrides).finally(() => this.computing.delete(`${index.name}\u0000${key}`));
    this.computing.set(`${index.name}\u0000${key}`, computation);
    return computation;
  }

  private async compute(index: VectorIndex, key: string, overrides: ReadonlyMap<string, string[]>) {
    const counts = index.categoryCounts();
    const mapping = new Map<string, string[]>(this.labels.map((label) => [label, []]));
    // Categories a person has given to a label (here or in LOOKBOOK_LABEL_CATEGORIES) are not derived for others.
    const claimed = new Set([...overrides.values(), ...Object.values(this.deps.configured)].flat());
    const open = counts.map(({ category }) => category).filter((category) => !claimed.has(category));
    const sampled: CategorySample[] = [];
    for (const category of open) {
      // A category named as a label is that label's (and may hold others' objects too: a catalog's "clothing" its shoes).
      const namesake = this.labels.find((label) => words(label) === words(category));
      const tally = new Map<string, number>();
      let cast = 0;
      const count = counts.find((entry) => entry.category === category)!.count;
      for (const { blob } of index.categoryImages(category, sampleSize(count))) {
        const label = await this.vote(blob);
        if (label === null) continue;
        cast += 1;
        tally.set(label, (tally.get(label) ?? 0) + 1);
      }
      sampled.push({ category, namesake, tally, cast, count });
    }
    for (const [label, categories] of assignCategories(this.labels, sampled)) mapping.get(label)!.push(...categories);
    const entry = { key, mapping, counts };
    this.cache.set(index.name, entry);
    return entry;
  }

  /** The categories a label's objects are searched in, and where that comes from. */
  async categoriesFor(index: VectorIndex, label: string): Promise<LabelMapping> {
    const override = this.deps.overrides.get(index.name).get(label);
    if (override) return { label, categories: override, source: 'index' };
    // Own keys only: a label named "constructor" is not Object's.
    const configured = Object.hasOwn(this.deps.configured, label) ? this.deps.configured[label] : undefined;
    if (configured) return { label, categories: configured, source: 'configured' };
    const derived = (await this.derived(index)).mapping.get(label) ?? [];
    return { label, categories: derived, source: derived.length > 0 ? 'derived' : 'none' };
  }

  /** Every category with its count and labels, and every label with its categories. */
  async mapping(index: VectorIndex): Promise<CategoryMapping> {
    const { counts } = await this.derived(index);
    const labels = await Promise.all(this.labels.map((label) => this.categoriesFor(index, label)));
    return {
      categories: counts.map(({ category, count }) => ({ category, count, labels: labels.filter((entry) => entry.categories.includes(category)).map((entry) => entry.label) })),
      labels,
    };
  }
}
