/**
 * The graph ef an index's unfiltered searches need, measured on its own searches. How many
 * candidates a walk must keep to find a query's neighbours depends on the data more than on the
 * index's size: on bench/search's clustered 1M items ef 128 found 0.996 of the float top 10, while
 * 200k items in near-duplicate groups of ten (a product in its colours) gave 0.795 at ef 64, 0.934
 * at 128 and 0.988 at 256. A default that grows with the index alone is too slow for the first and
 * loses a tenth of the answer on the second. So a sample of the queries an index is asked (1 in
 * {@link SAMPLE_EVERY}, the last {@link SAMPLE_SIZE}) is searched again in the background, at each
 * ef of {@link EXPANSION_LADDER} from the smallest up, and compared with what the search's own stages
 * give over every code: the nearest {@link TRUTH_CANDIDATES} codes by Hamming distance, narrowed by
 * the two-bit estimate to {@link TRUTH_OVERSAMPLING} × 10, rescored. What it measures is what the
 * graph loses, not what the codes do (oversampling sets that): an ef past which the answer no longer
 * improves is enough. The smallest ef whose answers hold the target share of that answer, or past
 * which they stop improving, becomes the index's — and its searches take their candidates from a
 * scan of every code instead of a walk where that took no longer (as turbopuffer and Vespa measure recall on
 * production queries, and FAISS's
 * auto-tuning picks the cheapest setting that reaches a recall).
 */

/** The efs tried, smallest first. */
export const EXPANSION_LADDER: readonly number[] = [64, 96, 128, 192, 256, 384, 512, 768, 1024];
/** Searches per query sampled. */
export const SAMPLE_EVERY = 4;
/** Queries kept: the last ones sampled. */
export const SAMPLE_SIZE = 64;
/** Queries sampled before a first measurement. */
export const MIN_QUERIES = 32;
/** The answer over every code: the top 10 of the nearest this many codes by Hamming distance... */
export const TRUTH_CANDIDATES = 1024;
/** ...narrowed by the two-bit estimate to this × 10, rescored with the float vectors. */
export const TRUTH_OVERSAMPLING = 16;
/** Measured again once the live items changed by this share since... */
export const REMEASURE_GROWTH = 0.1;
/** ...or this long after the last measurement, once the sample is new. */
export const REMEASURE_AFTER_MS = 10 * 60_000;
/**
 * Two steps up the ladder that add less recall than twice this have reached what the codes allow:
 * the smallest ef tried within this of the best recall is taken.
 */
export const PLATEAU = 0.001;
/** A scan is timed where the answers over every code (a scan and more) took less than this many times the walks at the ef taken. */
export const SCAN_WORTH_TRYING = 16;

export interface ExpansionMeasurement {
  /** The ef taken: the smallest whose recall reached the target, or, where recall stopped growing, the smallest near the best. */
  readonly expansion: number;
  /** Mean recall@10 at that ef against the answer over every code (see {@link TRUTH_CANDIDATES}). */
  readonly recall: number;
  readonly target: number;
  readonly queries: number;
  /** Live items when measured. */
  readonly items: number;
  readonly measuredAt: string;
  /** Every ef tried, smallest first (the ladder up to the one taken, or where it stopped), and the mean ms of its searches. */
  readonly recallByExpansion: readonly { readonly expansion: number; readonly recall: number; readonly ms: number }[];
  /**
   * Mean ms and recall of searches whose candidates at the ef taken came from a scan of every code:
   * measured where the answers over every code took less than {@link SCAN_WORTH_TRYING} times the walks
   * (else null: at 1M those answers took ~12 ms, a walk at ef 64 ~0.5).
   */
  readonly scanned: { readonly ms: number; readonly recall: number } | null;
  /**
   * Whether unfiltered searches scan every code instead of walking: the scan took no longer than the
   * walks at the ef taken for as much recall (a small index, or data where only a walk over much of it
   * finds the answer), or it reached the target where no walk did (groups of duplicates whose
   * codes the graph reaches only in part: 50k exact duplicates in groups of ten, 0.94 at every ef).
   */
  readonly scan: boolean;
}

/**
 * What the meter asks of the index: the top 10 slots of the answer over every code (in steps: its
 * scan of every code in parts, each a step), of a search at an ef, and of one whose candidates come
 * from a scan of every code instead of a walk at that ef.
 */
export interface ExpansionProbe {
  truth(query: Float32Array): Generator<void, ArrayLike<number>>;
  answer(query: Float32Array, expansion: number): ArrayLike<number>;
  scan(query: Float32Array, expansion: number): ArrayLike<number>;
}

/** The share of `truth` that `found` holds. */
function recallOf(found: ArrayLike<number>, truth: ArrayLike<number>): number {
  if (truth.length === 0) return 1;
  const wanted = new Set(Array.from(truth));
  let hits = 0;
  for (let i = 0; i < found.length; i++) if (wanted.has(found[i]!)) hits++;
  return hits / truth.length;
}

