import { createHammingKernel, kernelLayout, nearestInRange, WASM_PAGE as PAGE, writeScanQuery, type HammingKernel } from './hamming-kernel.js';
import { nativeHelper, type NativeNearestCodes } from './native-graph.js';
import { rng } from '../util/random.js';

const align8 = (offset: number) => Math.ceil(offset / 8) * 8;

/** Items per sampled code scanned by {@link WalkGuard.fellShort}: 64 gives 15,625 at 1M. */
const SAMPLE_SHARE = 64;
/**
 * Items per sampled code of the guard's first look (1,954 codes at 1M), and how near the walk's
 * nearest distance that look's nearest must come for the rest of the sample to be scanned. A walk
 * that stopped in the wrong place leaves thousands of items nearer to the query than its nearest,
 * which the first look finds; one that went right has its nearest well below the first look's (a
 * margin of 44–56 bits at the median at 1M, at least 3), and the rest of the sample, which could
 * only change a close call, is left unread. At 1M the sample's 1 MB no longer sits in the CPU's
 * caches after a walk: its scan took ~230 µs of a 1.5 ms search.
 */
const FIRST_LOOK_SHARE = 512;
const FIRST_LOOK_MARGIN = 16;

/** The sample's entries the first look reads for an index of `items` items. */
const firstLookEntries = (items: number) => Math.max(1024, Math.ceil(items / FIRST_LOOK_SHARE));
/** The sample's entries the whole look reads ({@link WalkGuard.fellShort} past its first look, {@link WalkGuard.nearPassing}). */
const sampleEntries = (items: number) => Math.max(1024, Math.ceil(items / SAMPLE_SHARE));

/**
 * A uniform sample of an index's live codes, kept contiguous so that an exact scan of it costs
 * microseconds: the check that a graph walk did not stop in the wrong part of the graph. A walk
 * that ends short of the query's neighbourhood (HNSW's greedy descent into a region the query's
 * cluster is poorly linked to) returns candidates no nearer than a random sample's best; when the
 * sample holds a code nearer to the query than the walk's nearest, the walk certainly missed the
 * nearest items, and the search scans every code instead.
 *
 * bench/search's 1M clustered index, two builds, 300 queries: at ef 384, two queries a build found
 * none of their top 10 (on the first, the walk's nearest at Hamming 193 and 141, the true nearest at
 * 93 and 98); at ef 256, seven and three. The sample held a nearer code for each of them and for
 * no other query, and the scans that followed lifted recall@10 to 0.996–0.997 at either ef (from
 * 0.972–0.990). The sample's scan takes 60–100 µs at 1M, where a walk takes 1–2 ms.
 *
 * The sample is a reservoir over the items as they arrive, kept in random order (so that its first
 * entries are a sample too); a retired item's entry is the next arrival's. Its memory is the
 * sample's codes (64 bytes an entry for 512 dimensions), about 1 MB at the full 16,384.
 */
export class WalkGuard {
  private readonly kernel: HammingKernel;
  /** The addon's one-pass scan for {@link nearPassing} (the same answer; see {@link nearestInRange}). */
  private readonly nativeNearest: NativeNearestCodes | undefined = nativeHelper('nearestCodes');
  private readonly stride: number;
  private readonly histogramAt: number;
  private readonly codesAt: number;
  /** Entries the memory has room for (grows with the sample, up to `capacity`). */
  private room = 0;
  private bytes!: Uint8Array<ArrayBuffer>;
  /** The slot each entry holds (-1: free), and each sampled slot's entry. */
  private readonly slots: number[] = [];
  private readonly entryOf = new Map<number, number>();
  private readonly free: number[] = [];
  /** Items offered so far (the reservoir's count). */
  private offered = 0;
  private readonly random = rng(0x5eed);

  constructor(
    readonly dimension: number,
    readonly capacity = 16_384,
  ) {
    const words = Math.ceil(dimension / 64);
    this.stride = words * 8;
    this.kernel = createHammingKernel(words);
    ({ histogramAt: this.histogramAt, codesAt: this.codesAt } = kernelLayout(words));
    this.grow(Math.min(capacity, 1024));
  }

  /** Codes in the sample. */
  get size(): number {
    return this.entryOf.size;
  }

  private get liveAt(): number {
    return this.codesAt + this.room * this.stride;
  }

  /** The scans' u16 distances, then selectNearest's u32 positions: on 8-byte boundaries, as typed arrays over them need. */
  private get distancesAt(): number {
    return align8(this.liveAt + this.room);
  }

