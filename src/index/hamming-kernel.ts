import { packSignBits } from './binary-codes.js';
import type { NativeNearestCodes } from './native-graph.js';

/**
 * Hamming distances between one packed sign-bit code and many, in WebAssembly: the 64-bit
 * `i64.popcnt` instruction compiles to the CPU's POPCNT, which JavaScript cannot reach (its best
 * is a 32-bit bit-twiddling popcount, ~4× slower). The module is generated here, for one code
 * width, with the loop over a code's words unrolled and the query held in locals; it has no
 * imports and no state beyond its memory, whose layout the caller owns.
 *
 * Both functions write each distance as a u16 to `out` and count it in `histogram` (u32 per
 * distance 0…bits), so the caller finds the top-k cut without sorting:
 *
 * - `scanRange(query, codes, from, to, live, out, histogram)`: slots `from…to-1` of the code
 *   array at `codes`; a slot whose byte in `live` is 0 gets distance 0xFFFF and is not counted.
 * - `scanList(query, codes, slots, count, out, histogram)`: the `count` u32 slot numbers at `slots`,
 *   loading each code a few entries before its turn (see {@link SCAN_LOOKAHEAD}); it also writes one
 *   word of its own after the histogram ({@link histogramBytes} in all).
 *
 * Then `collect(out, count, cut, found)` gathers the positions whose distance is within the cut
 * the histogram gave.
 */

const I32 = 0x7f;
const I64 = 0x7e;
const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  i32Load8u: 0x2d,
  i32Load16u: 0x2f,
  i32Store: 0x36,
  i32Store16: 0x3b,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32GeU: 0x4f,
  i32LeU: 0x4d,
  i32LtU: 0x49,
  select: 0x1b,
  i64Store: 0x37,
  i64Popcnt: 0x7b,
  i64Add: 0x7c,
  i64Xor: 0x85,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32Shl: 0x74,
  i32WrapI64: 0xa7,
  void: 0x40,
} as const;

function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const get = (local: number) => [op.localGet, ...uleb(local)];
const set = (local: number) => [op.localSet, ...uleb(local)];
const const32 = (value: number) => [op.i32Const, ...sleb(value)];
/** Memory access immediates: alignment (log2) and offset. */
const mem = (align: number, offset = 0) => [...uleb(align), ...uleb(offset)];

/**
 * The distance of the code at the address in local `pointer` to the query words in locals
 * `query…query+words-1`, left on the stack as an i32.
 */
function distanceOf(pointer: number, query: number, words: number): number[] {
  const code: number[] = [];
  for (let w = 0; w < words; w++) {
    code.push(...get(pointer), op.i64Load, ...mem(3, w * 8), ...get(query + w), op.i64Xor, op.i64Popcnt);
    if (w > 0) code.push(op.i64Add);
  }
  code.push(op.i32WrapI64);
  return code;
}

/** `out[index] = d; histogram[d] += 1` with the distance in local `d` and the index in local `index`. */
function record(out: number, index: number, d: number, histogram: number): number[] {
  return [
    ...get(out), ...get(index), ...const32(1), op.i32Shl, op.i32Add, ...get(d), op.i32Store16, ...mem(1),
    ...get(histogram), ...get(d), ...const32(2), op.i32Shl, op.i32Add, op.localTee, ...uleb(d),
    ...get(d), op.i32Load, ...mem(2), ...const32(1), op.i32Add, op.i32Store, ...mem(2),
  ];
}

function loadQuery(queryParam: number, firstLocal: number, words: number): number[] {
  const code: number[] = [];
  for (let w = 0; w < words; w++) code.push(...get(queryParam), op.i64Load, ...mem(3, w * 8), ...set(firstLocal + w));
  return code;
}

/** Where `scanList` leaves the word it folds its look-ahead loads into, from the histogram's start: after the counts, 8-aligned. */
const sinkOffset = (words: number) => Math.ceil((4 * (words * 64 + 1)) / 8) * 8;

/** Bytes the kernel writes from `histogram` on: a u32 count per distance 0…bits, then one 8-byte word of its own. */
export function histogramBytes(words: number): number {
  return sinkOffset(words) + 8;
}

/** The kernel's memory grows by WebAssembly pages of 64 KiB. */
export const WASM_PAGE = 65_536;

/**
 * Where an owner of a kernel's memory keeps what every scan reads: the query's code at 0, the
 * histogram (and the kernel's own word, {@link histogramBytes}) 64-byte aligned after it, and its
 * codes from the next page on.
 */
export function kernelLayout(words: number): { histogramAt: number; codesAt: number } {
  const histogramAt = Math.ceil((words * 8) / 64) * 64;
  return { histogramAt, codesAt: Math.ceil((histogramAt + histogramBytes(words)) / WASM_PAGE) * WASM_PAGE };
}