/**
 * The measurement as a series of steps (one exact answer or one search each), so that a caller can
 * spread them over the event loop: the exact answers first, then each ef of the ladder over every
 * query, until one reaches `target` or two in a row add next to none.
 */
export function* measureExpansion(
  queries: readonly Float32Array[],
  probe: ExpansionProbe,
  target: number,
  items: number,
  ladder: readonly number[] = EXPANSION_LADDER,
  /** Milliseconds, for the steps' times (the tests' own clock). */
  clock: () => number = () => performance.now(),
): Generator<void, ExpansionMeasurement> {
  const truths: ArrayLike<number>[] = [];
  let truthMs = 0;
  for (const query of queries) {
    // Its steps' own time, not the pauses between them.
    const steps = probe.truth(query);
    for (;;) {
      const started = clock();
      const step = steps.next();
      truthMs += clock() - started;
      if (step.done) {
        truths.push(step.value);
        break;
      }
      yield;
    }
    yield;
  }
  const n = Math.max(queries.length, 1);
  /** Mean ms and recall of `search` over the queries. */
  function* time(search: (query: Float32Array) => ArrayLike<number>): Generator<void, { ms: number; recall: number }> {
    let sum = 0;
    let ms = 0;
    for (let q = 0; q < queries.length; q++) {
      const started = clock();
      const found = search(queries[q]!);
      ms += clock() - started;
      sum += recallOf(found, truths[q]!);
      yield;
    }
    return { ms: ms / n, recall: queries.length ? sum / n : 1 };
  }
  const tried: { expansion: number; recall: number; ms: number }[] = [];
  let taken: { expansion: number; recall: number; ms: number } | undefined;
  for (const expansion of ladder) {
    const step = { expansion, ...(yield* time((query) => probe.answer(query, expansion))) };
    tried.push(step);
    if (step.recall >= target) {
      taken = step;
      break;
    }
    const twoBelow = tried.at(-3);
    if (twoBelow && step.recall - twoBelow.recall < 2 * PLATEAU) {
      const best = Math.max(...tried.map((one) => one.recall));
      taken = tried.find((one) => one.recall >= best - PLATEAU);
      break;
    }
  }
  taken ??= tried.at(-1)!;
  const expansion = taken.expansion;
  const scanned = truthMs / n < SCAN_WORTH_TRYING * taken.ms ? yield* time((query) => probe.scan(query, expansion)) : null;
  // As good and no slower; or reaching the target where no walk did (a walk may miss what no ef finds: exact duplicates, whose identical codes take up each other's links).
  const scan = scanned !== null && ((scanned.ms <= taken.ms && scanned.recall >= taken.recall - PLATEAU) || (scanned.recall >= target && taken.recall < target));
  return { expansion, recall: taken.recall, target, queries: queries.length, items, measuredAt: new Date().toISOString(), recallByExpansion: tried, scanned, scan };
}

/** Runs `steps` (a measurement's) to the end at once. */
export function runSteps<T>(steps: Generator<void, T>): T {
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/** The sample of an index's queries and when to measure again. */
export class QuerySample {
  private readonly kept: Float32Array[] = [];
  private next = 0;
  /** Queries offered, sampled or not. */
  private offered = 0;
  /** Queries sampled since the last measurement began. */
  private fresh = 0;

  constructor(
    private readonly size = SAMPLE_SIZE,
    private readonly every = SAMPLE_EVERY,
  ) {}

  /** Keeps a copy of every `every`th query offered, in place of the oldest kept. */
  offer(query: Float32Array): void {
    if (this.offered++ % this.every !== 0) return;
    const copy = Float32Array.from(query);
    if (this.kept.length < this.size) this.kept.push(copy);
    else this.kept[this.next] = copy;
    this.next = (this.next + 1) % this.size;
    this.fresh++;
  }

  get count(): number {
    return this.kept.length;
  }

  /**
   * Whether to measure now, with `items` live items: enough queries kept, and none measured yet, or
   * the items changed by {@link REMEASURE_GROWTH} since, or a whole new sample {@link REMEASURE_AFTER_MS} after.
   */
  due(items: number, last: ExpansionMeasurement | undefined, now = Date.now()): boolean {
    if (this.kept.length < Math.min(MIN_QUERIES, this.size)) return false;
    if (!last) return true;
    if (Math.abs(items - last.items) >= REMEASURE_GROWTH * last.items) return true;
    return this.fresh >= this.size && now - Date.parse(last.measuredAt) >= REMEASURE_AFTER_MS;
  }

  /** The queries kept, for a measurement beginning now. */
  take(): Float32Array[] {
    this.fresh = 0;
    return [...this.kept];
  }
}