  private get foundAt(): number {
    return align8(this.distancesAt + 2 * this.room);
  }

  private grow(room: number): void {
    const oldLive = this.liveAt;
    const oldRoom = this.room;
    // Per entry: its code, whether it is live, a scan's u16 distance and a u32 position for selectNearest (+ 16: their alignment).
    const needed = this.codesAt + room * (this.stride + 7) + 16;
    const pages = Math.ceil(needed / PAGE) - this.kernel.memory.buffer.byteLength / PAGE;
    if (pages > 0) this.kernel.memory.grow(pages);
    this.bytes = new Uint8Array(this.kernel.memory.buffer);
    this.room = room;
    this.bytes.copyWithin(this.liveAt, oldLive, oldLive + oldRoom);
    this.bytes.fill(0, this.liveAt + oldRoom, this.liveAt + room);
  }

  /**
   * A live item, sampled or not by the reservoir's draw; `codeOf` gives its sign code (as
   * `packSignBits` packs it), asked for only when the item is sampled.
   */
  offer(slot: number, codeOf: (slot: number) => Uint8Array): void {
    if (this.entryOf.has(slot)) this.retire(slot);
    this.offered++;
    let entry = this.free.pop();
    if (entry === undefined && this.slots.length < this.capacity) {
      const end = this.slots.length;
      this.slots.push(-1);
      if (end >= this.room) this.grow(Math.min(this.capacity, this.room * 2));
      // Inside out, as Fisher and Yates shuffle: the new item to a random entry, that entry's item to the end
      // (every entry is taken while none is free), so that the first entries are a uniform sample at any size.
      entry = Math.floor(this.random() * (end + 1));
      if (entry !== end) this.move(entry, end);
    }
    if (entry === undefined) {
      const draw = Math.floor(this.random() * this.offered);
      if (draw >= this.capacity) return;
      entry = draw;
      this.entryOf.delete(this.slots[entry]!);
    }
    this.slots[entry] = slot;
    this.entryOf.set(slot, entry);
    const offset = this.codesAt + entry * this.stride;
    this.bytes.fill(0, offset, offset + this.stride);
    const code = codeOf(slot);
    this.bytes.set(code.length > this.stride ? code.subarray(0, this.stride) : code, offset);
    this.bytes[this.liveAt + entry] = 1;
  }

  private move(from: number, to: number): void {
    const slot = this.slots[from]!;
    this.slots[to] = slot;
    this.entryOf.set(slot, to);
    this.bytes.copyWithin(this.codesAt + to * this.stride, this.codesAt + from * this.stride, this.codesAt + (from + 1) * this.stride);
    this.bytes[this.liveAt + to] = this.bytes[this.liveAt + from]!;
  }

  /** An item left the index (deleted, replaced or moved): out of the sample if it was in. */
  retire(slot: number): void {
    const entry = this.entryOf.get(slot);
    if (entry === undefined) return;
    this.entryOf.delete(slot);
    this.slots[entry] = -1;
    this.bytes[this.liveAt + entry] = 0;
    this.free.push(entry);
  }

  /**
   * The smallest Hamming distance from `query` to a sampled code, over the first `entries` entries
   * of the sample (a uniform sample of the items too, once the reservoir has drawn); Infinity when
   * there is none.
   */
  nearest(query: ArrayLike<number>, entries = this.slots.length): number {
    if (this.entryOf.size === 0) return Infinity;
    writeScanQuery(this.bytes, query, this.stride / 8, this.histogramAt);
    return this.scanOn(0, entries);
  }

  /**
   * How many of the `near` sampled codes nearest to `query` `matches` passes, over the sample
   * {@link fellShort} scans (one entry per {@link SAMPLE_SHARE} items): the share a filter has in the
   * query's neighbourhood (32 codes: the ~2,000 items nearest to it), which a filter correlated with
   * the vectors has far above or below its share of all the items. (The first look's one entry per
   * 512 items reaches ~16,000 items out, too far to tell: at 1M its 32 nearest spread over the
   * bench's quarters about as evenly as the items do.) 80 µs at 1M. `of`: the codes looked at (fewer
   * than `near` in a small sample), `slots` their items, nearest first: where a filtered walk starts.
   * `firstLook`: over the first look only (an eighth of the sample's codes, which the unfiltered walks
   * read for their start), for a filter of so many items that only a strong lean away from the query
   * could leave its neighbourhood short of it.
   */
  nearPassing(query: ArrayLike<number>, items: number, near: number, matches: (slot: number) => boolean, firstLook = false): { passing: number; of: number; slots: number[] } {
    if (this.entryOf.size === 0) return { passing: 0, of: 0, slots: [] };
    const entries = firstLook ? firstLookEntries(items) : sampleEntries(items);
    const slots = this.nearestEntries(query, entries, near).map((entry) => this.slots[entry]!);
    let passing = 0;
    for (const slot of slots) if (matches(slot)) passing++;
    return { passing, of: slots.length, slots };
  }