/** What a scan starts from: `query`'s sign code at 0 (zero to the end of its words) and a cleared histogram. */
export function writeScanQuery(memory: Uint8Array, query: ArrayLike<number>, words: number, histogramAt: number): void {
  packSignBits(query, memory, 0);
  memory.fill(0, Math.ceil(query.length / 8), words * 8);
  memory.fill(0, histogramAt, histogramAt + 4 * (words * 64 + 1));
}

/**
 * How many list entries ahead `scanList` loads a code before it needs it. A posting list's slots
 * are sorted but their gaps irregular, which the CPU's prefetchers do not follow, and WebAssembly has no
 * prefetch instruction: a plain load of a later code sets its cache line on its way while the
 * distances between go on. The kernels alone on a 1M index's 1–25 % posting lists, query by query
 * in turn: 0.78–0.92 of the time of none, 4–16 ahead alike; bench/search's exact rows (a random
 * tenth, list copy and selection included): 0.85–0.89 at 100k codes, within the machine's noise at 1M.
 */
export const SCAN_LOOKAHEAD = 8;

/** The module's bytes for codes of `words` 64-bit words; `scanList` looks `lookahead` entries ahead (0: none). */
export function hammingModule(words: number, lookahead = SCAN_LOOKAHEAD): Uint8Array<ArrayBuffer> {
  const stride = words * 8;
  // scanRange(query, codes, from, to, live, out, histogram); locals: slot, pointer, d, then the query words.
  const range = (() => {
    const [query, codes, from, to, live, out, histogram, slot, pointer, d, q] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const index = q + words; // slot - from
    const body = [
      ...loadQuery(query, q, words),
      ...get(from), ...set(slot),
      op.block, op.void,
      op.loop, op.void,
      ...get(slot), ...get(to), op.i32GeU, op.brIf, 1,
      ...get(slot), ...get(from), op.i32Sub, ...set(index),
      ...get(live), ...get(slot), op.i32Add, op.i32Load8u, ...mem(0),
      op.if, op.void,
      ...get(codes), ...get(slot), ...const32(stride), op.i32Mul, op.i32Add, ...set(pointer),
      ...distanceOf(pointer, q, words), ...set(d),
      ...record(out, index, d, histogram),
      op.else,
      ...get(out), ...get(index), ...const32(1), op.i32Shl, op.i32Add, ...const32(0xffff), op.i32Store16, ...mem(1),
      op.end,
      ...get(slot), ...const32(1), op.i32Add, ...set(slot),
      op.br, 0,
      op.end,
      op.end,
      op.end,
    ];
    const locals = [[...uleb(3), I32], [...uleb(words), I64], [...uleb(1), I32]];
    return [...vec(locals), ...body];
  })();
  // scanList(query, codes, slots, count, out, histogram); locals: i, pointer, d, then the query words, then the sink.
  const list = (() => {
    const [query, codes, slots, count, out, histogram, i, pointer, d, q] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const sink = q + words;
    const body = [
      ...loadQuery(query, q, words),
      op.block, op.void,
      op.loop, op.void,
      ...get(i), ...get(count), op.i32GeU, op.brIf, 1,
      ...get(codes),
      ...get(slots), ...get(i), ...const32(2), op.i32Shl, op.i32Add, op.i32Load, ...mem(2),
      ...const32(stride), op.i32Mul, op.i32Add, ...set(pointer),
      // The code `lookahead` entries on (near the end, this entry's own): its first word, folded into the sink, which is stored at the end so that the load stays.
      ...(lookahead > 0
        ? [
            ...get(codes),
            ...get(slots),
            ...get(i), ...const32(lookahead), op.i32Add,
            ...get(i),
            ...get(i), ...const32(lookahead), op.i32Add, ...get(count), op.i32LtU,
            op.select,
            ...const32(2), op.i32Shl, op.i32Add, op.i32Load, ...mem(2),
            ...const32(stride), op.i32Mul, op.i32Add, op.i64Load, ...mem(3),
            ...get(sink), op.i64Xor, ...set(sink),
          ]
        : []),
      ...distanceOf(pointer, q, words), ...set(d),
      ...record(out, i, d, histogram),
      ...get(i), ...const32(1), op.i32Add, ...set(i),
      op.br, 0,
      op.end,
      op.end,
      ...get(histogram), ...get(sink), op.i64Store, ...mem(3, sinkOffset(words)),
      op.end,
    ];
    const locals = [[...uleb(3), I32], [...uleb(words + 1), I64]];
    return [...vec(locals), ...body];
  })();
  // collect(out, count, cut, found) → n: the indices i < count whose distance out[i] ≤ cut, in order, as u32 at `found`.
  const collect = (() => {
    const [out, count, cut, found, i, n, d] = [0, 1, 2, 3, 4, 5, 6];
    const body = [
      op.block, op.void,
      op.loop, op.void,
      ...get(i), ...get(count), op.i32GeU, op.brIf, 1,
      ...get(out), ...get(i), ...const32(1), op.i32Shl, op.i32Add, op.i32Load16u, ...mem(1), op.localTee, ...uleb(d),
      ...get(cut), op.i32LeU,
      op.if, op.void,
      ...get(found), ...get(n), ...const32(2), op.i32Shl, op.i32Add, ...get(i), op.i32Store, ...mem(2),
      ...get(n), ...const32(1), op.i32Add, ...set(n),
      op.end,
      ...get(i), ...const32(1), op.i32Add, ...set(i),
      op.br, 0,
      op.end,
      op.end,
      ...get(n),
      op.end,
    ];
    return [...vec([[...uleb(3), I32]]), ...body];
  })();
  const functionType = (params: number, results = 0) => [0x60, ...vec(Array.from({ length: params }, () => [I32])), ...vec(Array.from({ length: results }, () => [I32]))];
  const exportEntry = (name: string, kind: number, index: number) => [...vec([...new TextEncoder().encode(name)].map((b) => [b])), kind, ...uleb(index)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([functionType(7), functionType(6), functionType(4, 1)])),
    ...section(3, vec([[0], [1], [2]])),
    // One page to start; the owner grows it.
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(7, vec([exportEntry('memory', 2, 0), exportEntry('scanRange', 0, 0), exportEntry('scanList', 0, 1), exportEntry('collect', 0, 2)])),
    ...section(10, vec([[...uleb(range.length), ...range], [...uleb(list.length), ...list], [...uleb(collect.length), ...collect]])),
  ];
  return Uint8Array.from(bytes);
}

