import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError } from '../errors.js';
import { BinaryHnsw, type HnswSettings } from './binary-hnsw.js';
import { Catalog, type CatalogItem, type ItemFields, type ItemFilter } from './catalog.js';
import { CodeStore, slotsOf, type CodeCandidate } from './code-store.js';
import { FilterIndex, type FilterPlan } from './filter-index.js';
import { PostingCopy } from './posting-copy.js';
import { FilterGraph } from './filter-graph.js';
import { GRAPH_FILE, readGraphState, runGraphCheckpoint, writeGraphState, type RunningCheckpoint } from './graph-checkpoint.js';
import { VectorFile, type VectorStorage } from './vector-file.js';
import { WalkGuard } from './walk-guard.js';
import { measureExpansion, QuerySample, runSteps, TRUTH_CANDIDATES, TRUTH_OVERSAMPLING, type ExpansionMeasurement, type ExpansionProbe } from './expansion-meter.js';
import type { EstimateQuery } from './native-graph.js';

export interface IndexModel {
  readonly id: string;
  readonly version: string;
  readonly dimension: number;
  /**
   * For a version that is a base model plus an alignment head: the base version. Such an index
   * also keeps each item's base embedding (`base.f32`), so switching versions re-projects them.
   */
  readonly base?: string | undefined;
}

export interface IndexSettings extends HnswSettings {
  /** How float vectors are kept on disk for rescoring. @defaultValue 'f32' */
  readonly storage: VectorStorage;
  /**
   * Indexes (or filtered subsets) up to this many items are searched exactly over their codes; a
   * larger filtered subset is too when scanning it costs less than the graph search it would need.
   * 0 turns exact scans off unless a search asks for one. @defaultValue 20000
   */
  readonly exactThreshold: number;
}

export const DEFAULT_INDEX_SETTINGS: IndexSettings = {
  storage: 'f32',
  connectivity: 16,
  // bench/search at 1M (M16): building with 256 lifted recall@10 at ef 256 from 0.932 to 0.987 (M32 with 128: 0.987, 60 % more graph memory).
  expansionAdd: 256,
  // 0: grows with the index (see graphExpansion).
  expansionSearch: 0,
  exactThreshold: 20_000,
};

/**
 * The ef of an unfiltered graph search on an index of `size` items when its settings leave it to
 * the index: 64 up to 100k items, then ×4 per ×10 items (256 at 1M, at most 1024). bench/search on
 * 1M clustered items (M16, built with ef 256): ef 64 found 0.81 of the float top 10, 128 0.93, 256 0.99.
 * What a larger ef bought at 1M was the few walks that stop in the wrong part of the graph (ef 384
 * rescued some, not all): the walk guard ({@link WalkGuard}) catches those, and ef 256 with it gave
 * recall@10 0.996–0.997 on two builds, against 0.989–0.990 for ef 384 without it, in ~0.8× the time.
 */
export function graphExpansion(size: number): number {
  return size <= 100_000 ? 64 : Math.min(1024, Math.round(64 * (size / 100_000) ** Math.log10(4)));
}

export interface UpsertEntry {
  readonly fields: ItemFields;
  readonly vector: Float32Array;
  /** The base embedding, for an index on an alignment head version. */
  readonly base?: Float32Array | undefined;
}

export interface SearchOptions {
  readonly limit: number;
  /** Candidates fetched by Hamming distance = limit × oversampling, then rescored. @defaultValue 4 */
  readonly oversampling: number;
  /** Rescore candidates with the float vectors (cosine); otherwise rank by Hamming. @defaultValue true */
  readonly rescore: boolean;
  readonly filter?: ItemFilter | undefined;
  /** Scan every (filtered) code instead of walking the graph. */
  readonly exact?: boolean | undefined;
  /** Item ids left out of the results (the query item itself, say). */
  readonly excludeIds?: readonly string[] | undefined;
  /** The ef of an unfiltered graph search, in place of the index's (see {@link VectorIndex.expansionFor}). */
  readonly expansion?: number | undefined;
}

/** What one {@link VectorIndex.compact} did. */
export interface CompactionReport {
  /** Live items moved from the end of the files into free slots. */
  readonly movedItems: number;
  /** Slots released for reuse during the compaction, in bytes of the vector and code files. */
  readonly reclaimedBytes: number;
  /** Bytes cut from the end of the files. */
  readonly truncatedBytes: number;
  /** Free slots left for reuse (inside the files), and their bytes. */
  readonly freeSlots: number;
  readonly freeBytes: number;
  /** The vector and code files' size before and after. */
  readonly fileBytesBefore: number;
  readonly fileBytesAfter: number;
}

export interface SearchHit {
  readonly item: CatalogItem;
  /** Cosine similarity when rescored; else 1 − 2·hamming/dimension. */
  readonly score: number;
  readonly hamming: number | undefined;
}

export interface SearchOutcome {
  readonly hits: SearchHit[];
  /**
   * `hnsw`: a graph walk, from the walk guard's sampled codes nearest to the query (the native graph) or from the graph's top, that did not fall short (see {@link WalkGuard});
   * `hnsw-from-top`: the walk from the sampled codes fell short and one from the top at the same ef did not;
   * `hnsw-seeded`: the walk from the top (batched searches, USearch's binding) fell short and one at the same ef started from the sampled codes nearest to the query did not;
   * `hnsw-widened`: the second walk fell short too, and one from the top at four times the ef did not;
   * `exact-after-hnsw`: all three fell short and every code was scanned;
   * `filtered-exact-after-hnsw`: too few of the graph's candidates passed the filter (its items lie far from the query), so its codes were scanned;
   * `filtered-exact-far`: the walk guard's sample codes nearest to the query held too few of the filter's items for a walk to find them, so its codes were scanned without one;
   * `filtered-graph`: the filter's own graph (see {@link FilteredSearchTuning.graphMinItems}) was walked.
   */
  readonly strategy: 'hnsw' | 'hnsw-seeded' | 'hnsw-from-top' | 'hnsw-widened' | 'exact' | 'exact-after-hnsw' | 'filtered-exact' | 'filtered-hnsw' | 'filtered-exact-after-hnsw' | 'filtered-exact-far' | 'filtered-graph';
  /** Candidates considered by the binary stage. */
  readonly candidates: number;
}

/** How filtered searches choose their path and how many candidates they rescore (measured in bench/search). */
export interface FilteredSearchTuning {
  /**
   * A filtered graph search fetches this many times the candidates expected to pass (1.2 gave recall@10 0.86–0.95 at 25–50 %),
   * for filters of up to a quarter of the items; from there the factor falls linearly to 1 at `graphOverfetchEndShare` of
   * them. The larger the filter, the nearer its search is to the unfiltered one, which fetches only its ef: the filter's
   * nearest items lie higher in the walk's list, where Hamming distance ranks them better. A filtered walk
   * (`filteredWalk`) asks for the candidates wanted × the same factor.
   */
  readonly graphOverfetch: number;
  readonly graphOverfetchEndShare: number;
  /**
   * The candidates wanted from the graph or the scan grow with the matching items and shrink as
   * they approach the whole index: k × (matches / this) × (1 − matches / items), between
   * `poolFactor` and `maxPoolFactor`. The more matching items, the more of them crowd the query's
   * neighbourhood and the further down the graph's list the filtered neighbours lie; a filter that
   * matches nearly everything is nearly an unfiltered search, whose pool is k.
   */
  readonly poolGrowth: number;
  readonly maxPoolFactor: number;
  /**
   * Scanning this many codes costs about as much as fetching one graph candidate (~10 ns per code of
   * a posting list in the kernel, whose jumps miss the caches; ~1.9 µs per unit of ef at 100k), so a
   * filtered search scans its matching codes when they number fewer than this × the candidates the
   * graph would have to fetch.
   */
  readonly graphStepInCodes: number;
  /**
   * The same for a filter whose codes are copied side by side ({@link PostingCopy}): read in a row,
   * a code costs a fraction of one reached through the posting list (1M codes in 2.8–4.5 ms, ~3–4
   * ns each, against ~16 ns scattered), so a filter the graph would answer, a 25 % filter at 1M,
   * is scanned from its copy when it has one (or gets one: it counts towards the copy as a scan).
   * Its walk no longer tells whether the filter's items lie away from the query: its nearest code,
   * farther than the walk guard's sample's nearest ({@link WalkGuard.fellShort}), does. Such a scan
   * shortlists the candidates wanted × `copiedShortlistFactor` (not `shortlistFactor`, which is for
   * the sparse filters the planner scans: a dense filter's nearest codes lie near the query, where
   * Hamming distance ranks well).
   */
  readonly copiedStepInCodes: number;
  readonly copiedShortlistFactor: number;
  /**
   * A filtered graph walk whose candidates pass the filter at less than this × its share of the
   * items goes to a scan of the matching codes: the filter is correlated with the vectors against
   * the query (a category unlike the query's, as Complete the Look asks), its nearest items lie
   * far down the walk's list, and the few that passed missed most of the float top 10.
   */
  readonly graphPassShortfall: number;
  /**
   * The same for a filtered walk by the two-bit estimate (`estimateWalks`), after it: that walk ranks
   * the filter's items well away from the query too, so its answer stands unless nearly none of its
   * near candidates passed. (The look before a walk, `nearSample`, keeps `graphPassShortfall`.)
   */
  readonly estimatePassShortfall: number;
  /**
   * Such a scan (a filter against the query) shortlists k × this codes by Hamming distance and
   * rescores at least k × `farPoolFactor`: far from the query both rankings are coarse.
   */
  readonly farShortlistFactor: number;
  readonly farPoolFactor: number;
  /**
   * A filter with at least this many items whose codes are scanned a second time within a minute (or that two
   * searches would have scanned from a copy, see `copiedStepInCodes`), with no change to the index
   * for the last `copyQuietMs` (0, the default: whether or not writes go on), gets its codes copied
   * side by side ({@link PostingCopy}): its later scans read them in order instead of through its
   * posting list. Writes keep a copy up to date, while it is made and after (an item that leaves
   * the filter is marked dead in it, one that joins takes a spare entry) until it runs out of spare
   * entries or holds too many dead ones. The copies take at most `copyBytesPerItem` × the live
   * items of memory in all; a filter that asks for one when they hold it all takes the room of
   * copies not searched for `copyIdleMs`, the longest idle first (until 2026-12-02 the first
   * filters to ask kept it for good): the copies follow the filters in use.
   */
  readonly copyMinItems: number;
  readonly copyQuietMs: number;
  readonly copyBytesPerItem: number;
  readonly copyIdleMs: number;
  /**
   * A filter that a search would answer from its copy (one the graph walk serves poorly and whose
   * matching codes are too many to scan at their cost, see `copiedStepInCodes`: a quarter of 1M
   * items), holding at least this many items and asked for twice within a minute, gets a graph of
   * its own items ({@link FilterGraph}, built a slice at a time while searches go on): its searches
   * walk that graph by the two-bit estimate for the pool × `estimateWalkFactor`, as a filtered walk of
   * the index's graph asks (bench/search at 1M, 25 %: 1.27–1.35× the unfiltered time at ef 128, recall
   * 0.987–0.989, against 2.24–2.38× at 0.979–0.980 from the copies). The graphs take at
   * most `graphBytesPerItem` × the live items of memory in all (0: none); a filter that asks for one
   * when they hold it all takes the room of graphs not searched for `copyIdleMs`, the longest idle first.
   */
  readonly graphMinItems: number;
  readonly graphBytesPerItem: number;
  /** A filtered search wants k × this candidates (k = limit × oversampling), and rescores at least as many with their float vectors. */
  readonly poolFactor: number;
  /** … or k × this when the filter matches fewer than `sparseShare` of the items. */
  readonly sparsePoolFactor: number;
  readonly sparseShare: number;
  /**
   * A scan takes the candidates × this best by Hamming distance, and narrows them by their estimated
   * dot products with the query (see `narrowBy`): the nearest matching items of a sparse filter lie far from
   * the query, where Hamming distance alone ranks float neighbours poorly (its top 40 of a 1 %
   * filter's codes held 64 % of the float top 10).
   */
  readonly shortlistFactor: number;
  /**
   * The same for a filter of at least `sparseShare` of the items, whose candidates wanted already grow
   * with its size (`poolGrowth`): its nearest items lie nearer the query, and fewer Hamming ranks past
   * the candidates hold the float neighbours.
   */
  readonly denseShortlistFactor: number;
  /**
   * How candidates are ranked before the float rescoring: by their two-bit codes
   * ({@link CodeStore.estimateDots}, the default) or by their sign codes alone ({@link CodeStore.signedDots},
   * which needs pools about three times larger for the same recall; bench/search compares them).
   */
  readonly narrowBy: 'two-bit' | 'sign';
  /**
   * The pool rescored is the candidates wanted from the graph or the scan (the factors above) divided
   * by this, and at least k × `poolFactor`: what the better ranking of the two-bit codes saves.
   */
  readonly narrowGain: number;
  /**
   * Before a filtered graph walk, the filter's share among this many of the walk guard's sampled
   * codes nearest to the query ({@link WalkGuard.nearPassing}): where even its upper bound is under
   * `graphPassShortfall` × the filter's share of the items, the walk would fall short, and the search
   * scans at once; where its lower bound is above the share, the walk fetches that much less.
   * 0: no look.
   */
  readonly nearSample: number;
  /**
   * A filter of at least this share of the items looks over the sample's first look only (see
   * {@link WalkGuard.nearPassing}): ~2,000 codes at 1M where the whole sample is ~15,600, which at 1M
   * was ~50 µs of a 50 % filter's ~700. Such a filter's share near the query only falls short of
   * `graphPassShortfall` × its share where it leans hard away from the query, which the wider look
   * still shows; and the walk checks the share it met after (`estimatePassShortfall`). Above 1: never.
   */
  readonly firstLookShare: number;
  /**
   * A filter the planner answers walks the native graph with the filter inside the walk
   * ({@link BinaryHnsw.searchFiltered}: its list keeps only matching codes, so it asks for the
   * candidates wanted, not the walk that would hold them) rather than walking unfiltered and
   * keeping the matching candidates. False, or on USearch's binding: the latter.
   */
  readonly filteredWalk: boolean;
  /**
   * Which native graph walks rank their candidates by the two-bit estimate ({@link CodeStore.estimateDots},
   * computed for each node the walk reaches) instead of the sign codes' Hamming distance: `filtered`
   * the filtered walk, `all` the unfiltered one as well, `none` neither. A walk by the estimate hands
   * its candidates over in the estimate's order: no narrowing after it.
   */
  readonly estimateWalks: 'none' | 'filtered' | 'all';
  /** A filtered walk by the estimate asks for the pool rescored × this. */
  readonly estimateWalkFactor: number;
  /**
   * A filtered walk by the estimate from the walk guard's sampled codes (`walkSeeds`), where the
   * filter's share among them is at least half its share of the items (by the lower bound of
   * `nearSample`'s look), asks for the pool × this instead (below 1: the pool is what it found);
   * its list holds at least the unfiltered walk's ef (the index's, measured on its own queries),
   * of which it hands over the first pool × this by the estimate.
   */
  readonly seededWalkFactor: number;
  /**
   * A filtered walk starts on the base level at the walk guard's sampled codes nearest to the query
   * (those `nearSample` looked at), not where the graph's upper levels lead: their greedy descent
   * sends some walks into the wrong part of the graph, where a filtered walk, which the walk guard
   * does not check, finds none of the query's neighbours. False (or no look): from the top.
   */
  readonly walkSeeds: boolean;
  /**
   * An unfiltered walk (by Hamming distance, the walk guard on, the native graph) starts on the base
   * level at the {@link SEEDS} codes of the guard's first look nearest to the query, which the guard
   * reads anyway, instead of where the graph's upper levels lead; false: from the top, as until
   * 2026-12-03 (see {@link SEEDS}).
   */
  readonly walkFromSample: boolean;
  /**
   * Nodes a walk of the graph's base level from given codes (the unfiltered walks from the sample,
   * the filtered walks from their seeds) expands at a step, reading their nodes and then their
   * neighbours' codes side by side: a walk at 1M waits on memory more than it computes, and one node a
   * step (1, USearch's walk) waits once a node. bench/search's 1M index (200 queries taking turns,
   * 2026-12-03): a 50 % filter's walk at 3 took 0.85–0.89 × the time it took at 1 (4: the same as
   * 3; 2: 0.91), the unfiltered search 0.91 × at 2 or 3, recall@10 unchanged (0.988 and 0.997).
   */
  readonly walkBeam: number;
  /**
   * A filter's own graph is walked from the walk guard's first-look items nearest to the query that
   * the filter holds (the `nearSample` nearest of the look the unfiltered walks start from), `walkBeam`
   * nodes a step, where there are any; from the top (USearch's walk) where there are none or this is
   * false. bench/search's 1M index, the 25 % category (200 queries taking turns, each against its own
   * unfiltered blocks): 1.75 × the unfiltered search against 1.95 × from the top, recall@10 0.988 both.
   */
  readonly seedFilterGraphs: boolean;
  /**
   * The recall@10 an unfiltered search should reach where the index's settings leave its ef to it: the
   * smallest ef that reached it on a sample of the index's own queries is measured in the background
   * and taken (see expansion-meter.ts); 0: no measuring, the ef grows with the index (see {@link graphExpansion}).
   */
  readonly targetRecall: number;
}