  /**
   * The `n` sampled items (slots) whose codes are nearest to `query`, over the sample's first look
   * ({@link fellShort}: one entry per {@link FIRST_LOOK_SHARE} of `items`, at least 1,024), which the
   * look has just read into the caches: where a walk that fell short starts again.
   */
  nearestSlots(query: ArrayLike<number>, items: number, n: number): number[] {
    return this.start(query, items, n).slots;
  }

  /**
   * Where an unfiltered walk starts: the `n` sampled items (slots) nearest to `query` over the first
   * look of {@link fellShort}, nearest first, and the nearest one's distance (Infinity for an empty
   * sample), which {@link fellShort} takes as its first look after the walk.
   */
  start(query: ArrayLike<number>, items: number, n: number): { slots: number[]; nearest: number } {
    if (this.entryOf.size === 0) return { slots: [], nearest: Infinity };
    const found = this.nearestFound(query, firstLookEntries(items), n);
    return { slots: found.map(({ slot: entry }) => this.slots[entry]!), nearest: found[0]?.hamming ?? Infinity };
  }

  /** The `n` live entries among the first `entries` (at most all of them) whose codes are nearest to `query`, nearest first. */
  private nearestEntries(query: ArrayLike<number>, entries: number, n: number): number[] {
    return this.nearestFound(query, entries, n).map(({ slot: entry }) => entry);
  }

  /** {@link nearestEntries} with their distances (`slot`: the entry). */
  private nearestFound(query: ArrayLike<number>, entries: number, n: number): { slot: number; hamming: number }[] {
    writeScanQuery(this.bytes, query, this.stride / 8, this.histogramAt);
    const at = { histogramAt: this.histogramAt, distancesAt: this.distancesAt, foundAt: this.foundAt, codesAt: this.codesAt, liveAt: this.liveAt };
    const count = Math.min(entries, this.slots.length);
    return nearestInRange(this.kernel, at, this.stride / 8, this.stride * 8, n, count, undefined, this.nativeNearest);
  }

  /** Scans entries `from…to-1` against the query last written, adding to its histogram: the nearest distance of every entry scanned since. */
  private scanOn(from: number, to: number): number {
    const bits = this.stride * 8;
    this.kernel.scanRange(0, this.codesAt, from, Math.min(to, this.slots.length), this.liveAt, this.distancesAt, this.histogramAt);
    const histogram = new Uint32Array(this.kernel.memory.buffer, this.histogramAt, bits + 1);
    for (let distance = 0; distance <= bits; distance++) if (histogram[distance]! > 0) return distance;
    return Infinity;
  }

  /**
   * Whether the sample holds a code nearer to `query` than `walked`, the nearest distance a graph
   * walk over `items` items found. It looks at one entry per {@link SAMPLE_SHARE} items (at least
   * 1,024): the same share of the items, so the same chance of a code from the query's
   * neighbourhood, at any size, for a cost that grows with the full scans it stands beside. It
   * looks in two steps: one entry per {@link FIRST_LOOK_SHARE} items first (at least 1,024), and
   * the rest only when that look's nearest code comes within {@link FIRST_LOOK_MARGIN} bits of the
   * walk's nearest (up to 65,536 items the first look is the whole of it). `firstLook`: that look's
   * nearest distance where {@link start} took it for the walk (not looked at again).
   */
  fellShort(query: ArrayLike<number>, walked: number, items: number, firstLook?: number): boolean {
    const first = firstLookEntries(items);
    const all = sampleEntries(items);
    const near = firstLook ?? this.nearest(query, first);
    if (near < walked) return true;
    if (all <= first || near >= walked + FIRST_LOOK_MARGIN) return false;
    // The query written again and its histogram emptied: other scans of the sample may have come between.
    if (firstLook !== undefined) writeScanQuery(this.bytes, query, this.stride / 8, this.histogramAt);
    return this.scanOn(first, all) < walked;
  }
}