// TypeScript declares WebAssembly with the DOM library, which this project does not load; what is used here:
// eslint-disable-next-line @typescript-eslint/no-namespace -- declares the global WebAssembly namespace, not a module of ours
declare namespace WebAssembly {
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Module {
    constructor(bytes: Uint8Array<ArrayBuffer>);
  }
  class Instance {
    constructor(module: Module, imports: object);
    readonly exports: object;
  }
}

export interface HammingKernel {
  readonly memory: WebAssembly.Memory;
  scanRange(query: number, codes: number, from: number, to: number, live: number, out: number, histogram: number): void;
  scanList(query: number, codes: number, slots: number, count: number, out: number, histogram: number): void;
  /** Writes the indices `i < count` whose u16 distance at `out` is at most `cut`, in order, as u32 to `found`; returns how many. */
  collect(out: number, count: number, cut: number, found: number): number;
}

/** A fresh instance (with its own memory) of the kernel for codes of `words` 64-bit words; compiling takes well under a millisecond. */
export function createHammingKernel(words: number, lookahead = SCAN_LOOKAHEAD): HammingKernel {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(hammingModule(words, lookahead)), {});
  return exports as unknown as HammingKernel;
}

/** Where a kernel's owner keeps a scan's results: the u16 distances and the positions `collect` gathers (see {@link selectNearest}). */
export interface ScanBuffers {
  readonly histogramAt: number;
  readonly distancesAt: number;
  readonly foundAt: number;
}

/**
 * The `k` nearest of the `count` codes a scan just measured: reads the cut from the histogram, then
 * collects the distances within it by a counting sort (the histogram gives each distance's place),
 * ties by slot: no comparator sort, no object per scanned code. `list` maps scan positions to slots
 * (a range scan's positions are its slots); `bits` is the code's width.
 */
export function selectNearest(kernel: HammingKernel, at: ScanBuffers, bits: number, k: number, count: number, list?: ArrayLike<number>): { slot: number; hamming: number }[] {
  const histogram = new Uint32Array(kernel.memory.buffer, at.histogramAt, bits + 1);
  let cut = 0;
  for (let seen = 0; cut < bits; cut++) {
    seen += histogram[cut]!;
    if (seen >= k) break;
  }
  const ends = new Uint32Array(cut + 2);
  for (let d = 0; d <= cut; d++) ends[d + 1] = ends[d]! + histogram[d]!;
  const starts = ends.slice(0, cut + 1);
  const within = kernel.collect(at.distancesAt, count, cut, at.foundAt);
  const positions = new Uint32Array(kernel.memory.buffer, at.foundAt, within);
  const distances = new Uint16Array(kernel.memory.buffer, at.distancesAt, count);
  const found = new Uint32Array(within);
  for (let j = 0; j < within; j++) {
    const i = positions[j]!;
    found[starts[distances[i]!]!++] = list ? list[i]! : i;
  }
  const out: { slot: number; hamming: number }[] = [];
  for (let d = 0; d <= cut && out.length < k; d++) {
    const bucket = found.subarray(ends[d]!, ends[d + 1]!);
    if (list) bucket.sort();
    for (let i = 0; i < bucket.length && out.length < k; i++) out.push({ slot: bucket[i]!, hamming: d });
  }
  return out;
}

