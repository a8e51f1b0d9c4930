import { rng } from '../util/random.js';
import { Adam, anchor, backward, contrastive, forward, ProjectionHead } from './projection-head.js';

/** What an alignment head is trained on: the items' frozen base embeddings and the user's graph. */
export interface AlignmentData {
  readonly dimension: number;
  /** N × d base embeddings of the catalog's items (unit length). */
  readonly vectors: Float32Array;
  readonly count: number;
  /** Items that have both an image and a text: their index and the base embedding of the text (m × d). */
  readonly texts?: { readonly items: Int32Array; readonly vectors: Float32Array } | undefined;
  /** Boards (outfits, wish lists…): the item indexes of each. */
  readonly boards: readonly Int32Array[];
  /** Explicit pairs of item indexes, with a weight each. */
  readonly pairs?: { readonly a: Int32Array; readonly b: Int32Array; readonly weight: Float32Array } | undefined;
}

export interface AlignmentOptions {
  /** Rank of the head's low-rank update. @defaultValue 64 */
  readonly rank: number;
  /** Most training steps. @defaultValue 800 */
  readonly steps: number;
  /** Pairs per step (in-batch negatives). @defaultValue 256 */
  readonly batch: number;
  /** @defaultValue 0.005 */
  readonly learningRate: number;
  /** Softmax temperature of the contrastive terms. @defaultValue 0.1 */
  readonly temperature: number;
  /** Share of each board's memberships held out for validation (boards of 3 or more). @defaultValue 0.15 */
  readonly holdout: number;
  /** Weight of the image–text term (items with both). @defaultValue 2 */
  readonly textWeight: number;
  /** Weight of the term that keeps outputs near their inputs; by default 1 without texts, 0.25 with. */
  readonly anchorWeight?: number | undefined;
  /** Validation every this many steps; training stops after `patience` validations without gain. @defaultValue 40, 3 */
  readonly evaluateEvery: number;
  readonly patience: number;
  /** Validation queries and gallery size (a sample of the catalog beyond that). @defaultValue 500, 10000 */
  readonly maxQueries: number;
  readonly maxGallery: number;
  readonly seed: number;
}

export const DEFAULT_ALIGNMENT_OPTIONS: AlignmentOptions = {
  rank: 64,
  steps: 800,
  batch: 256,
  learningRate: 0.005,
  temperature: 0.1,
  holdout: 0.15,
  textWeight: 2,
  evaluateEvery: 40,
  patience: 3,
  maxQueries: 500,
  maxGallery: 10_000,
  seed: 0,
};

export interface AlignmentProgress {
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly validation?: number | undefined;
}

/** Held-out figures of a head against the base embeddings (the identity). */
export interface AlignmentMetrics {
  /** Held-out memberships: query the item, the share of its board-mates in the top 10. */
  readonly neighbor_recall_at_10: { readonly before: number; readonly after: number };
  /** Held-out items with a text: is the item's image among the top 5 for its text? Null without texts. */
  readonly text_to_image_recall_at_5: { readonly before: number; readonly after: number } | null;
  readonly validation_queries: number;
  readonly text_queries: number;
  readonly gallery: number;
  readonly steps: number;
  readonly best_step: number;
  readonly stopped_early: boolean;
  readonly training_memberships: number;
  readonly held_out_memberships: number;
}

function shuffle<T>(values: T[], random: () => number): T[] {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
}

function rows(source: Float32Array, d: number, indexes: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indexes.length * d);
  for (let i = 0; i < indexes.length; i++) out.set(source.subarray(indexes[i]! * d, (indexes[i]! + 1) * d), i * d);
  return out;
}

/** Indexes of the `k` largest values (descending). */
function topK(scores: Float32Array, k: number, skip: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    if (i === skip) continue;
    if (best.length < k) {
      best.push(i);
      best.sort((a, b) => scores[b]! - scores[a]!);
    } else if (scores[i]! > scores[best[k - 1]!]!) {
      best[k - 1] = i;
      best.sort((a, b) => scores[b]! - scores[a]!);
    }
  }
  return best;
}

function similarities(query: Float32Array, gallery: Float32Array, d: number, out: Float32Array): Float32Array {
  for (let g = 0; g < out.length; g++) {
    let dot = 0;
    for (let k = 0; k < d; k++) dot += query[k]! * gallery[g * d + k]!;
    out[g] = dot;
  }
  return out;
}

/**
 * Trains a {@link ProjectionHead} on a catalog's graph: an in-batch contrastive loss over neighbor
 * pairs (two members of a board, or an explicit pair; pairs of one board are not each other's
 * negatives), plus an image–text contrastive term over
 * the items that have both (so text queries, which go through the same head, still find images)
 * and a term that keeps outputs near the base embeddings. A share of each board's memberships is
 * held out: those items take part in no training pair, and the share of their board-mates found in
 * their top 10 is the validation figure training stops early on; the best head is returned.
 * Deterministic for a seed. Pure computation: run it off the event loop (alignment-thread.ts).
 */