/**
 * A walk the walk guard finds short of the query's neighbourhood is walked again at this many times
 * its ef before the search falls back to a scan of every code. On bench/search's 1M index the four
 * walks of 300 that fell short at ef 256 all reached their top 10 at 512, 1,024 and beyond (another
 * build had two short at 384 and 512, none at 640); the scan of 1M codes took ~12–13 ms on that
 * machine, a walk at 1,024 ~2 ms.
 */
const REWALK_FACTOR = 4;

/**
 * Unfiltered walks on the native graph start from this many of the sampled codes nearest to the
 * query (the walk guard's first look, read before the walk instead of after it; see
 * FilteredSearchTuning.walkFromSample), and a walk from the top that the walk guard finds short of
 * the query's neighbourhood is walked again from them, at the same ef: a walk from the top
 * falls short where the upper levels lead it into the wrong part of the graph, and one that starts
 * in the right part does not. On bench/search's 1M index it held for all 72 of 500 walks that fell
 * short at ef 64 and all 8 at ef 256 (a walk at four times the ef: 64 and 8), its Hamming top 10
 * 0.997 of the exact one's, in 0.26–0.29 ms at ef 64 (the walk at four times: 1.0–1.1 ms) and
 * 0.66–0.76 at ef 256 (2.2–2.5); the choice of 8 seeds against 4 or 1 made no difference there.
 */
const SEEDS = 8;

/**
 * When the next background save of the graph starts, in ms from `now`: {@link CHECKPOINT_DELAY_MS}
 * after the write that asks for it, and no sooner than `spacing` times the last save's length after
 * that save ended. Under steady writes the saves ran back to back until 2026-12-02 (at 1M each
 * takes ~1.9 s of the other core and loads and writes the 212 MB graph, whose disk traffic slowed
 * the rescoring's reads of the vector file); with a spacing of 4 they take at most a fifth of the
 * time, and a restart replays the writes of the last ~10 s at 1M instead of ~4 s.
 */
export function checkpointDelay(now: number, last: { endedAt: number; ms: number } | undefined, spacing: number): number {
  return Math.max(CHECKPOINT_DELAY_MS, last ? last.endedAt + spacing * last.ms - now : 0);
}
const CHECKPOINT_DELAY_MS = 2_000;
export const CHECKPOINT_SPACING = 4;

/**
 * Wilson's score interval (z = 2, ~95 %) for a share seen `passing` times in `of` draws: tight
 * enough at 32 draws to tell a filter that holds nearly all or none of a query's neighbourhood from
 * one that holds its usual share (a 25 % filter's bounds from 8 of 32: 0.13–0.42).
 */
export function shareBounds(passing: number, of: number, z = 2): { low: number; high: number } {
  if (of <= 0) return { low: 0, high: 1 };
  const p = passing / of;
  const z2 = z * z;
  const centre = p + z2 / (2 * of);
  const spread = z * Math.sqrt((p * (1 - p)) / of + z2 / (4 * of * of));
  const denominator = 1 + z2 / of;
  return { low: Math.max(0, (centre - spread) / denominator), high: Math.min(1, (centre + spread) / denominator) };
}

/** The graph overfetch of a filter matching `share` of the items (see {@link FilteredSearchTuning.graphOverfetch}). */
export function overfetchAt(overfetch: number, endShare: number, share: number): number {
  const from = 0.25;
  if (share <= from || endShare <= from || !Number.isFinite(endShare)) return overfetch;
  return 1 + (overfetch - 1) * Math.max(0, (endShare - share) / (endShare - from));
}

/**
 * Slots a copy of a filter's codes is filled with at a time, and the pause after each: ~0.7 ms of
 * work on the slower machine (the scattered reads and the new memory's page faults, ~320 ns a slot
 * at 1M), then the event loop is left to requests, so that making a copy takes at most about a
 * third of the thread while it lasts (a quarter of 1M codes: ~0.4 s).
 */
const COPY_SLICE = 2_048;
const COPY_PAUSE_MS = 2;

/**
 * A filter's graph ({@link FilterGraph}) is built in turns of about this much work, items added
 * {@link GRAPH_BATCH} at a time (on every core, as the index's graph adds), with {@link COPY_PAUSE_MS}
 * after each turn for the requests waiting.
 */
const GRAPH_SLICE_MS = 4;
/** A measurement of the ef (see {@link VectorIndex.expansionMeasured}) runs its steps for this long at a time (one step at least: a part of a scan of every code, a search)... */
const MEASURE_SLICE_MS = 2;
/** ...with this much time for searches between. */
const MEASURE_GAP_MS = 10;
/** Codes its scans of every code take a step at a time (a multiple of 64): at 1M ~0.6-1.5 ms of a 11.7 ms scan. */
const MEASURE_SCAN_PART = 65_536;
/** Where the catalog keeps the last measurement. */
const MEASURED_EXPANSION_META = 'measured-expansion';
/** The search a measurement of the ef times, and its report describes: the API's defaults (k = 40). */
const MEASURED_SEARCH = { limit: 10, oversampling: 4, rescore: true } as const;
const MEASURED_K = MEASURED_SEARCH.limit * MEASURED_SEARCH.oversampling;
const GRAPH_BATCH = 32;
const FILTER_GRAPH_EXPANSION_ADD = 128;

/**
 * Entries a copy of a filter's codes keeps free for items that join the filter after it is made
 * (~72 KB for 512 dimensions), and the share of its entries that may be items since gone: a copy
 * that fills up, or whose dead entries pass that share, is dropped, and made again when its filter
 * is next scanned twice (the scan still reads a dead entry's code).
 */
export const COPY_SPARE = 2_048;
const COPY_DEAD_SHARE = 1 / 8;

/** A filter's scan asks for a copy of its codes when another came within this long before it (see {@link FilteredSearchTuning.copyMinItems}). */
const COPY_ASK_WINDOW_MS = 60_000;

/** Whether this ask for `key` (a copy, a graph) at `now` is its second within {@link COPY_ASK_WINDOW_MS}; else it counts as the first. */
function askedAgain(asks: Map<string, number>, key: string, now: number): boolean {
  const first = asks.get(key);
  if (first !== undefined && now - first <= COPY_ASK_WINDOW_MS) return true;
  // Bounded however many different filters arrive.
  if (asks.size >= 10_000) asks.clear();
  asks.set(key, now);
  return false;
}

/**
 * Whether `bytes` fit in `room`, once the `idle` holders (the longest idle first) are dropped as
 * needed; none is dropped unless that makes the room.
 */
function makeRoom(bytes: number, room: number, idle: readonly { key: string; bytes: number }[], drop: (key: string) => void): boolean {
  if (bytes <= room) return true;
  if (bytes > room + idle.reduce((sum, held) => sum + held.bytes, 0)) return false;
  for (const held of idle) {
    if (bytes <= room) break;
    room += held.bytes;
    drop(held.key);
  }
  return true;
}