/**
 * The `k` nearest live codes of a range (entries 0…count − 1 of `words` 64-bit words from
 * `codesAt`, live where their byte at `liveAt` is 1) to the query {@link writeScanQuery} left at 0,
 * ties by slot (`list` maps entries to slots; without it an entry is its slot): by the addon's
 * one-pass scan where `nearest` is given, else by the kernel's `scanRange` and {@link selectNearest}.
 * The same answer either way. The kernel writes every distance, then reads them back to collect those
 * within the cut; the addon keeps only the codes within a cut a sample of them sets. With the
 * addon's list scan for the shortlist's re-ranking and for posting lists (CodeStore), on
 * bench/search's 1M index (300 queries twice, a process each way, three in turns): a 25 % filter
 * (from its copy's 250k prefixes) 1.20–1.28 ms a search against 1.41–1.55, a 10 % one 1.03–1.09
 * against 1.10–1.16 (100k prefixes, whose 2.4 MB the caches partly hold), a 1 % one (10k codes
 * through its posting list) 0.54–0.57 against 0.61–0.66; a scan of all 1M codes 3.2 ms against 3.8.
 * (Switching query by query within one process measured less and at 1 % the other way round: the
 * switch itself costs, so each way runs in a process of its own.)
 */
export function nearestInRange(
  kernel: HammingKernel,
  at: ScanBuffers & { readonly codesAt: number; readonly liveAt: number },
  words: number,
  bits: number,
  k: number,
  count: number,
  list?: ArrayLike<number>,
  nearest?: NativeNearestCodes,
): { slot: number; hamming: number }[] {
  if (!nearest) {
    kernel.scanRange(0, at.codesAt, 0, count, at.liveAt, at.distancesAt, at.histogramAt);
    return selectNearest(kernel, at, bits, k, count, list);
  }
  const { positions, distances } = nearest(kernel.memory.buffer, at.codesAt, words, count, at.liveAt, 0, k);
  return nearestOf(positions, distances, k, list);
}

/**
 * The slots of the first `k` entries of the addon's answer to a scan, as {@link nearestOf} ranks them
 * (by distance, then slot), in no particular order: for a shortlist that is ranked again, without an
 * object per entry (bench/search's 1M index, a 10 % filter's shortlist of 1,800: nearestOf and a
 * mapping `Uint32Array.from` after it took 300 µs of a 0.8 ms scan, this a few).
 */
export function nearestSlots(positions: Uint32Array, distances: Uint16Array, k: number, list: ArrayLike<number>): Uint32Array {
  const n = positions.length;
  const slots = new Uint32Array(n);
  for (let i = 0; i < n; i++) slots[i] = list[positions[i]!]!;
  if (n <= k) return slots;
  if (k === 0) return slots.subarray(0, 0);
  // Every entry before the k-th's distance is in; of those at it, the smallest slots (entries in order are slots in order but for a copy's appended ones).
  const last = distances[k - 1]!;
  let start = k - 1;
  while (start > 0 && distances[start - 1] === last) start--;
  let end = k;
  while (end < n && distances[end] === last) end++;
  const tie = slots.subarray(start, end);
  for (let i = 1; i < tie.length; i++) {
    if (tie[i]! < tie[i - 1]!) {
      tie.sort();
      break;
    }
  }
  return slots.subarray(0, k);
}

/**
 * The first `k` of the addon's answer to a scan (entries by distance, then position: {@link NativeNearestCodes}
 * and its list scan), as slots (`list` maps entries to slots; without it an entry is its slot) by
 * distance, then slot.
 */
export function nearestOf(positions: Uint32Array, distances: Uint16Array, k: number, list?: ArrayLike<number>): { slot: number; hamming: number }[] {
  const n = positions.length;
  let slots = positions;
  if (list) {
    slots = new Uint32Array(n);
    for (let i = 0; i < n; i++) slots[i] = list[positions[i]!]!;
  }
  const out: { slot: number; hamming: number }[] = [];
  for (let start = 0; start < n && out.length < k; ) {
    const distance = distances[start]!;
    let end = start + 1;
    // Entries in order are slots in order, but for a copy's appended entries or an unsorted list: a tie's slots sorted where they are not.
    let ordered = true;
    for (; end < n && distances[end] === distance; end++) if (slots[end]! < slots[end - 1]!) ordered = false;
    if (!ordered) slots.subarray(start, end).sort();
    for (let i = start; i < end && out.length < k; i++) out.push({ slot: slots[i]!, hamming: distance });
    start = end;
  }
  return out;
}
