import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The graph of native/graph.cpp (built by scripts/build-native.mjs into dist/native): USearch's
 * HNSW graph under a dense layer of the service's own, which loads each expanded node's neighbour
 * codes ahead of its distance loop and keeps removed entries in a bitmap. Keys are vector slots
 * (below 2^32 − 1); files are USearch's index_dense format, read and written by both this and
 * USearch's binding.
 */
export interface NativeGraph {
  size(): number;
  contains(key: number): boolean;
  /** Adds `keys` (none present already, none twice) with their vectors (keys × dimensions), on `threads` threads (0: all). */
  add(keys: Uint32Array, vectors: Float32Array, threads: number): void;
  /** True when `key` was present. */
  remove(key: number): boolean;
  /**
   * Up to `k` nearest keys and their Hamming distances, nearest first; with `estimate`, the walk's
   * order is the two-bit estimate's (highest first), each key's in `estimates`.
   */
  search(query: Float32Array, k: number, estimate?: EstimateQuery): { keys: Uint32Array; distances: Float32Array; estimates?: Float32Array };
  /**
   * Up to `k` nearest live keys that meet every condition (`conditions`: pairs of a column of value
   * ids by key, 0 for none, and a bitset of the ids accepted, or of a bitset of the keys that pass and
   * null), from one walk whose list holds only such keys; `asked`: the candidates near enough to enter
   * that list, `passed`: those that met the conditions. `estimate` as in {@link search}. With `seeds`
   * (keys), the walk is of the base level alone from them (those not held are passed over), not from
   * where the upper levels lead, `beam` nodes a step as {@link searchFrom}'s.
   */
  searchFiltered(
    query: Float32Array,
    k: number,
    conditions: FilterColumns,
    estimate?: EstimateQuery,
    seeds?: Uint32Array,
    beam?: number,
  ): { keys: Uint32Array; distances: Float32Array; asked: number; passed: number; estimates?: Float32Array };
  /**
   * Up to `k` nearest live keys by Hamming distance, nearest first, from a walk of the base level
   * alone that starts at `seeds` (keys; those not held are passed over), at the graph's ef or k,
   * expanding `beam` nodes a step (1–8; 3 when absent; 1 is USearch's walk of one node a step).
   */
  searchFrom(query: Float32Array, k: number, seeds: Uint32Array, beam?: number): { keys: Uint32Array; distances: Float32Array };
  /** `count` searches on `threads` threads: query i's matches are keys[i·k, i·k + counts[i]). */
  /** With `seeds` (count × s slots) and `seedCounts`: query i walks as searchFrom does from its first seedCounts[i] seeds, from the top where it has none. */
  searchMany(
    queries: Float32Array,
    count: number,
    k: number,
    threads: number,
    seeds?: Uint32Array,
    seedCounts?: Uint32Array,
  ): { keys: Uint32Array; distances: Float32Array; counts: Uint32Array };
  /** Written back to the disk as it goes, `writeBehindBytes` (16 MB) at a time, so that the fsync after finds little to write. */
  save(path: string, writeBehindBytes?: number): void;
  load(path: string): void;
  clear(): void;
  /**
   * Reads codes from `buffer` (key k's at offset + k × stride, keys below `slots`) instead of rows
   * of its own, which it gives back; the first call checks each live key's code there and answers
   * false (keeping its rows) when one differs. Later calls move the reads to the store's new buffer.
   */
  shareCodes(buffer: ArrayBuffer, offset: number, stride: number, slots: number): boolean;
  /** Bytes the graph, its codes and its lookups hold. */
  memoryUsage(): number;
}

/**
 * What a walk by the two-bit estimate reads ({@link CodeStore.estimateQuery}): the code store's
 * magnitude planes and low levels by key (covering every key of the codes the graph shares), and the
 * query's sums over each code byte's set bits, its components' sum and its length.
 */
export interface EstimateQuery {
  readonly planes: Uint8Array;
  readonly planeBytes: number;
  readonly lows: Float32Array;
  readonly sums: Float32Array;
  readonly total: number;
  readonly highCount: number;
  readonly lowCount: number;
  readonly norm: number;
}

/**
 * A filter as the native graph tests it: for each condition, its value ids by key and the bitset of
 * the ids it accepts; or a bitset of the keys that pass (bit k % 8 of byte k / 8) and null.
 */
export type FilterColumns = (Uint8Array | Uint16Array | Uint32Array | null)[];

/**
 * Dot products of `query` with the vectors in `slots` of a vector file (fixed slots of
 * query.length values, `storage` f32 or f16, read with pread from `fd`) into `out`, summed in
 * double precision in dimension order, as VectorFile's JavaScript loop sums them. The reads go
 * in batches through the calling thread's io_uring, or with pread where there is none (or `reads`
 * asks for it: the tests compare both).
 */
export type NativeDotMany = (fd: number, slots: Uint32Array, storage: 'f32' | 'f16', query: Float32Array, out: Float64Array, reads?: 'pread') => void;

/**
 * CodeStore.estimateDots's loop over `slots` (two-bit estimates of the dot products with the query
 * whose byte sums `sums` holds), to the last bit the JavaScript loop's results.
 */
export type NativeEstimateDots = (
  codes: Uint8Array,
  codesAt: number,
  stride: number,
  planes: Uint8Array,
  planeBytes: number,
  lows: Float32Array,
  sums: Float32Array,
  total: number,
  highCount: number,
  lowCount: number,
  slots: Uint32Array,
  out: Float64Array,
) => number;