export const DEFAULT_FILTERED_SEARCH_TUNING: FilteredSearchTuning = {
  // bench/search at 1M, 25 % and 50 %: 1.5 gave recall@10 0.962 and 0.970 in 3.7 and 2.7 ms, 2 gave 0.968 and 0.977 in 4.2 and 3.2 ms.
  graphOverfetch: 1.5,
  // bench/search at 1M, 50 % (category and attribute, 100 queries): 1.5 gave recall@10 0.971/0.974 in 1.95–1.98× the unfiltered
  // time, 1.25 0.965/0.970 in 1.72–2.04× over seven runs, 1.0 0.962/0.963 in 1.53–1.81× over three; at 100k 1.0 gave 0.962–0.966 in
  // 1.22–1.30× (1.25: 0.973–0.974, 1.44–1.50×). The walk guard's cheaper unfiltered searches took 1.25 to the edge of 2×: 1.0 at
  // half the items. At 25 % 1.25 gave 0.948–0.953 (1.5: 0.964–0.969).
  graphOverfetchEndShare: 0.5,
  // bench/search at 1M, pools for k = 40: 10 % (100k matching) needed 240 for recall@10 0.99 (120: 0.91), 25 % 240 for 0.95, 50 % 120 for 0.956 and 240 for 0.98.
  // At 100k, 50 % (50k matching): 63 gave 0.978 in 1.44× the unfiltered time, 125 (without the share's discount) 0.992 in 2.58×.
  poolGrowth: 16_000,
  maxPoolFactor: 8,
  // bench/search at 100k: 160 sent 50 % filters to the graph (0.85 ms against 1.4 ms for the scan, same recall), 25 % to the scan.
  // At 1M the codes no longer fit the caches (a posting list's scan ~16 ns a code, the graph ~1.4 µs per unit of ef): 100 sends
  // 25 % to the graph there (3.7 ms against 5.1 for the scan) and keeps the paths chosen at 100k.
  // Through the service (`--http`) on the later, slower machine, a 25 % filter at 100k took 1.93–1.95 ms (took_ms) on the scan
  // (25k scattered codes, 2.8–2.9× unfiltered) and 1.05–1.30 on the graph (1.9–2.0×, recall@10 0.983–0.992 against 1.000):
  // 60 sends it to the graph; the paths at 1M stay as they were (that machine measured 69–99 codes per unit of ef there).
  graphStepInCodes: 60,
  // ~1.1–1.5 µs per unit of ef at 1M over ~3–4 ns per code in a row: 300 keeps a margin for the scan's longer shortlist. At 1M it
  // sends copied 25 % filters (250k codes against a fetch of 1,920) to their copies and keeps 50 % on the graph (500k against 960).
  copiedStepInCodes: 300,
  // At 1M, a 25 % category and attribute from their copies (100 queries): × 4 gave recall@10 0.991–0.993 in 1.63–1.75× the
  // unfiltered time, × 3 the same recall in 1.52–1.63×, × 2 0.981 in 1.40–1.51× (the graph, without a copy: 0.963–0.965).
  copiedShortlistFactor: 2,
  // bench/search at 100k, each query filtered to the quarter of the items opposite its own (see its quarterModel): scanning that
  // quarter with the 25 % filter's shortlist (240) and pool (60) gave recall@10 0.876; 640 and 160 0.916, 1,280 and 160 0.948.
  // The whole row (a third of its queries stay on the graph), × 32, 48 and 64: 100k 0.939, 0.949, 0.957 in 4.41, 4.69, 5.04 ms;
  // 1M 0.946, 0.953, 0.960 in 20.0, 20.8, 22.3 ms (one run of each, side by side).
  graphPassShortfall: 0.5,
  // bench/search at 1M, the quarter of the items against the query (a category unlike the query's, as Complete the Look asks),
  // 100 queries, filtered walks by the estimate, this bar also the look's before the walk: 0.5 scanned after 26 walks and at once for
  // 40 queries, 8.8× the unfiltered time at recall@10 0.957; 0.25 7.4× at 0.951; 0.15 walked 99 (one scan after) in 5.2× at 0.958
  // (the quarter with the query: 2.6, 1.9 and 1.9×; the category and attribute rows as they were). The look keeps 0.5 (see `far`);
  // so, side by side: 0.15 after the walk 4.5× at 0.949 against 5.9× at 0.950 with 0.5 (11 scans after a walk), with the query 2.3×
  // against 3.2×.
  estimatePassShortfall: 0.15,
  farShortlistFactor: 64,
  farPoolFactor: 4,
  // At 1M a copy of a 10 % filter's codes takes ~3.6 MB (35 bytes an item for 512 dimensions: the codes' first 192 bits, the
  // kernel's buffers, the slot; see prefixWords), a 25 % one ~8.8: 26 bytes an item hold two of each, and keep serving memory
  // under the 600 bytes an item of issue 15 (551–572 without copies; 573 with those four, measured by VmRSS).
  copyMinItems: 20_000,
  // Until 2026-12-02 a second (a write dropped a copy being made): under steady writes no copy was ever made.
  copyQuietMs: 0,
  copyBytesPerItem: 26,
  copyIdleMs: 60_000,
  graphMinItems: 100_000,
  graphBytesPerItem: 128,
  // bench/search at 100k: pools of 1.5k gave recall@10 0.98 at 25–50 %, 1.0 at 10 %; 1 % gave 0.94 with 3k, 0.97 with 4k.
  poolFactor: 1.5,
  sparsePoolFactor: 4,
  sparseShare: 0.05,
  // A shortlist of 4× the candidates wanted kept recall@10 within 0.002 of 8× at every selectivity, at half the signed dot products.
  shortlistFactor: 4,
  // bench/search at ef 64 (2026-12-02, ninth session), 100 queries, 1M: a 10 % filter's scan with × 2 took 1.68–1.70× the unfiltered
  // time at recall@10 0.981–0.984, × 4 2.18–2.26× at 0.981–0.986; 100k the same recall (1.000) in 1.09–1.22× against 1.19–1.35×.
  // (The 1 % filters keep × 4: at 100k × 2 lost them a third of a point of recall, 0.949–0.961 against 0.987.)
  denseShortlistFactor: 2,
  narrowBy: 'two-bit',
  // bench/search at 1M: at 25 % the pool rescored held recall@10 at 0.945 whether it was the candidates ÷ 1, ÷ 1.5 or ÷ 3 (the graph's
  // fetch sets it); at 10 % (scan) ÷ 3 gave 0.986, ÷ 4 and ÷ 6 0.967.
  narrowGain: 3,
  nearSample: 32,
  firstLookShare: 0.4,
  filteredWalk: true,
  // bench/search's 1M index, 100 queries (2026-12-02, sixth session): the filter's float top 10 lay within the first 17 of its
  // 500k codes by the two-bit estimate for 95 % of them (54 for 99 %), against 177 (857) by Hamming distance. The 50 % rows, the
  // unfiltered walk by Hamming distance at ef 256 beside them: by Hamming 1.79–1.85× at recall@10 0.964–0.966; by the estimate
  // (the pool of 107 × 1.0, 1.2) 1.38–1.41× at 0.961–0.970 and 1.57× at 0.981–0.983. The unfiltered walk by it: see `all` in the README.
  estimateWalks: 'filtered',
  estimateWalkFactor: 1.2,
  // Walks from the sample's codes (`walkSeeds`; 2026-12-02, eighth session), the 1M index's 50 % category, 300 queries taking turns block by block:
  // × 1.2 recall@10 0.988 (from the top: 0.959, ten walks of 300 finding none of the query's neighbours), × 1.0 0.987, × 0.8 0.983,
  // × 0.7 0.978, × 0.6 0.972, × 0.4 0.964, each step ~5–15 % less time (× 0.8: 0.64–0.72 of the time × 1.2 takes). Below × 0.6 the
  // walk's ef is the graph's 64 whatever the ask: only the rescoring shrinks. The quarter against the query at × 0.8: 0.961 (0.968
  // from the top at × 1.2, and from the sample at × 1.2), hence × 1.2 where the sample holds little of the filter. On an AVX2 machine
  // (2026-12-03), 200 queries: × 0.5 took the 50 % rows to 2.00–2.02× the unfiltered time at ef 64 (× 0.8: 2.33–2.39×) and 1.08–1.09×
  // at ef 256 (1.25–1.26×), recall@10 0.973–0.979 against 0.986–0.987: not taken, a point and more of recall on data we cannot see.
  // 2026-12-04 (nineteenth session; the filter's bitset and the walk holding at least the unfiltered walk's ef, both since), 200
  // queries, category and attribute: × 0.8 2.14 and 2.17× at recall@10 0.985 and 0.988, × 0.6 1.82–1.91× and 1.88× at 0.975 and
  // 0.984, × 0.5 1.80 and 1.82× at 0.972 and 0.981; bench/search, side by side: × 0.6 1.92 and 2.00×, × 0.5 1.90 and 1.95× (100k:
  // × 0.6 1.49 and 1.50× at 0.993 and 0.992, × 0.5 1.46 and 1.45× at 0.991 and 0.987). × 0.5 taken: issue 15 asks 2× at 0.95. The
  // walk's list stays the measured ef (64 there), of which it hands over the best 54 by the estimate (the unfiltered search
  // narrows its 64 to 40 the same way; never fewer than k): on data whose walks need more, the filtered walk widens as the
  // unfiltered one does.
  seededWalkFactor: 0.5,
  walkSeeds: true,
  walkFromSample: true,
  walkBeam: 3,
  seedFilterGraphs: true,
  targetRecall: 0.99,
};

/**
 * One named index on disk: the SQLite catalog (source of truth), float vectors for rescoring,
 * sign-bit codes, and a USearch HNSW over the codes. The graph is saved atomically and, on
 * open, brought up to date from the catalog's change log, or rebuilt when it cannot be read.
 */