export function trainAlignment(data: AlignmentData, options: AlignmentOptions = DEFAULT_ALIGNMENT_OPTIONS, onProgress?: (progress: AlignmentProgress) => void) {
  const d = data.dimension;
  const random = rng(options.seed + 1);

  // Hold out memberships; the held-out items are left out of every training pair.
  const trainingBoards: Int32Array[] = [];
  const heldOut: { item: number; board: number }[] = [];
  const heldOutItems = new Set<number>();
  data.boards.forEach((board, b) => {
    const members = shuffle([...new Set(board)], random);
    const held = members.length >= 3 ? Math.min(members.length - 2, Math.max(1, Math.round(members.length * options.holdout))) : 0;
    for (const item of members.slice(0, held)) {
      heldOut.push({ item, board: b });
      heldOutItems.add(item);
    }
  });
  data.boards.forEach((board) => {
    const kept = [...new Set(board)].filter((item) => !heldOutItems.has(item));
    if (kept.length >= 2) trainingBoards.push(Int32Array.from(kept));
  });
  const pairIndexes: number[] = [];
  const pairs = data.pairs;
  if (pairs) for (let i = 0; i < pairs.a.length; i++) if (!heldOutItems.has(pairs.a[i]!) && !heldOutItems.has(pairs.b[i]!) && pairs.a[i] !== pairs.b[i]) pairIndexes.push(i);
  if (trainingBoards.length === 0 && pairIndexes.length === 0) throw new Error('the graph has no pair of catalog items to learn from');

  // Sampling: a board (weighted by size) or an explicit pair (weighted by its weight), half and half when both exist.
  const boardCumulative = Float64Array.from(trainingBoards.map((board) => board.length));
  for (let i = 1; i < boardCumulative.length; i++) boardCumulative[i]! += boardCumulative[i - 1]!;
  const pairCumulative = Float64Array.from(pairIndexes.map((i) => Math.max(pairs!.weight[i]!, 0)));
  for (let i = 1; i < pairCumulative.length; i++) pairCumulative[i]! += pairCumulative[i - 1]!;
  const pick = (cumulative: Float64Array) => {
    const target = random() * cumulative[cumulative.length - 1]!;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  /** A positive pair, and the board it comes from (-1 for an explicit pair). */
  const samplePair = (): [number, number, number] => {
    const useBoard = pairIndexes.length === 0 || (trainingBoards.length > 0 && random() < 0.5);
    if (useBoard) {
      const b = pick(boardCumulative);
      const board = trainingBoards[b]!;
      const i = Math.floor(random() * board.length);
      let j = Math.floor(random() * (board.length - 1));
      if (j >= i) j += 1;
      return [board[i]!, board[j]!, b];
    }
    const p = pairIndexes[pick(pairCumulative)]!;
    return [pairs!.a[p]!, pairs!.b[p]!, -1];
  };

  // Text items: a held-out share (at most maxQueries) measures text→image; the rest trains.
  const textOrder = data.texts ? shuffle(Array.from({ length: data.texts.items.length }, (_, i) => i), random) : [];
  const textQueries = textOrder.slice(0, Math.min(options.maxQueries, Math.floor(textOrder.length * 0.2)));
  const textTraining = textOrder.slice(textQueries.length).filter((t) => !heldOutItems.has(data.texts!.items[t]!));
  const anchorWeight = options.anchorWeight ?? (textTraining.length > 0 ? 0.25 : 1);

  // The validation gallery: the queries, their board-mates and a sample of the rest of the catalog.
  const queries = shuffle([...heldOut], random).slice(0, options.maxQueries);
  const galleryItems = new Set<number>();
  for (const { item, board } of queries) {
    galleryItems.add(item);
    for (const mate of data.boards[board]!) galleryItems.add(mate);
  }
  for (const t of textQueries) galleryItems.add(data.texts!.items[t]!);
  const others = shuffle(Array.from({ length: data.count }, (_, i) => i), random);
  for (const item of others) {
    if (galleryItems.size >= options.maxGallery) break;
    galleryItems.add(item);
  }
  const gallery = Int32Array.from(galleryItems);
  const position = new Map<number, number>();
  gallery.forEach((item, g) => position.set(item, g));
  const galleryBase = rows(data.vectors, d, gallery);
  const textQueryVectors = textQueries.length > 0 ? rows(data.texts!.vectors, d, textQueries) : new Float32Array(0);

  const evaluate = (head: ProjectionHead | undefined) => {
    const projected = head ? head.projectMany(galleryBase, gallery.length) : galleryBase;
    const scores = new Float32Array(gallery.length);
    let neighbor = 0;
    for (const { item, board } of queries) {
      const g = position.get(item)!;
      similarities(projected.subarray(g * d, (g + 1) * d), projected, d, scores);
      const mates = new Set([...data.boards[board]!].filter((mate) => mate !== item).map((mate) => position.get(mate)!));
      const top = topK(scores, 10, g);
      neighbor += top.filter((hit) => mates.has(hit)).length / Math.min(10, mates.size);
    }
    let textHits = 0;
    const textVectors = head && textQueries.length > 0 ? head.projectMany(textQueryVectors, textQueries.length) : textQueryVectors;
    textQueries.forEach((t, q) => {
      similarities(textVectors.subarray(q * d, (q + 1) * d), projected, d, scores);
      if (topK(scores, 5, -1).includes(position.get(data.texts!.items[t]!)!)) textHits += 1;
    });
    return { neighbor: queries.length > 0 ? neighbor / queries.length : 0, text: textQueries.length > 0 ? textHits / textQueries.length : null };
  };

  const before = evaluate(undefined);
  const head = ProjectionHead.initial(d, options.rank, random);
  const optimizer = new Adam([head.a, head.b], options.learningRate);
  let best = { score: before.neighbor, step: 0, a: head.a.slice(), b: head.b.slice() };
  let stale = 0;
  let step = 0;
  let stoppedEarly = false;
  while (step < options.steps) {
    step += 1;
    const gradA = new Float32Array(head.a.length);
    const gradB = new Float32Array(head.b.length);
    // Neighbor pairs, without an item twice in the batch (it would be its own negative).
    // Two pairs of one board are not each other's negatives (masked in the loss).
    const left: number[] = [];
    const right: number[] = [];
    const groups: number[] = [];
    const used = new Set<number>();
    for (let tries = 0; left.length < options.batch && tries < options.batch * 4; tries++) {
      const [a, b, group] = samplePair();
      if (used.has(a) || used.has(b)) continue;
      used.add(a);
      used.add(b);
      left.push(a);
      right.push(b);
      groups.push(group);
    }
    const n = left.length;
    const xa = rows(data.vectors, d, left);
    const fa = forward(head, xa, n);
    const fb = forward(head, rows(data.vectors, d, right), n);
    const pair = contrastive(fa.z, fb.z, n, d, options.temperature, undefined, Int32Array.from(groups));
    const near = anchor(fa.z, xa, n, d);
    let loss = pair.loss + anchorWeight * near.loss;
    backward(head, fa, pair.dza.map((g, i) => g + anchorWeight * near.dz[i]!), gradA, gradB);
    backward(head, fb, pair.dzb, gradA, gradB);
    if (textTraining.length > 0 && options.textWeight > 0) {
      const chosen = shuffle([...textTraining], random).slice(0, options.batch);
      const ti = forward(head, rows(data.vectors, d, chosen.map((t) => data.texts!.items[t]!)), chosen.length);
      const tt = forward(head, rows(data.texts!.vectors, d, chosen), chosen.length);
      const agreement = contrastive(ti.z, tt.z, chosen.length, d, options.temperature);
      loss += options.textWeight * agreement.loss;
      backward(head, ti, agreement.dza.map((g) => g * options.textWeight), gradA, gradB);
      backward(head, tt, agreement.dzb.map((g) => g * options.textWeight), gradA, gradB);
    }
    optimizer.apply([gradA, gradB]);
    let validation: number | undefined;
    if (step % options.evaluateEvery === 0 || step === options.steps) {
      validation = evaluate(head).neighbor;
      if (validation > best.score + 1e-4) {
        best = { score: validation, step, a: head.a.slice(), b: head.b.slice() };
        stale = 0;
      } else if (++stale >= options.patience) {
        stoppedEarly = step < options.steps;
      }
    }
    onProgress?.({ step, steps: options.steps, loss, validation });
    if (stoppedEarly) break;
  }
  const trained = new ProjectionHead(d, options.rank, best.a, best.b);
  const after = evaluate(trained);
  const metrics: AlignmentMetrics = {
    neighbor_recall_at_10: { before: before.neighbor, after: after.neighbor },
    text_to_image_recall_at_5: before.text === null ? null : { before: before.text, after: after.text! },
    validation_queries: queries.length,
    text_queries: textQueries.length,
    gallery: gallery.length,
    steps: step,
    best_step: best.step,
    stopped_early: stoppedEarly,
    training_memberships: trainingBoards.reduce((sum, board) => sum + board.length, 0),
    held_out_memberships: heldOut.length,
  };
  return { head: trained, metrics };
}