/**
 * Of the `count` codes of `words` 64-bit words side by side from byte `codesAt` of `memory` (entry i
 * live where the byte at `liveAt` + i is not 0), every live one within the k-th smallest Hamming
 * distance to the code at `queryAt` (ties at that distance included), by distance then position: what
 * the WebAssembly kernel's `scanRange` and hamming-kernel's `selectNearest` answer, in one pass over the codes.
 */
export type NativeNearestCodes = (
  memory: ArrayBuffer,
  codesAt: number,
  words: number,
  count: number,
  liveAt: number,
  queryAt: number,
  k: number,
) => { positions: Uint32Array; distances: Uint16Array };

/**
 * Of the codes of the `count` slots listed as u32 from byte `listAt` of `memory` (slot s's code of
 * `words` 64-bit words at `codesAt` + s × words × 8), every one within the k-th smallest Hamming
 * distance to the code at `queryAt` (ties included), by distance then list position: what the
 * WebAssembly kernel's `scanList` and hamming-kernel's `selectNearest` answer.
 */
export type NativeNearestListed = (
  memory: ArrayBuffer,
  codesAt: number,
  words: number,
  listAt: number,
  count: number,
  queryAt: number,
  k: number,
) => { positions: Uint32Array; distances: Uint16Array };

interface NativeGraphModule {
  Graph: new (dimensions: number, connectivity: number, expansionAdd: number, expansionSearch: number) => NativeGraph;
  dotMany: NativeDotMany;
  estimateDots: NativeEstimateDots;
  /** CodeStore's byte sums of `query` into `sums` (the same floats as its JavaScript loop); returns the sum of its first `dimension` components. */
  byteSums(query: Float32Array, dimension: number, sums: Float32Array): number;
  /** Whether a walk by the estimate reads its byte sums (no AVX-512, or the scalar kernel asked for); else it sums the query's components under the codes' bits. */
  walksReadSums(): boolean;
  nearestCodes: NativeNearestCodes;
  nearestListed: NativeNearestListed;
  /**
   * The kernel {@link nearestCodes} computes its distances with: AVX-512's popcount where the CPU has it
   * (unless LOOKBOOK_SCAN_KERNEL=scalar), else a plain loop; `name` chooses one first (tests compare them).
   */
  scanKernel(name?: 'avx512' | 'scalar'): 'avx512' | 'scalar';
  /** Zeroed memory in transparent huge pages (from 16 MB up), given back when the buffer is collected. */
  hugeBuffer(bytes: number): ArrayBuffer;
  /** Asks for the whole huge pages inside `buffer` (16 MB and up) to be backed by transparent huge pages; the bytes advised (0: none). */
  adviseHuge(buffer: ArrayBuffer): number;
}

/**
 * One of the addon's functions beside the graph, where it is built and LOOKBOOK_GRAPH does not ask for
 * USearch's binding (see {@link graphEngine}); undefined otherwise, where the caller's JavaScript or
 * WebAssembly stands in for it.
 */
export function nativeHelper<K extends Exclude<keyof NativeGraphModule, 'Graph'>>(name: K): NativeGraphModule[K] | undefined {
  return graphEngine() === 'native' ? nativeGraphModule().module?.[name] : undefined;
}

/** Which graph implementation indexes use: `LOOKBOOK_GRAPH` (`native`, the default when built, or `usearch`). */
export type GraphEngine = 'native' | 'usearch';

/** Where the built addon is, from this module under src/ (the tests) or dist/src/ (the service). */
function addonPath(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'native', 'lookbook-graph.node'), join(here, '..', '..', 'dist', 'native', 'lookbook-graph.node')];
  return candidates.find((path) => existsSync(path));
}

let loaded: { module?: NativeGraphModule; why?: string } | undefined;

/** The addon, or why there is none (not built, or it failed to load). */
export function nativeGraphModule(): { module?: NativeGraphModule; why?: string } {
  if (loaded) return loaded;
  const path = addonPath();
  if (!path) return (loaded = { why: 'dist/native/lookbook-graph.node is not built (scripts/build-native.mjs needs a C++ compiler)' });
  try {
    return (loaded = { module: createRequire(import.meta.url)(path) as NativeGraphModule });
  } catch (error) {
    return (loaded = { why: `${path} does not load: ${error instanceof Error ? error.message : String(error)}` });
  }
}

/**
 * The engine `LOOKBOOK_GRAPH` asks for, or `native` when the addon is there and `usearch` when
 * not. Throws when `native` is asked for and cannot be had, or for an unknown value.
 */
export function graphEngine(env: NodeJS.ProcessEnv = process.env): GraphEngine {
  const asked = env.LOOKBOOK_GRAPH?.trim() || undefined;
  if (asked !== undefined && asked !== 'native' && asked !== 'usearch') throw new Error(`LOOKBOOK_GRAPH must be "native" or "usearch", not ${JSON.stringify(asked)}`);
  if (asked === 'usearch') return 'usearch';
  const { module, why } = nativeGraphModule();
  if (module) return 'native';
  if (asked === 'native') throw new Error(`LOOKBOOK_GRAPH=native, but ${why}`);
  return 'usearch';
}

export function createNativeGraph(dimensions: number, connectivity: number, expansionAdd: number, expansionSearch: number): NativeGraph {
  const { module, why } = nativeGraphModule();
  if (!module) throw new Error(`the native graph is unavailable: ${why}`);
  return new module.Graph(dimensions, connectivity, expansionAdd, expansionSearch);
}