export class VectorIndex {
  private saveTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private checkpointing: RunningCheckpoint | undefined;
  /** The last background save of the graph (when it ended, how long it took), and how many have run. */
  private lastCheckpoint: { endedAt: number; ms: number } | undefined;
  checkpoints = 0;
  private closed = false;
  /** See {@link checkpointDelay}; bench/search compares 0 (saves back to back under writes). */
  checkpointSpacing = CHECKPOINT_SPACING;
  /** Why the last background save failed, until one succeeds (the next write tries again; close saves on this thread). */
  private checkpointError: string | undefined;
  /** Vector slots no row holds, highest first (`pop` gives the lowest): reused before the files grow. */
  private freeSlots: number[];
  private readonly reclaimed = { slots: 0, bytes: 0, truncatedBytes: 0 };
  /** Live items, kept in step with the catalog (a COUNT(*) per search would dominate it). */
  private liveCount: number;
  /** Called when a save of the graph released slots for reuse or cut the files (to log it). */
  onReclaim: ((reclaimed: { slots: number; bytes: number; truncatedBytes: number }) => void) | undefined;
  /** A compaction is under way (one at a time). */
  private compacting = false;
  /** Filters' codes copied side by side, by the filter's JSON, and when each filter without one was first scanned (see {@link postingCopy}). */
  private readonly copies = new Map<string, PostingCopy>();
  /** When each copy was last searched (or made). */
  private readonly copyUsedAt = new Map<string, number>();
  private readonly copyScans = new Map<string, number>();
  /** Copies being filled a slice at a time (see {@link buildCopy}), by the filter's JSON, and who waits for them all. */
  private readonly copyBuilds = new Map<string, { bytes: number; timer: NodeJS.Timeout; copy: PostingCopy }>();
  private copyWaiters: (() => void)[] = [];
  /** Graphs of filters' own items (see {@link filterGraph}) by the filter's JSON: built, or being built while `timer` is set. */
  private readonly filterGraphs = new Map<string, { graph: FilterGraph; usedAt: number; timer: NodeJS.Timeout | undefined; bytes: number }>();
  /** When each filter without a graph first asked for one (see {@link filterGraph}). */
  private readonly graphAsks = new Map<string, number>();
  private changedAt = performance.now();
  /** How filtered searches choose their path; bench/search compares variants. */
  tuning: FilteredSearchTuning = DEFAULT_FILTERED_SEARCH_TUNING;
  /** A sample of the live codes that tells when an unfiltered graph walk fell short (see {@link WalkGuard}); bench/search turns it off to compare. */
  guardWalks = true;
  private readonly walkGuard: WalkGuard;
  /** Queries of {@link search}, sampled to measure the ef unfiltered walks need (see {@link measureExpansion}). */
  private readonly querySample = new QuerySample();
  /** The last such measurement (kept in the catalog), and the one under way. */
  private measured: ExpansionMeasurement | undefined;
  private measuring: Promise<ExpansionMeasurement | undefined> | undefined;
  /** Whether searches are sampled and measured in the background; bench/search measures once, before its rows. */
  measureInBackground = true;
  /** Called when a measurement of the ef ends, or fails (to log it). */
  onExpansionMeasured: ((measurement: ExpansionMeasurement) => void) | undefined;
  onExpansionMeasureFailed: ((error: unknown) => void) | undefined;
  /** A slot's sign code, for the walk guard's sample. */
  private readonly codeOf = (slot: number) => this.codes.codeOf(slot);

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly model: IndexModel,
    readonly settings: IndexSettings,
    readonly createdAt: string,
    private readonly catalog: Catalog,
    private readonly vectors: VectorFile,
    /** The items' base embeddings, kept when the model is a head version. */
    private readonly baseVectors: VectorFile | undefined,
    /** Their sign and magnitude codes (`base.b1`, `base.m1`), for {@link searchBase}'s shortlist. */
    private readonly baseCodes: CodeStore | undefined,
    private readonly codes: CodeStore,
    private readonly graph: BinaryHnsw,
    /** How the graph was obtained when the index was opened. */
    readonly recovery: 'created' | 'loaded' | 'replayed' | 'rebuilt',
    /** Posting lists of the live items' categories and attributes (the codes know which slots are live). */
    private readonly filters: FilterIndex,
    liveCount: number,
  ) {
    this.liveCount = liveCount;
    const measured = catalog.getMeta(MEASURED_EXPANSION_META);
    this.measured = measured ? (JSON.parse(measured) as ExpansionMeasurement) : undefined;
    this.walkGuard = new WalkGuard(model.dimension);
    for (let slot = 0; slot < codes.slots; slot++) if (codes.isLive(slot)) this.walkGuard.offer(slot, this.codeOf);
    const held = new Uint8Array(this.slotEnd);
    for (const slot of catalog.heldSlots()) held[slot] = 1;
    this.freeSlots = [];
    for (let slot = held.length - 1; slot >= 0; slot--) if (held[slot] === 0) this.freeSlots.push(slot);
  }

  /** One past the highest slot any file or row has. */
  private get slotEnd(): number {
    return Math.max(this.catalog.nextSlot, this.vectors.slots, this.baseVectors?.slots ?? 0, this.baseCodes?.slots ?? 0, this.codes.slots);
  }

  static create(dir: string, name: string, model: IndexModel, settings: IndexSettings): VectorIndex {
    mkdirSync(dir, { recursive: true });
    const catalog = new Catalog(join(dir, 'catalog.sqlite'));
    const createdAt = new Date().toISOString();
    catalog.setMeta('index', JSON.stringify({ name, model, settings, createdAt }));
    catalog.sync();
    return VectorIndex.assemble(dir, catalog, 'created');
  }

  static open(dir: string): VectorIndex {
    const catalog = new Catalog(join(dir, 'catalog.sqlite'));
    return VectorIndex.assemble(dir, catalog, 'loaded');
  }

  private static assemble(dir: string, catalog: Catalog, mode: 'created' | 'loaded'): VectorIndex {
    const raw = catalog.getMeta('index');
    if (!raw) {
      catalog.close();
      throw new Error(`${dir} holds no index description`);
    }
    const meta = JSON.parse(raw) as { name: string; model: IndexModel; settings: IndexSettings; createdAt: string };
    const settings = { ...DEFAULT_INDEX_SETTINGS, ...meta.settings };
    const vectors = new VectorFile(join(dir, `vectors.${settings.storage}`), meta.model.dimension, settings.storage);
    const baseVectors = meta.model.base ? new VectorFile(join(dir, `base.${settings.storage}`), meta.model.dimension, settings.storage) : undefined;
    const codes = new CodeStore(join(dir, 'codes.b1'), meta.model.dimension);
    const baseCodes = baseVectors ? new CodeStore(join(dir, 'base.b1'), meta.model.dimension) : undefined;
    const graph = new BinaryHnsw(meta.model.dimension, settings);
    const filters = new FilterIndex();
    const live: number[] = [];
    for (const { slot, category, attributes, image } of catalog.liveFields()) {
      live.push(slot);
      filters.add(slot, category, attributes, image);
    }
    // An index on a head version made before base codes were kept gets them here, once.
    if (baseVectors && baseCodes) VectorIndex.completeCodes(baseCodes, baseVectors, live);
    const recovery = mode === 'created' ? 'created' : VectorIndex.restoreGraph(dir, catalog, vectors, codes, graph, live);
    // The native graph reads the store's sign codes rather than holding a second copy.
    graph.shareCodes(codes);
    for (const slot of live) codes.setLive(slot, true);
    return new VectorIndex(meta.name, dir, meta.model, settings, meta.createdAt, catalog, vectors, baseVectors, baseCodes, codes, graph, recovery, filters, live.length);
  }

  /** Loads the saved graph and replays later changes; rebuilds from the catalog when that fails. */
  private static restoreGraph(dir: string, catalog: Catalog, vectors: VectorFile, codes: CodeStore, graph: BinaryHnsw, live: readonly number[]) {
    VectorIndex.completeCodes(codes, vectors, live);
    const scratch = new Float32Array(vectors.dimension);
    try {
      const state = readGraphState(dir);
      graph.load(join(dir, GRAPH_FILE));
      if (graph.size !== state.size) throw new Error(`graph holds ${graph.size} vectors, its state says ${state.size}`);
      const changes = catalog.changesSince(state.seq);
      // Idempotent: the graph file may be newer than its state file if a crash fell between the two renames.
      for (const change of changes) {
        // A released tombstone (negative slot) was removed before the graph was saved.
        if (change.slot < 0) continue;
        if (change.deleted) graph.remove(change.slot);
        else if (!graph.has(change.slot)) graph.add([change.slot], vectors.read(change.slot, scratch));
      }
      if (graph.size !== live.length) throw new Error(`graph holds ${graph.size} vectors after replay, the catalog ${live.length}`);
      return changes.length > 0 ? ('replayed' as const) : ('loaded' as const);
    } catch {
      graph.clear();
      const batch = 1024;
      for (let i = 0; i < live.length; i += batch) {
        const slots = live.slice(i, i + batch);
        const matrix = new Float32Array(slots.length * vectors.dimension);
        slots.forEach((slot, j) => vectors.read(slot, matrix.subarray(j * vectors.dimension, (j + 1) * vectors.dimension)));
        graph.add(slots, matrix);
      }
      return 'rebuilt' as const;
    }
  }

  /** Codes are derived data: makes sure every live slot has both (a crash may have cut a file short; an index made before magnitude or base codes has none). */
  private static completeCodes(codes: CodeStore, vectors: VectorFile, live: readonly number[]): void {
    const scratch = new Float32Array(vectors.dimension);
    let written = 0;
    for (const slot of live) {
      if (slot >= codes.slots) codes.write(slot, vectors.read(slot, scratch));
      else if (slot >= codes.magnitudeSlots) codes.writeMagnitude(slot, vectors.read(slot, scratch));
      else continue;
      written++;
    }
    // Durable before the index serves: a file cut short is made good on the next open, one holding unwritten zeros would not be.
    if (written > 0) codes.sync();
  }

  get count(): number {
    return this.liveCount;
  }

  get(id: string): CatalogItem | undefined {
    return this.catalog.get(id);
  }

  get hasCategories(): boolean {
    return this.catalog.hasCategories;
  }

  list(limit: number, after?: string): CatalogItem[] {
    return this.catalog.list(limit, after);
  }

  /** The catalog's highest change sequence number: every write after it has a higher one. */
  get seq(): number {
    return this.catalog.seq;
  }

  /** Ids of the items written or deleted after `seq`. */
  changedIdsSince(seq: number): string[] {
    return this.catalog.changedIdsSince(seq);
  }

  /** A page of live items in slot order, after `afterSlot` (-1 first). */
  liveItems(afterSlot: number, limit: number): CatalogItem[] {
    return this.catalog.liveBySlot(afterSlot, limit);
  }

  /** From the posting lists in memory: the catalog's GROUP BY read every row (52 ms at 1M items, its attributes' 2.4 s). */
  categoryCounts(): { category: string; count: number }[] {
    return this.filters.categoryCounts();
  }

  /** Each scalar attribute value of the live items with its item count. */
  attributeCounts(): { name: string; value: string | number | boolean; count: number }[] {
    return this.filters.attributeCounts();
  }

  /**
   * The kept images (hashes) of up to `limit` items of a category, spread over it: the catalog's
   * sample, chosen from the posting lists in memory (its SQL sorted the whole category, 150–250 ms
   * for a quarter of 1M items, each time a write made the label mapping stale).
   */
  categoryImages(category: string, limit: number): { blob: string }[] {
    const slots = this.filters.categoryImageSlots(category, limit);
    if (!slots) return this.catalog.categoryImages(category, limit).map(({ blob }) => ({ blob }));
    const items = this.catalog.bySlots(slots);
    return slots.flatMap((slot) => {
      const blob = items.get(slot)?.sourceBlob;
      return blob === undefined || blob === null ? [] : [{ blob }];
    });
  }

  /** The item's base embedding: its vector, or the kept base one when the model is a head version. */
  baseVectorOf(item: CatalogItem): Float32Array {
    return (this.baseVectors ?? this.vectors).read(item.slot);
  }

  /** The stored float vector of an item. */
  vectorOf(item: CatalogItem): Float32Array {
    return this.vectors.read(item.slot);
  }

  /**
   * Inserts or replaces items with their (L2-normalized) vectors. Vectors and codes reach the
   * disk before the catalog commits, so every committed row has its vector; the old version of a
   * replaced item leaves the results at once.
   */
  upsert(entries: readonly UpsertEntry[]): void {
    const slots = this.writeVectors(entries);
    if (!slots) return;
    this.vectors.sync();
    this.baseVectors?.sync();
    this.baseCodes?.sync();
    this.codes.sync();
    this.commitOrRelease(entries, slots);
    this.catalog.sync();
  }

  /**
   * {@link upsert} with its fsyncs on libuv's thread pool: the same order (vectors and codes durable
   * before the catalog commits, the catalog durable before this resolves), without blocking the
   * event loop while the disk works. Concurrent calls take distinct slots.
   */
  async upsertAsync(entries: readonly UpsertEntry[]): Promise<void> {
    const slots = this.writeVectors(entries);
    if (!slots) return;
    await Promise.all([this.vectors.syncAsync(), this.baseVectors?.syncAsync(), this.baseCodes?.syncAsync(), this.codes.syncAsync()]);
    this.commitOrRelease(entries, slots);
    await this.catalog.syncAsync();
  }

  /** {@link commit}, or, when the catalog refuses the rows (its transaction rolled back), the slots back to the free list for the next writes. */
  private commitOrRelease(entries: readonly UpsertEntry[], slots: number[]): void {
    try {
      this.commit(entries, slots);
    } catch (error) {
      // Highest first, as the list keeps them (pop gives the lowest).
      this.freeSlots.push(...slots);
      this.freeSlots.sort((a, b) => b - a);
      throw error;
    }
  }

  /** Checks the entries and writes their vectors and codes (unsynced) to fresh slots. */
  private writeVectors(entries: readonly UpsertEntry[]): number[] | undefined {
    if (entries.length === 0) return undefined;
    for (const { vector, base } of entries) {
      if (vector.length !== this.model.dimension) throw new Error(`vector has ${vector.length} dimensions, the index ${this.model.dimension}`);
      if (this.baseVectors && base?.length !== this.model.dimension) throw new Error(`index ${this.name} keeps base embeddings: every item needs one`);
    }
    let next = this.slotEnd;
    const slots = entries.map(() => this.freeSlots.pop() ?? next++);
    entries.forEach(({ vector, base }, i) => {
      this.vectors.write(slots[i]!, vector);
      if (this.baseVectors) this.baseVectors.write(slots[i]!, base!);
      this.baseCodes?.write(slots[i]!, base!);
      this.codes.write(slots[i]!, vector);
    });
    return slots;
  }

  /** Commits the rows pointing at the (durable) slots, then serves them: live flags, filter lists, graph. */
  private commit(entries: readonly UpsertEntry[], slots: readonly number[]): void {
    const { replacedSlots } = this.catalog.upsert(
      entries.map(({ fields }, i) => ({ fields, slot: slots[i]! })),
      this.model,
    );
    this.liveCount += entries.length - replacedSlots.length;
    this.changed();
    // New slots first, removals after: a batch naming one id twice retires a slot it has just written.
    entries.forEach(({ fields }, i) => {
      this.codes.setLive(slots[i]!, true);
      this.walkGuard.offer(slots[i]!, this.codeOf);
      // As the catalog keeps them: attributes after a JSON round trip.
      this.filters.add(slots[i]!, fields.category, fields.attributes && (JSON.parse(JSON.stringify(fields.attributes)) as Record<string, unknown>), fields.sourceBlob !== undefined && fields.sourceBlob !== null);
    });
    this.addToCopies(slots);
    const matrix = new Float32Array(entries.length * this.model.dimension);
    entries.forEach(({ vector }, i) => matrix.set(vector, i * this.model.dimension));
    this.graph.add(slots, matrix);
    this.retire(replacedSlots);
    this.markDirty();
  }

  /** Removes items; returns the ids that existed. */
  delete(ids: readonly string[]): string[] {
    const removed = this.removeRows(ids);
    this.catalog.sync();
    return removed;
  }

  /** {@link delete} with the catalog's fsync off the event loop. */
  async deleteAsync(ids: readonly string[]): Promise<string[]> {
    const removed = this.removeRows(ids);
    await this.catalog.syncAsync();
    return removed;
  }

  private removeRows(ids: readonly string[]): string[] {
    const removed = this.catalog.delete(ids);
    this.liveCount -= removed.size;
    this.retire(removed.values());
    if (removed.size > 0) this.markDirty();
    return [...removed.keys()];
  }

  search(query: Float32Array, options: SearchOptions): SearchOutcome {
    if (!options.exact) this.sampleQuery(query);
    const exclude = new Set(options.excludeIds ?? []);
    const { candidates, strategy } = this.candidatesFor(query, options, exclude.size);
    return { hits: this.rank(query, candidates, options, exclude), strategy, candidates: candidates.length };
  }

  /**
   * The index's part of {@link search} without the catalog's: the slots of the top `limit` candidates
   * by their rescored (or estimated) dot products, best first. What issue 15's throughput goal
   * measures ("index search plus rescoring"): bench/search times it beside the whole search.
   */
  searchSlots(query: Float32Array, options: Omit<SearchOptions, 'excludeIds'>): { slots: Uint32Array; scores: Float64Array } {
    return this.topSlots(query, this.candidatesFor(query, options, 0).candidates, options);
  }

  /** The slots of the top `limit` of `candidates` by their rescored (or estimated) dot products, best first. */
  private topSlots(query: Float32Array, candidates: readonly CodeCandidate[], options: Pick<SearchOptions, 'limit' | 'rescore'>): { slots: Uint32Array; scores: Float64Array } {
    const { order, scores } = this.score(query, candidates, options);
    const top = order.slice(0, options.limit);
    return { slots: Uint32Array.from(top, (i) => candidates[i]!.slot), scores: Float64Array.from(top, (i) => scores[i]!) };
  }

  /** The candidates a search ranks (from the graph, a scan or both) and the path that found them; `excluded` ids are asked for on top of the limit. */
  private candidatesFor(query: Float32Array, options: Omit<SearchOptions, 'excludeIds'>, excluded: number): { candidates: CodeCandidate[]; strategy: SearchOutcome['strategy'] } {
    const wanted = options.limit + excluded;
    const k = Math.max(wanted, Math.ceil(wanted * options.oversampling));
    const count = this.count;
    let candidates: CodeCandidate[];
    let strategy: SearchOutcome['strategy'];
    // Candidates already in the two-bit estimate's order (from a walk by it): the pool is their first ones.
    let ranked = false;
    if (options.filter) {
      const plan = this.filters.plan(options.filter);
      const allowed = plan ? undefined : this.catalog.filteredSlots(options.filter);
      const size = Math.max(plan ? plan.estimate : allowed!.length, 1);
      const { graphOverfetch, graphOverfetchEndShare, graphStepInCodes, copiedStepInCodes, copiedShortlistFactor, poolFactor, poolGrowth, maxPoolFactor, sparsePoolFactor, sparseShare, shortlistFactor, denseShortlistFactor, narrowGain, farShortlistFactor, farPoolFactor } = this.tuning;
      // The filter's copy, asked for once (each ask counts towards making one) and only by a search that scans or might.
      let asked = false;
      let copied: PostingCopy | undefined;
      let own: FilterGraph | undefined;
      const copy = () => {
        if (!asked && plan) copied = this.postingCopy(options.filter!, plan);
        asked = true;
        return copied;
      };
      const scan = (top = shortlist) => {
        const from = copy();
        if (from) return from.scan(query, top);
        return plan ? this.codes.scanWritten(query, plan.writeSlots, top) : this.codes.scanSlots(query, allowed!, top);
      };
      // Candidates the Hamming stage (graph or scan) should yield, narrowed by the estimated dot products to the pool rescored with float vectors.
      const sparse = size < sparseShare * count;
      const wanted = Math.ceil(k * (sparse ? sparsePoolFactor : Math.min(maxPoolFactor, Math.max(poolFactor, (size / poolGrowth) * (1 - size / count)))));
      let pool = Math.max(Math.ceil(k * poolFactor), Math.ceil(wanted / narrowGain));
      const shortlist = Math.ceil(wanted * (sparse ? shortlistFactor : denseShortlistFactor));
      // Graph candidates to fetch so that `wanted` of them are expected to pass the filter.
      const fetch = Math.ceil(((wanted * count) / size) * overfetchAt(graphOverfetch, graphOverfetchEndShare, size / count));
      const walk = Math.max(fetch, this.expansionFor(k));
      const scans = this.settings.exactThreshold > 0;
      const scanCheaper = scans && (size <= graphStepInCodes * walk || fetch > count / 2);
      if (options.exact || size <= this.settings.exactThreshold || scanCheaper) {
        candidates = scan();
        strategy = 'filtered-exact';
      } else if (scans && size <= copiedStepInCodes * walk && plan && (own = this.filterGraph(options.filter!, plan))) {
        // The filter's own graph, walked by the two-bit estimate for the pool and a margin, in the estimate's order (ranked). By
        // Hamming distance a quarter of 1M items' float top 10 lay deep in the walk's list (bench/search's kept index, ef 128:
        // 0.80 of them among its 128 candidates, 0.98 among 512 in 2.3 times the walk); by the estimate all of them among 107.
        const estimate = this.tuning.estimateWalks !== 'none' ? this.codes.estimateQuery(query) : undefined;
        const ask = Math.max(k, estimate ? Math.ceil(pool * this.tuning.estimateWalkFactor) : Math.ceil(wanted * copiedShortlistFactor));
        // From the first look's sampled items nearest to the query that the filter holds (the unfiltered walks' start), where
        // there are any, a beam of nodes a step; else from the top.
        const look = this.tuning.seedFilterGraphs && this.guardWalks ? this.walkGuard.start(query, this.liveCount, this.tuning.nearSample) : undefined;
        const seeds = look ? look.slots.filter(plan.matches) : [];
        const found = (seeds.length > 0 && own.searchFrom(query, ask, seeds, estimate, this.tuning.walkBeam)) || own.search(query, ask, estimate);
        candidates = found.slots.map((slot, i) => ({ slot, hamming: found.distances[i]! }));
        ranked = found.estimates !== undefined;
        strategy = 'filtered-graph';
        // Fewer than asked while the filter holds more (items no link leads to), or its nearest code farther than a random
        // sample's nearest (the filter's items lie away from the query, where both rankings are coarse): scanned with the far
        // shortlist and pool, as from the copy below.
        const nearest = candidates.reduce((least, candidate) => Math.min(least, candidate.hamming), Infinity);
        // (The first look, where the seeds came from, already read: its nearest distance.)
        if (candidates.length < Math.min(ask, own.size) || (this.guardWalks && this.walkGuard.fellShort(query, nearest, this.liveCount, look?.nearest))) {
          candidates = scan(Math.max(Math.ceil(wanted * copiedShortlistFactor), Math.ceil(k * farShortlistFactor)));
          pool = Math.max(pool, Math.ceil(k * farPoolFactor));
          ranked = false;
          strategy = 'filtered-exact';
        }
      } else if (scans && size <= copiedStepInCodes * walk && copy()) {
        const top = Math.ceil(wanted * copiedShortlistFactor);
        candidates = scan(top);
        // Its nearest code farther than a random sample's nearest: the filter's items lie away from the query (as after a walk below).
        if (this.guardWalks && candidates.length > 0 && this.walkGuard.fellShort(query, candidates[0]!.hamming, this.liveCount)) {
          const far = Math.ceil(k * farShortlistFactor);
          if (far > top) candidates = scan(far);
          pool = Math.max(pool, Math.ceil(k * farPoolFactor));
        }
        strategy = 'filtered-exact';
      } else {
        const matches = plan ? plan.matches : ((set) => (slot: number) => set.has(slot))(new Set(allowed));
        const need = Math.max(k, Math.ceil(wanted / 2));
        const near = this.nearShare(query, matches, scans, size / count >= this.tuning.firstLookShare);
        // A filter the sample near the query all but misses is scanned at once, whatever the walk's ranking: a walk until its
        // list fills with such a filter's items would expand every node nearer than they are.
        const far = near !== undefined && near.high < (size / count) * this.tuning.graphPassShortfall;
        // The native graph's filtered walk, by the two-bit estimate where the tuning asks for it (and every slot has a magnitude code).
        const walks = this.tuning.filteredWalk && plan !== undefined && this.graph.engine === 'native';
        const estimate = walks && !far && this.tuning.estimateWalks !== 'none' ? this.codes.estimateQuery(query) : undefined;
        // A filter that holds more of the query's neighbourhood than of the items passes more of the walk's candidates: fewer to fetch.
        const nearFetch = near !== undefined && near.low > size / count ? Math.max(need, this.expansionFor(k), Math.ceil((fetch * size) / count / near.low)) : fetch;
        // Every passing candidate the graph gave goes to the narrowing, not only the first `wanted`.
        // Enough when half of them passed (the fetch expects all): searching again at twice the ef costs more than the last half adds.
        const walked = far
          ? undefined
          : walks
            ? this.filteredWalk(query, plan, k, wanted, size, pool, estimate, this.tuning.walkSeeds ? near : undefined)
            : this.graphSearchWithin(query, matches, need, Math.min(fetch, nearFetch), size);
        if (walked) {
          candidates = Array.isArray(walked) ? walked : walked.candidates;
          ranked = !Array.isArray(walked) && walked.ranked;
          strategy = 'filtered-hnsw';
        } else {
          // The filter's items lie away from the query, where Hamming distance ranks them poorly: a longer shortlist and a larger pool.
          candidates = scan(Math.max(shortlist, Math.ceil(k * farShortlistFactor)));
          pool = Math.max(pool, Math.ceil(k * farPoolFactor));
          strategy = far ? 'filtered-exact-far' : 'filtered-exact-after-hnsw';
        }
      }
      if (candidates.length > pool) candidates = ranked ? candidates.slice(0, pool) : this.narrow(query, candidates, pool);
    } else if (options.exact || count <= this.settings.exactThreshold) {
      candidates = this.codes.scanAll(query, k);
      strategy = 'exact';
    } else if (!options.expansion && this.measuredExpansion?.scan) {
      // The measurement found a scan of every code for the ef's candidates no slower than the walk, and as good.
      candidates = this.scanNarrowed(query, this.expansionFor(k), k);
      strategy = 'exact';
    } else {
      // The graph's whole candidate list (its ef), narrowed to k by the estimated dot products: the same graph walk, a better k.
      const expansion = this.expansionFor(k, options.expansion);
      const estimate = this.tuning.estimateWalks === 'all' && this.graph.engine === 'native' ? this.codes.estimateQuery(query) : undefined;
      // From the walk guard's sampled codes nearest to the query where it can, else from the top.
      const start = this.walkStart(query);
      const seeded = start && this.graph.searchFrom(query, expansion, start.slots, this.tuning.walkBeam);
      ({ candidates, strategy } = start && seeded ? this.checkWalk(query, seeded, expansion, start.nearest) : this.checkWalk(query, this.graph.search(query, expansion, estimate), expansion));
      // A walk by the estimate that held (not walked again by Hamming distance) hands its candidates over in the estimate's order.
      if (candidates.length > k) candidates = estimate && strategy === 'hnsw' ? candidates.slice(0, k) : this.narrow(query, candidates, k);
    }

    return { candidates, strategy };
  }

  /**
   * Bounds on the share of the query's neighbourhood that `matches` passes, from the walk guard's
   * sampled codes nearest to it (see `nearSample`; over its first look with `firstLook`, see
   * `firstLookShare`); undefined when not looked at (no scans, the guard off, or too small a sample).
   */
  private nearShare(query: Float32Array, matches: (slot: number) => boolean, scans: boolean, firstLook = false): { low: number; high: number; slots: number[] } | undefined {
    const wanted = this.tuning.nearSample;
    if (!scans || !this.guardWalks || wanted <= 0) return undefined;
    const { passing, of, slots } = this.walkGuard.nearPassing(query, this.liveCount, wanted, matches, firstLook);
    return of < wanted / 2 ? undefined : { ...shareBounds(passing, of), slots };
  }

  /** The `pool` candidates with the highest estimated dot products with the query (ties by Hamming order). */
  private narrow(query: Float32Array, candidates: readonly CodeCandidate[], pool: number, codes = this.codes): CodeCandidate[] {
    const n = candidates.length;
    const slots = slotsOf(candidates);
    const scores = new Float64Array(n);
    if (this.tuning.narrowBy === 'sign') codes.signedDots(query, slots, scores);
    else codes.estimateDots(query, slots, scores);
    // The pool-th highest score by a native sort, then one pass: fewer than `pool` lie above it, ties fill up in Hamming order.
    const cut = scores.slice().sort()[n - pool]!;
    const out: CodeCandidate[] = [];
    for (let i = 0; i < n; i++) if (scores[i]! > cut) out.push(candidates[i]!);
    for (let i = 0; i < n && out.length < pool; i++) if (scores[i] === cut) out.push(candidates[i]!);
    return out;
  }

  /**
   * The top items by the dot product of their base embeddings with `query` (not necessarily unit
   * length). An index on a base version searches as usual (codes, then float rescoring). An index on
   * an alignment head, whose codes and graph hold projected vectors, ranks the filter's items by
   * their base codes: the Hamming top `farShortlistFactor` × the items wanted, narrowed by the
   * two-bit estimate to `farPoolFactor` × wanted, rescored with the base embeddings (a filter of at
   * most that pool is rescored whole). Its queries are Complete the Look's, for categories other than
   * the scene's: far from the query, where both code rankings are coarse, hence the far filters' factors.
   */
  searchBase(query: Float32Array, options: Pick<SearchOptions, 'limit' | 'filter' | 'excludeIds'>): SearchHit[] {
    const base = this.baseVectors;
    const codes = this.baseCodes;
    if (!base || !codes) return this.search(query, { ...options, oversampling: 4, rescore: true }).hits;
    const exclude = new Set(options.excludeIds ?? []);
    const wanted = options.limit + exclude.size;
    const slots = options.filter ? (this.filters.plan(options.filter)?.slots() ?? Uint32Array.from(this.catalog.filteredSlots(options.filter))) : Uint32Array.from(this.codes.liveSlots());
    const pool = Math.ceil(wanted * this.tuning.farPoolFactor);
    const shortlist = Math.ceil(wanted * this.tuning.farShortlistFactor);
    // A filter within the shortlist is narrowed whole (its Hamming distances unread: 0), within the pool rescored whole.
    let candidates = slots.length <= shortlist ? Array.from(slots, (slot) => ({ slot, hamming: 0 })) : codes.scanSlots(query, slots, shortlist);
    if (candidates.length > pool) candidates = this.narrow(query, candidates, pool, codes);
    return this.rank(query, candidates, { limit: options.limit, rescore: true }, exclude, base);
  }

  /**
   * Unfiltered graph searches for many queries: one batched USearch call over `threads`
   * threads for the candidates, then rescoring per query.
   */
  searchMany(queries: readonly Float32Array[], options: Omit<SearchOptions, 'filter' | 'exact' | 'excludeIds'>, threads = 0): SearchHit[][] {
    const k = Math.max(options.limit, Math.ceil(options.limit * options.oversampling));
    const matrix = new Float32Array(queries.length * this.model.dimension);
    queries.forEach((query, i) => matrix.set(query, i * this.model.dimension));
    const expansion = this.expansionFor(k, options.expansion);
    // Each from the walk guard's sampled codes nearest to it where it can, as search's walks start.
    const starts = queries.map((query) => this.walkStart(query));
    const seeds = starts.some((start) => start !== undefined) ? starts.map((start) => start?.slots ?? []) : undefined;
    const found = this.graph.searchMany(matrix, queries.length, expansion, threads, seeds);
    return found.map((walk, i) => {
      const { candidates } = this.checkWalk(queries[i]!, walk, expansion, starts[i]?.nearest);
      return this.rank(queries[i]!, candidates.length > k ? this.narrow(queries[i]!, candidates, k) : candidates, options, new Set());
    });
  }

  /**
   * Where an unfiltered walk starts when not from the top: the walk guard's {@link SEEDS} sampled
   * codes nearest to `query` and the nearest one's distance (see FilteredSearchTuning.walkFromSample);
   * undefined for a walk from the top (the guard off, the tuning's choice, a walk by the estimate,
   * USearch's binding, or an empty sample).
   */
  private walkStart(query: Float32Array): { slots: number[]; nearest: number } | undefined {
    if (!this.guardWalks || !this.tuning.walkFromSample || this.tuning.estimateWalks === 'all' || this.graph.engine !== 'native') return undefined;
    const start = this.walkGuard.start(query, this.liveCount, SEEDS);
    return start.slots.length > 0 ? start : undefined;
  }

  /**
   * A graph walk's candidates, or, when the sample of codes holds one nearer to the query than the
   * walk's nearest (the walk stopped short of the query's neighbourhood), those of a second walk at
   * the same ef from the other start: for a walk from the top, one of the base level from the
   * {@link SEEDS} sampled codes nearest to the query (the native graph); for one from those codes
   * (`seededAt`: the nearest one's distance, the guard's first look), one from the top. When the
   * sample says that one fell short too, the nearest as many of a walk at {@link REWALK_FACTOR}
   * times the ef, or, when that one fell short as well, as many from a scan of every code.
   */
  private checkWalk(
    query: Float32Array,
    walk: { slots: number[]; distances: Float32Array; estimates?: Float32Array },
    expansion: number,
    seededAt?: number,
  ): { candidates: CodeCandidate[]; strategy: 'hnsw' | 'hnsw-seeded' | 'hnsw-from-top' | 'hnsw-widened' | 'exact-after-hnsw' } {
    // Short: fewer candidates than asked for while the index holds more (items the walk could not reach from its entry point,
    // as a black-box sweep once saw in a 40-item index of near-identical texts), or a nearest farther than the guard's sample's.
    // The nearest by Hamming distance: the first, unless the walk went by the estimate.
    const nearest = (found: { distances: Float32Array; estimates?: Float32Array }) => (found.estimates ? Math.min(...found.distances) : found.distances[0]!);
    const fellShort = (found: { slots: number[]; distances: Float32Array; estimates?: Float32Array }, asked: number, firstLook?: number) =>
      found.slots.length < Math.min(asked, this.liveCount) || (found.slots.length > 0 && this.walkGuard.fellShort(query, nearest(found), this.liveCount, firstLook));
    // The first n of a walk's candidates (all of them unless it is wider than the search's ef).
    const candidatesOf = (found: { slots: number[]; distances: Float32Array }, n = found.slots.length) =>
      (n < found.slots.length ? found.slots.slice(0, n) : found.slots).map((slot, i) => ({ slot, hamming: found.distances[i]! }));
    if (!this.guardWalks || !fellShort(walk, expansion, seededAt)) return { candidates: candidatesOf(walk), strategy: 'hnsw' };
    if (seededAt !== undefined) {
      // The walk from the sample's nearest codes fell short: one from the top at the same ef.
      const fromTop = this.graph.search(query, expansion);
      if (!fellShort(fromTop, expansion)) return { candidates: candidatesOf(fromTop), strategy: 'hnsw-from-top' };
    } else {
      const seeded = this.graph.searchFrom(query, expansion, this.walkGuard.nearestSlots(query, this.liveCount, SEEDS), this.tuning.walkBeam);
      if (seeded && !fellShort(seeded, expansion)) return { candidates: candidatesOf(seeded), strategy: 'hnsw-seeded' };
    }
    const wider = Math.min(expansion * REWALK_FACTOR, this.graph.size);
    if (wider > expansion) {
      const again = this.graph.search(query, wider);
      if (!fellShort(again, wider)) return { candidates: candidatesOf(again, expansion), strategy: 'hnsw-widened' };
    }
    return { candidates: this.codes.scanAll(query, expansion), strategy: 'exact-after-hnsw' };
  }

  /**
   * The ef of an unfiltered graph search for k candidates: the one asked for, the index's setting, the
   * one measured on its queries (see {@link measureExpansionNow}), or grown with the index (see
   * {@link graphExpansion}); at least k.
   */
  expansionFor(k: number, requested?: number): number {
    return Math.max(k, requested || this.settings.expansionSearch || this.measuredExpansion?.expansion || graphExpansion(this.graph.size));
  }

  /** The measurement {@link expansionFor} takes: the last one, made for the tuning's target. */
  private get measuredExpansion(): ExpansionMeasurement | undefined {
    return this.tuning.targetRecall > 0 && this.measured?.target === this.tuning.targetRecall ? this.measured : undefined;
  }

  /** Where the ef of an unfiltered search (limit 10, oversampling 4) comes from now, and the last measurement. */
  expansionReport(): { expansion: number; scan: boolean; source: 'setting' | 'measured' | 'size'; targetRecall: number; measured: ExpansionMeasurement | null } {
    const source = this.settings.expansionSearch ? 'setting' : this.measuredExpansion ? 'measured' : 'size';
    const scan = this.liveCount <= this.settings.exactThreshold || (source === 'measured' && this.measured!.scan);
    return { expansion: this.expansionFor(MEASURED_K), scan, source, targetRecall: this.tuning.targetRecall, measured: this.measured ?? null };
  }

  /** Whether the ef is the index's to measure: a target, no ef in the settings, and enough items that unfiltered searches walk the graph. */
  private get measuresExpansion(): boolean {
    return !this.closed && this.tuning.targetRecall > 0 && !this.settings.expansionSearch && this.liveCount > this.settings.exactThreshold;
  }

  /** Samples a search's query, and starts a measurement in the background when one is due (see {@link QuerySample.due}). */
  private sampleQuery(query: Float32Array): void {
    if (!this.measureInBackground || !this.measuresExpansion) return;
    this.querySample.offer(query);
    if (this.measuring || !this.querySample.due(this.liveCount, this.measuredExpansion)) return;
    void this.measureExpansionInBackground(this.querySample.take());
  }

  /**
   * Measures the ef on `queries` in the background, as a due measurement does: its promise, the one
   * under way's if there is one (see {@link expansionMeasured}). bench/search times searches during it.
   */
  measureExpansionInBackground(queries: readonly Float32Array[]): Promise<ExpansionMeasurement | undefined> {
    if (this.measuring) return this.measuring;
    const steps = measureExpansion(queries, this.expansionProbe, this.tuning.targetRecall, this.liveCount);
    this.measuring = new Promise((resolve) => {
      // A slice of steps (one exact answer or one search each) at a time, searches served between; a
      // closed index's next slice ends the measurement, so that the promise settles.
      const slice = () => {
        if (!this.measuresExpansion) {
          this.measuring = undefined;
          return resolve(undefined);
        }
        const until = performance.now() + MEASURE_SLICE_MS;
        let step: IteratorResult<void, ExpansionMeasurement>;
        try {
          step = steps.next();
          while (!step.done && performance.now() < until) step = steps.next();
        } catch (error) {
          // On a timer nothing above would catch it: the measurement ends, the ef stays, the next one is due as this one was.
          this.measuring = undefined;
          this.onExpansionMeasureFailed?.(error);
          return resolve(undefined);
        }
        if (!step.done) return void setTimeout(slice, MEASURE_GAP_MS).unref();
        this.measuring = undefined;
        this.adoptMeasurement(step.value);
        resolve(step.value);
      };
      setTimeout(slice, MEASURE_GAP_MS).unref();
    });
    return this.measuring;
  }

  /** The measurement under way, when it ends (undefined: none under way, or the index closed or stopped measuring first). */
  expansionMeasured(): Promise<ExpansionMeasurement | undefined> {
    return this.measuring ?? Promise.resolve(undefined);
  }

  /**
   * Measures the ef unfiltered searches need on `queries` at once (bench/search, with queries of its
   * own), and takes it unless the settings set one.
   */
  measureExpansionNow(queries: readonly Float32Array[]): ExpansionMeasurement {
    const measurement = runSteps(measureExpansion(queries, this.expansionProbe, this.tuning.targetRecall || DEFAULT_FILTERED_SEARCH_TUNING.targetRecall, this.liveCount));
    this.adoptMeasurement(measurement);
    return measurement;
  }

  /** Drops the last measurement: the ef grows with the index until the next (bench/search, to time the default of old). */
  forgetExpansion(): void {
    this.measured = undefined;
    this.catalog.deleteMeta(MEASURED_EXPANSION_META);
  }

  private adoptMeasurement(measurement: ExpansionMeasurement): void {
    if (this.closed) return;
    this.measured = measurement;
    this.catalog.setMeta(MEASURED_EXPANSION_META, JSON.stringify(measurement));
    this.onExpansionMeasured?.(measurement);
  }

  /**
   * The measurement's answer over every code (see {@link TRUTH_CANDIDATES}), a step per
   * {@link MEASURE_SCAN_PART} codes scanned: at 1M one scan of every code held the event loop ~12 ms.
   */
  private *truthSteps(query: Float32Array): Generator<void, Uint32Array> {
    let nearest: CodeCandidate[] = [];
    for (let from = 0; from < this.codes.slots; from += MEASURE_SCAN_PART) {
      // The part's nearest with those so far, in scanAll's order (distance, then slot): the same codes as one scan.
      nearest = [...nearest, ...this.codes.scanRange(query, TRUTH_CANDIDATES, from, from + MEASURE_SCAN_PART)]
        .sort((a, b) => a.hamming - b.hamming || a.slot - b.slot)
        .slice(0, TRUTH_CANDIDATES);
      yield;
    }
    return this.topSlots(query, this.narrow(query, nearest, MEASURED_SEARCH.limit * TRUTH_OVERSAMPLING), MEASURED_SEARCH).slots;
  }

  /** The k candidates of a scan of every code as a walk at `expansion` gives them: its nearest `expansion` codes, narrowed by the estimate. */
  private scanNarrowed(query: Float32Array, expansion: number, k: number): CodeCandidate[] {
    return this.narrow(query, this.codes.scanAll(query, Math.max(k, expansion)), k);
  }

  /**
   * What a measurement compares, each the top 10 rescored: the search's own stages over every code
   * (see {@link TRUTH_CANDIDATES}), an unfiltered search at an ef, and one whose candidates come from a scan.
   */
  private readonly expansionProbe: ExpansionProbe = {
    truth: (query) => this.truthSteps(query),
    answer: (query, expansion) => this.searchSlots(query, { ...MEASURED_SEARCH, expansion }).slots,
    scan: (query, expansion) => this.topSlots(query, this.scanNarrowed(query, expansion, MEASURED_K), MEASURED_SEARCH).slots,
  };

  /** The candidates' dot products with `query` (rescored with the float vectors of `vectors`, or estimated from their Hamming distances) and their order, best first (ties by slot). */
  private score(query: Float32Array, candidates: readonly CodeCandidate[], options: Pick<SearchOptions, 'rescore'>, vectors = this.vectors): { order: number[]; scores: Float64Array } {
    const n = candidates.length;
    const scores = new Float64Array(n);
    if (options.rescore) {
      vectors.dotMany(slotsOf(candidates), query, scores);
    } else for (let i = 0; i < n; i++) scores[i] = 1 - (2 * candidates[i]!.hamming) / this.model.dimension;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || candidates[a]!.slot - candidates[b]!.slot);
    return { order, scores };
  }

  /** The top `limit` candidates by their dot products with `query`: rescored with the float vectors of `vectors`, or estimated from their Hamming distances. */
  private rank(query: Float32Array, candidates: readonly CodeCandidate[], options: Pick<SearchOptions, 'limit' | 'rescore'>, exclude: Set<string>, vectors = this.vectors): SearchHit[] {
    // Rescore first (the pool's vectors in one pass over the file), look items up only for the winners.
    const n = candidates.length;
    const { order, scores } = this.score(query, candidates, options, vectors);
    const hits: SearchHit[] = [];
    for (let start = 0; start < n && hits.length < options.limit; start += options.limit) {
      const chunk = order.slice(start, start + options.limit + exclude.size);
      const items = this.catalog.bySlots(chunk.map((i) => candidates[i]!.slot));
      for (const i of chunk) {
        const { slot, hamming } = candidates[i]!;
        const item = items.get(slot);
        if (item && !exclude.has(item.id) && hits.length < options.limit) hits.push({ item, score: scores[i]!, hamming });
      }
    }
    return hits;
  }

  /** Takes retired slots (deleted or replaced items) out of the live flags, the filter's lists and the graph. */
  private retire(slots: Iterable<number>): void {
    this.changed();
    for (const slot of slots) {
      this.codes.setLive(slot, false);
      this.walkGuard.retire(slot);
      this.filters.remove(slot);
      this.graph.remove(slot);
      for (const copy of this.copies.values()) copy.remove(slot);
      for (const { copy } of this.copyBuilds.values()) copy.remove(slot);
      for (const { graph } of this.filterGraphs.values()) graph.remove(slot);
    }
    for (const [key, copy] of this.copies) if (copy.dead > copy.size * COPY_DEAD_SHARE) this.dropCopy(key);
    for (const [key, { copy }] of this.copyBuilds) if (copy.dead > copy.size * COPY_DEAD_SHARE) this.stopCopyBuild(key);
  }

  /**
   * The copy of `filter`'s codes to scan, if it has one or should get one now (see
   * `FilteredSearchTuning.copyMinItems`); undefined to scan through its posting list (or, for a
   * filter only its copy would send to a scan, to walk the graph). Each call counts as a scan.
   */
  private postingCopy(filter: ItemFilter, plan: FilterPlan): PostingCopy | undefined {
    const { copyMinItems, copyQuietMs, copyBytesPerItem, copyIdleMs } = this.tuning;
    if (plan.estimate < copyMinItems) return undefined;
    const key = JSON.stringify(filter);
    const copy = this.copies.get(key);
    // Within the budget as it is now (a lower one, 0 among them, leaves the copies made under a higher one unused).
    if (copy) {
      if (this.postingCopies.bytes > copyBytesPerItem * this.liveCount) return undefined;
      this.copyUsedAt.set(key, performance.now());
      return copy;
    }
    if (this.copyBuilds.has(key)) return undefined;
    // A second scan within COPY_ASK_WINDOW_MS of the first asks for a copy: a filter in use, not one met now and then.
    const now = performance.now();
    if (!askedAgain(this.copyScans, key, now)) return undefined;
    if (copyQuietMs > 0 && now - this.changedAt < copyQuietMs) return undefined;
    const slots = plan.slots();
    const bytes = PostingCopy.memoryFor(this.model.dimension, slots.length, true, COPY_SPARE);
    const building = [...this.copyBuilds.values()].reduce((sum, build) => sum + build.bytes, 0);
    if (slots.length < copyMinItems || !this.makeRoomForCopy(bytes + building, copyBytesPerItem * this.liveCount, now - copyIdleMs)) return undefined;
    this.buildCopy(key, slots, bytes);
    return undefined;
  }

  /**
   * Whether `bytes` more fit beside the copies within `budget`, once the copies last searched
   * before `idleSince` are dropped as needed, the longest idle first (none is dropped unless that
   * makes the room).
   */
  private makeRoomForCopy(bytes: number, budget: number, idleSince: number): boolean {
    const idle = this.copiesByIdle().filter((key) => (this.copyUsedAt.get(key) ?? 0) <= idleSince);
    return makeRoom(bytes, budget - this.postingCopies.bytes, idle.map((key) => ({ key, bytes: this.copies.get(key)!.memoryBytes })), (key) => this.dropCopy(key));
  }

  /** The copied filters' keys, the longest idle first. */
  private copiesByIdle(): string[] {
    const usedAt = (key: string) => this.copyUsedAt.get(key) ?? 0;
    return [...this.copies.keys()].sort((a, b) => usedAt(a) - usedAt(b));
  }

  private dropCopy(key: string): void {
    this.copies.delete(key);
    this.copyUsedAt.delete(key);
  }

  /**
   * Makes a copy of the codes of `slots` (`bytes` of memory), {@link COPY_SLICE} slots at a time with
   * a pause after each, then serves it: the searches between go on as they would without it (a
   * quarter of 1M codes took 80 ms to copy at once, which stalled every request behind the search
   * that asked). Writes meanwhile reach it as they reach the copies made ({@link addToCopies},
   * {@link retire}): until 2026-12-02 a write dropped it, and under steady writes none was made.
   */
  private buildCopy(key: string, slots: Uint32Array, bytes: number): void {
    // The codes' first words, re-ranked by the whole codes where they lie (see prefixWords): a copy takes about half the memory.
    const rerank = (query: ArrayLike<number>, list: Uint32Array, k: number) => this.codes.scanSlots(query, list, k);
    // Made now, with the slots of this moment, so that every write from here on reaches it.
    const copy = new PostingCopy(this.model.dimension, slots, rerank, COPY_SPARE);
    const step = () => {
      if (this.copyBuilds.get(key) !== build) return;
      if (!copy.fill(this.gatherCodes, COPY_SLICE)) {
        build.timer = setTimeout(step, COPY_PAUSE_MS);
        return;
      }
      this.copyBuilds.delete(key);
      this.copyScans.delete(key);
      this.copies.set(key, copy);
      this.copyUsedAt.set(key, performance.now());
      this.settleCopyBuilds();
    };
    // Referenced (a copy being made keeps the process up for its ~0.4 s; close() stops it): who awaits copiesBuilt() gets an answer.
    const build = { bytes, timer: setTimeout(step, COPY_PAUSE_MS), copy };
    this.copyBuilds.set(key, build);
  }

  /** Writes the first `words` 64-bit words of the codes of `slots` side by side (a copy's {@link PostingCopy.fill} and {@link PostingCopy.append}). */
  private readonly gatherCodes = (list: Uint32Array, target: Uint8Array, at: number, words: number) => this.codes.copyCodes(list, target, at, words);

  /**
   * Items just added to the filter lists (new, replacing, or moved by compaction) join the copies
   * and graphs ({@link addToFilterGraphs}) of the filters they match, made or being made; a copy with
   * no spare entry left, or whose filter no longer resolves to posting lists, is dropped.
   */
  private addToCopies(slots: readonly number[]): void {
    this.addToFilterGraphs(slots);
    if ((this.copies.size === 0 && this.copyBuilds.size === 0) || slots.length === 0) return;
    const keeps = (key: string, copy: PostingCopy) => {
      const plan = this.filters.plan(JSON.parse(key) as ItemFilter);
      return plan !== undefined && slots.every((slot) => !plan.matches(slot) || copy.append(slot, this.gatherCodes));
    };
    for (const [key, copy] of this.copies) if (!keeps(key, copy)) this.dropCopy(key);
    for (const [key, { copy }] of this.copyBuilds) if (!keeps(key, copy)) this.stopCopyBuild(key);
  }

  /** Stops making the copy of one filter (out of spare entries, or too many dead ones, before it was done). */
  private stopCopyBuild(key: string): void {
    const build = this.copyBuilds.get(key);
    if (!build) return;
    clearTimeout(build.timer);
    this.copyBuilds.delete(key);
    this.settleCopyBuilds();
  }

  /** Stops the copies being built (closing), and lets the filters' graphs go. */
  private stopCopyBuilds(): void {
    for (const build of this.copyBuilds.values()) clearTimeout(build.timer);
    this.copyBuilds.clear();
    for (const key of [...this.filterGraphs.keys()]) this.dropFilterGraph(key);
    this.settleCopyBuilds();
  }

  /**
   * The graph of `filter`'s own items to walk, if it has one built (see
   * `FilteredSearchTuning.graphMinItems`); else undefined, having asked for one where this is the
   * filter's second ask within a minute and it fits the budget, once idle graphs give way.
   */
  private filterGraph(filter: ItemFilter, plan: FilterPlan): FilterGraph | undefined {
    const { graphMinItems, graphBytesPerItem, copyIdleMs } = this.tuning;
    if (plan.estimate < graphMinItems || graphBytesPerItem <= 0 || !this.graph.readsCodes) return undefined;
    const key = JSON.stringify(filter);
    const now = performance.now();
    const budget = graphBytesPerItem * this.liveCount;
    const held = this.filterGraphs.get(key);
    if (held) {
      // Being built, or over the budget as it is now (a lower one leaves the graphs made under a higher one unused).
      if (held.timer !== undefined || this.filterGraphBytes > budget) return undefined;
      held.usedAt = now;
      return held.graph;
    }
    if (!askedAgain(this.graphAsks, key, now)) return undefined;
    // A node's links at the base level (2M of 4 bytes), its header, upper levels and entry in the node table (~160 bytes at
    // M16), and the native graph's map from slots to nodes (4 bytes a slot, grown by half).
    const bytes = plan.estimate * (8 * this.settings.connectivity + 40) + 6 * this.slotEnd;
    if (!this.makeRoomForGraph(bytes, budget, now - copyIdleMs)) return undefined;
    const slots = plan.slots();
    if (slots.length < graphMinItems) return undefined;
    this.graphAsks.delete(key);
    this.buildFilterGraph(key, filter, slots, bytes);
    return undefined;
  }

  /** Whether `bytes` more fit beside the filters' graphs within `budget`, once those last searched before `idleSince` give way (the longest idle first). */
  private makeRoomForGraph(bytes: number, budget: number, idleSince: number): boolean {
    const idle = [...this.filterGraphs.entries()].filter(([, held]) => held.timer === undefined && held.usedAt <= idleSince).sort(([, a], [, b]) => a.usedAt - b.usedAt);
    return makeRoom(bytes, budget - this.filterGraphBytes, idle.map(([key, held]) => ({ key, bytes: held.graph.memoryBytes })), (key) => this.dropFilterGraph(key));
  }

  /**
   * Builds the graph of `slots` (the filter's items now), {@link GRAPH_SLICE_MS} of work at a time
   * with a pause after each, the searches between going on as without it; writes reach it meanwhile
   * and after ({@link addToFilterGraphs}, {@link retire}).
   */
  private buildFilterGraph(key: string, filter: ItemFilter, slots: Uint32Array, bytes: number): void {
    // Built with an efConstruction of at most 128: a quarter of the kept 1M index's items took 51 s on both cores against 69–77
    // with the index's 256, the walks by the estimate finding the same (0.983 of the exact scan's top 10 at ef 128, 100 queries).
    const settings = { ...this.settings, expansionAdd: Math.min(this.settings.expansionAdd, FILTER_GRAPH_EXPANSION_ADD) };
    const graph = new FilterGraph(this.model.dimension, settings, this.codes, slots);
    // Until it is built, a graph counts the bytes it is expected to take (a budget is not handed out twice).
    const held = { graph, usedAt: performance.now(), timer: undefined as NodeJS.Timeout | undefined, bytes };
    const step = () => {
      if (this.filterGraphs.get(key) !== held) return;
      const plan = this.filters.plan(filter);
      if (!plan) return this.dropFilterGraph(key);
      const until = performance.now() + GRAPH_SLICE_MS;
      let done = false;
      while (!done && performance.now() < until) done = graph.fill(GRAPH_BATCH, plan.matches);
      if (!done) {
        held.timer = setTimeout(step, COPY_PAUSE_MS);
        return;
      }
      held.timer = undefined;
      held.usedAt = performance.now();
      this.settleCopyBuilds();
    };
    // Referenced, as a copy being made (close() stops it).
    held.timer = setTimeout(step, COPY_PAUSE_MS);
    this.filterGraphs.set(key, held);
  }

  private dropFilterGraph(key: string): void {
    const held = this.filterGraphs.get(key);
    if (!held) return;
    clearTimeout(held.timer);
    this.filterGraphs.delete(key);
    held.graph.release();
    this.settleCopyBuilds();
  }

  /** Items just added to the filter lists join the graphs of the filters they match, built or being built (one whose filter no longer resolves to posting lists goes). */
  private addToFilterGraphs(slots: readonly number[]): void {
    if (this.filterGraphs.size === 0 || slots.length === 0) return;
    for (const [key, { graph }] of [...this.filterGraphs]) {
      const plan = this.filters.plan(JSON.parse(key) as ItemFilter);
      if (!plan) {
        this.dropFilterGraph(key);
        continue;
      }
      graph.add(slots.filter((slot) => plan.matches(slot)));
    }
  }

  private get filterGraphsBuilding(): boolean {
    return this.backgroundBuilds.graphs > 0;
  }

  /** Bytes the filters' graphs take, a graph being built counting at least what it is expected to take. */
  private get filterGraphBytes(): number {
    let bytes = 0;
    for (const held of this.filterGraphs.values()) bytes += held.timer === undefined ? held.graph.memoryBytes : Math.max(held.bytes, held.graph.memoryBytes);
    return bytes;
  }

  /** Filters with graphs of their own items (see {@link filterGraph}), built, and the memory they take (those being built too, at least what they are expected to take). */
  get filterGraphStats(): { filters: number; bytes: number } {
    return { filters: this.filterGraphs.size - this.backgroundBuilds.graphs, bytes: this.filterGraphBytes };
  }

  /** Copies of filters' codes and graphs of filters' items being built now, in the background of the event loop. */
  get backgroundBuilds(): { copies: number; graphs: number } {
    let graphs = 0;
    for (const { timer } of this.filterGraphs.values()) if (timer !== undefined) graphs++;
    return { copies: this.copyBuilds.size, graphs };
  }

  private settleCopyBuilds(): void {
    if (this.copyBuilds.size > 0 || this.filterGraphsBuilding) return;
    const waiters = this.copyWaiters;
    this.copyWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves once no copy of a filter's codes and no filter's graph is being built (made, or dropped by a write). */
  copiesBuilt(): Promise<void> {
    if (this.copyBuilds.size === 0 && !this.filterGraphsBuilding) return Promise.resolve();
    return new Promise((resolve) => this.copyWaiters.push(resolve));
  }

  /** The filters whose codes are copied now, the longest idle first (for tests and bench/search). */
  copiedFilters(): ItemFilter[] {
    return this.copiesByIdle().map((key) => JSON.parse(key) as ItemFilter);
  }

  /** Filters whose codes are copied side by side (see {@link postingCopy}), and the memory the copies take (not those being built). */
  get postingCopies(): { filters: number; bytes: number } {
    return { filters: this.copies.size, bytes: [...this.copies.values()].reduce((sum, copy) => sum + copy.memoryBytes, 0) };
  }

  /**
   * An item was written, deleted or moved: the time a `copyQuietMs` counts from (the copies, made
   * and being made, are kept up to date: {@link addToCopies}, {@link retire}).
   */
  private changed(): void {
    this.changedAt = performance.now();
  }

  /**
   * The matching candidates nearest to the query from the native graph's filtered walk, from the
   * walk guard's sampled codes nearest to it (`near`, where given) or from the top: by the two-bit
   * `estimate` where given (the pool × `estimateWalkFactor` of them, × `seededWalkFactor` from
   * codes that hold the filter, in the estimate's order: `ranked`; the latter's walk keeps at least
   * the unfiltered walk's ef for `k` in its list), else by Hamming distance
   * (`wanted` × the graph overfetch at the filter's share); or undefined (a scan answers) where it
   * found fewer than it asked for while the filter holds more (it ran out of nodes it could reach;
   * whatever the exact threshold), or, on an index that scans, where the candidates near the query
   * passed at less than `estimatePassShortfall` (by the estimate) or `graphPassShortfall` × the
   * filter's share (the filter lies away from the query).
   */
  private filteredWalk(
    query: Float32Array,
    plan: FilterPlan,
    k: number,
    wanted: number,
    matching: number,
    pool: number,
    estimate: EstimateQuery | undefined,
    near?: { readonly low: number; readonly slots: readonly number[] },
  ): { candidates: CodeCandidate[]; ranked: boolean } | undefined {
    const share = matching / Math.max(this.liveCount, 1);
    // By the estimate: the pool and a margin, or less from the sample's codes where they hold the filter about as much as the items do
    // (a walk from there misses little of the estimate's best; where the filter lies away from the query, its items are where the
    // estimate ranks coarsely). By Hamming distance, as the unfiltered walk's fetch: the smaller the filter, the more of its
    // candidates it wants (bench/search at 1M, 25 %: 320 gave recall@10 0.92–0.94).
    const seeded = near !== undefined && near.slots.length > 0;
    const dense = seeded && near.low >= share / 2;
    const factor = dense ? this.tuning.seededWalkFactor : this.tuning.estimateWalkFactor;
    // (Never fewer than the unfiltered search rescores: k.)
    const ask = estimate ? Math.max(k, Math.ceil(pool * factor)) : Math.ceil(wanted * overfetchAt(this.tuning.graphOverfetch, this.tuning.graphOverfetchEndShare, share));
    // Such a walk by the estimate holds at least the unfiltered walk's ef (the index's, measured on its own queries) and hands over its
    // first `ask`: where the data needs a wider walk, the filtered one widens with it.
    const list = estimate && dense ? Math.max(ask, this.expansionFor(k)) : ask;
    const found = this.graph.searchFiltered(query, list, plan.columns(), estimate, seeded ? near.slots : undefined, this.tuning.walkBeam)!;
    const scans = this.settings.exactThreshold > 0;
    const shortfall = estimate ? this.tuning.estimatePassShortfall : this.tuning.graphPassShortfall;
    // Fewer than it asked for while the filter holds more: items the walk could not reach (a graph whose removed nodes were
    // reused can leave an item no link leads to), scanned whatever the index's exact threshold, as an unfiltered walk's are.
    if (found.slots.length < Math.min(list, matching)) return undefined;
    if (scans && found.passShare < share * shortfall) return undefined;
    const kept = Math.min(found.slots.length, ask);
    return { candidates: Array.from({ length: kept }, (_, i) => ({ slot: found.slots[i]!, hamming: found.distances[i]! })), ranked: found.estimates !== undefined };
  }

  /**
   * Graph search restricted to the slots `matches` accepts: USearch's JavaScript binding has no
   * filtered search (the native graph's is {@link filteredWalk}), so fetch `fetch` candidates (enough for the pool to pass), and widen until at
   * least `need` of them pass (every passing one is returned). Undefined when the `matching` codes
   * should be scanned instead (unless the index never scans, past half the index only): when far
   * fewer of the walk's candidates pass than the filter's share of the items predicts (see
   * `graphPassShortfall`), or when the walk a widening needs — what the pass rate seen asks for, at
   * least twice the fetch — costs more than the scan (the planner's rule); doubling until enough
   * passed walked a filter against the query on to half the index.
   */
  private graphSearchWithin(query: Float32Array, matches: (slot: number) => boolean, need: number, fetch: number, matching: number): CodeCandidate[] | undefined {
    const size = this.graph.size;
    const share = matching / Math.max(this.liveCount, 1);
    const scans = this.settings.exactThreshold > 0;
    for (;;) {
      const found = this.graph.search(query, Math.min(fetch, size));
      const passing: CodeCandidate[] = [];
      for (let i = 0; i < found.slots.length; i++) if (matches(found.slots[i]!)) passing.push({ slot: found.slots[i]!, hamming: found.distances[i]! });
      if (scans && passing.length < found.slots.length * share * this.tuning.graphPassShortfall) return undefined;
      if (passing.length >= need || fetch >= size) return passing;
      fetch = Math.max(2 * fetch, Math.ceil((fetch * need) / Math.max(passing.length, 1)));
      if (fetch > size / 2 || (scans && matching <= this.tuning.graphStepInCodes * fetch)) return undefined;
    }
  }

  private markDirty(): void {
    this.dirty = true;
    this.scheduleCheckpoint();
  }

  /** Sets the background save of the graph going after {@link checkpointDelay}, unless one is set. */
  private scheduleCheckpoint(): void {
    if (this.closed) return;
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      if (this.checkpointing) {
        // One under way (asked for by compaction, say): the next is spaced from its end.
        void this.checkpointing.done
          .catch(() => undefined)
          .then(() => {
            if (this.dirty) this.scheduleCheckpoint();
          });
        return;
      }
      this.checkpoint().catch((error: unknown) => {
        this.checkpointError = error instanceof Error ? error.message : String(error);
      });
    }, checkpointDelay(performance.now(), this.lastCheckpoint, this.checkpointSpacing));
    this.saveTimer.unref();
  }

  /**
   * Saves the graph off the event loop: a worker thread loads the last saved graph, replays the
   * catalog's later changes onto its own copy, saves it atomically with the sequence number it
   * reflects, and copies SQLite's write-ahead log into the database. This thread only waits.
   * Falls back to {@link save} where the thread's module is not built.
   */
  async checkpoint(): Promise<void> {
    while (this.checkpointing) await this.checkpointing.done.catch(() => undefined);
    if (!this.dirty && existsSync(join(this.dir, GRAPH_FILE))) return;
    const running = runGraphCheckpoint({ dir: this.dir, dimension: this.model.dimension, storage: this.settings.storage, settings: this.settings });
    if (!running) return this.save();
    this.checkpointing = running;
    const startedAt = performance.now();
    try {
      const state = await running.done;
      if (!state) return;
      this.checkpointError = undefined;
      // Writes that came after the checkpoint's snapshot keep the graph dirty (and their timer runs).
      if (this.catalog.seq === state.seq) this.dirty = false;
      await this.reclaimOffLoop(state.seq);
    } finally {
      this.checkpointing = undefined;
      const endedAt = performance.now();
      this.lastCheckpoint = { endedAt, ms: endedAt - startedAt };
      this.checkpoints++;
    }
  }

  /** Saves the graph (atomically) with the catalog sequence number it reflects, on this thread. */
  save(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    // A checkpoint in flight writes the same files: call it off, or let it finish writing.
    this.checkpointing?.stopSync();
    if (!this.dirty && existsSync(join(this.dir, GRAPH_FILE))) return;
    const seq = this.catalog.seq;
    this.graph.save(join(this.dir, GRAPH_FILE));
    writeGraphState(this.dir, { seq, size: this.graph.size });
    this.dirty = false;
    this.reclaim(seq);
  }

  /**
   * Compaction, after each save of the graph: the slots of items deleted or replaced before the
   * saved sequence number `seq` are released for reuse (the next upserts write into them instead
   * of growing the files), and free slots at the end of the files are cut off.
   */
  private reclaim(seq: number): void {
    const released = this.catalog.releaseSlots(seq);
    if (released.length === 0) return;
    this.catalog.sync();
    this.reuse(released);
  }

  /**
   * {@link reclaim} after a checkpoint, the release made durable on libuv's thread pool, as the
   * checkpoint thread's own fsyncs are off this thread: ~0.3 ms on an idle disk (bench/search's 1M
   * save rows, 2026-12-03), but an fsync waits behind whatever else the disk is writing.
   */
  private async reclaimOffLoop(seq: number): Promise<void> {
    const released = this.catalog.releaseSlots(seq);
    if (released.length === 0) return;
    // A close meanwhile may have closed the log under this fsync: the slots are free at the next open (no row holds them),
    // or, had the release not reached the disk, released again by the next checkpoint.
    const synced = await this.catalog.syncAsync().then(
      () => true,
      (error: unknown) => {
        if (this.closed) return false;
        throw error;
      },
    );
    if (synced && !this.closed) this.reuse(released);
  }

  /** Takes slots whose release is durable into the free list, and cuts the files where the free slots reach their end. */
  private reuse(released: readonly number[]): void {
    const perSlot = this.bytesPerSlot;
    this.reclaimed.slots += released.length;
    this.reclaimed.bytes += released.length * perSlot;
    const free = new Set([...this.freeSlots, ...released]);
    let end = this.slotEnd;
    const oldEnd = end;
    while (end > 0 && free.has(end - 1)) free.delete(--end);
    if (end < oldEnd) {
      this.vectors.truncate(end);
      this.baseVectors?.truncate(end);
      this.baseCodes?.truncate(end);
      this.codes.truncate(end);
      this.reclaimed.truncatedBytes += (oldEnd - end) * perSlot;
    }
    this.freeSlots = [...free].sort((a, b) => b - a);
    this.onReclaim?.({ slots: released.length, bytes: released.length * perSlot, truncatedBytes: (oldEnd - end) * perSlot });
  }

  /** Bytes each slot takes in the vector, base and code files. */
  private get bytesPerSlot(): number {
    return (this.vectors.bytesPerSlot + this.codes.bytesPerCode + this.codes.bytesPerMagnitude) * (this.baseVectors ? 2 : 1);
  }

  private get fileBytes(): number {
    return this.vectors.bytes + (this.baseVectors?.bytes ?? 0) + this.codes.fileBytes + (this.baseCodes?.fileBytes ?? 0);
  }

  /**
   * Compacts the files online: saves the graph (releasing the slots of items deleted or replaced
   * before it), moves the live items at the end of the files into the lowest free slots, `batch` at
   * a time (each batch's vectors durable before its catalog commit, the event loop free between
   * batches, so searches wait for one batch at most), then saves again, which releases the moved-from
   * slots and cuts the free tail off the files. Run it under the index's write gate; writes that
   * come meanwhile are safe (a move whose item changed is dropped).
   */
  async compact(batch = 256): Promise<CompactionReport> {
    if (this.compacting) throw new ConflictError('compaction_running', `index ${this.name} is already being compacted: try again when it is done`);
    this.compacting = true;
    try {
      const fileBytesBefore = this.fileBytes;
      const start = { ...this.reclaimed };
      await this.checkpoint();
      let movedItems = 0;
      for (;;) {
        const moved = await this.moveBatch(batch);
        if (moved === undefined) break;
        movedItems += moved;
        // Let waiting searches and writes in between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (movedItems > 0) {
        this.dirty = true;
        await this.checkpoint();
      }
      return {
        movedItems,
        reclaimedBytes: this.reclaimed.bytes - start.bytes,
        truncatedBytes: this.reclaimed.truncatedBytes - start.truncatedBytes,
        freeSlots: this.freeSlots.length,
        freeBytes: this.freeSlots.length * this.bytesPerSlot,
        fileBytesBefore,
        fileBytesAfter: this.fileBytes,
      };
    } finally {
      this.compacting = false;
    }
  }

  /** Moves up to `batch` of the highest live slots into lower free ones; undefined when none is left to move. */
  private async moveBatch(batch: number): Promise<number | undefined> {
    const moves: { from: number; to: number }[] = [];
    for (let slot = this.slotEnd - 1; slot >= 0 && moves.length < batch; slot--) {
      const lowest = this.freeSlots.at(-1);
      if (lowest === undefined || lowest >= slot) break;
      if (!this.codes.isLive(slot)) continue;
      moves.push({ from: slot, to: this.freeSlots.pop()! });
    }
    if (moves.length === 0) return undefined;
    const seq = this.catalog.seq;
    const dimension = this.model.dimension;
    const matrix = new Float32Array(moves.length * dimension);
    const base = new Float32Array(dimension);
    moves.forEach(({ from, to }, i) => {
      const vector = this.vectors.read(from, matrix.subarray(i * dimension, (i + 1) * dimension));
      this.vectors.write(to, vector);
      this.codes.write(to, vector);
      if (this.baseVectors) this.baseVectors.write(to, this.baseVectors.read(from, base));
      this.baseCodes?.write(to, base);
    });
    await Promise.all([this.vectors.syncAsync(), this.baseVectors?.syncAsync(), this.baseCodes?.syncAsync(), this.codes.syncAsync()]);
    const moved = this.catalog.moveRows(moves, seq);
    const done = new Set(moved.map(({ to }) => to));
    const slots: number[] = [];
    const vectors = new Float32Array(moved.length * dimension);
    moves.forEach(({ to }, i) => {
      if (!done.has(to)) return;
      vectors.set(matrix.subarray(i * dimension, (i + 1) * dimension), slots.length * dimension);
      slots.push(to);
    });
    for (const { to, category, attributes, image } of moved) {
      this.codes.setLive(to, true);
      this.walkGuard.offer(to, this.codeOf);
      this.filters.add(to, category, attributes, image);
    }
    this.addToCopies(moved.map(({ to }) => to));
    this.graph.add(slots, vectors);
    this.retire(moved.map(({ from }) => from));
    // Slots of dropped moves go back (highest first, as the list is kept).
    const dropped = moves.filter(({ to }) => !done.has(to)).map(({ to }) => to);
    if (dropped.length > 0) this.freeSlots = [...this.freeSlots, ...dropped].sort((a, b) => b - a);
    this.markDirty();
    await this.catalog.syncAsync();
    return moved.length;
  }

  /**
   * Space kept in check by compaction: free slots waiting for reuse, and what has been reclaimed
   * since the index was opened (slots released for reuse, and bytes cut from the end of the files).
   */
  compaction(): { freeSlots: number; reclaimedSlots: number; reclaimedBytes: number; truncatedBytes: number; lastCheckpointError: string | null } {
    return {
      freeSlots: this.freeSlots.length,
      reclaimedSlots: this.reclaimed.slots,
      reclaimedBytes: this.reclaimed.bytes,
      truncatedBytes: this.reclaimed.truncatedBytes,
      lastCheckpointError: this.checkpointError ?? null,
    };
  }

  stats() {
    const size = (file: string) => (existsSync(join(this.dir, file)) ? statSync(join(this.dir, file)).size : 0);
    return {
      count: this.count,
      graphSize: this.graph.size,
      bytes: {
        vectors: this.vectors.bytes + (this.baseVectors?.bytes ?? 0),
        codes: size('codes.b1') + size('codes.m1') + size('base.b1') + size('base.m1'),
        graph: size(GRAPH_FILE),
        catalog: size('catalog.sqlite') + size('catalog.sqlite-wal'),
      },
    };
  }

  close(options: { save?: boolean } = {}): void {
    this.closed = true;
    if (options.save ?? true) this.save();
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.stopCopyBuilds();
    this.checkpointing?.stopSync();
    this.catalog.close();
    this.vectors.close();
    this.baseVectors?.close();
    this.baseCodes?.close();
    // The native graph's memory goes now, not when the collector gets to its wrapper; before the
    // code store it may read from.
    this.graph.clear();
    this.codes.close();
  }

  /** Closes and deletes everything on disk. */
  destroy(): void {
    this.close({ save: false });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
