/**
 * The neighbor-alignment head (PinCLIP's neighbor alignment, learnt on a user's item graph on top
 * of frozen base embeddings): a residual low-rank map,
 *
 *     z = normalize(x + (x·A)·Bᵀ),      A, B: d × r
 *
 * applied alike to image and text embeddings, catalog items and queries: a function of the
 * embedding alone. B starts at zero, so a new head is the identity (the base geometry) and
 * training moves only as far as the losses ask. Arrays are row-major Float32Array: a batch X is
 * n × d, A and B are d × r.
 *
 * The gradients are written out here (no autodiff library installs offline and loads in Node's
 * ESM: @tensorflow/tfjs-core's gradients are in extensionless ES modules); each is checked against
 * finite differences in projection-head.test.ts.
 */
export class ProjectionHead {
  constructor(
    readonly dimension: number,
    readonly rank: number,
    /** d × r. */
    readonly a: Float32Array,
    /** d × r. */
    readonly b: Float32Array,
  ) {
    if (a.length !== dimension * rank || b.length !== dimension * rank) throw new Error(`a head of ${dimension} × ${rank} needs ${dimension * rank} values per matrix`);
  }

  /** A head that is the identity: A small and random (seeded), B zero. */
  static initial(dimension: number, rank: number, random: () => number): ProjectionHead {
    const a = new Float32Array(dimension * rank);
    const scale = 1 / Math.sqrt(dimension);
    for (let i = 0; i < a.length; i++) a[i] = gaussian(random) * scale;
    return new ProjectionHead(dimension, rank, a, new Float32Array(dimension * rank));
  }

  /** One embedding through the head (normalized). */
  project(x: ArrayLike<number>): Float32Array {
    return forward(this, Float32Array.from(x), 1).z;
  }

  /** `n` embeddings (n × d) through the head. */
  projectMany(x: Float32Array, n: number): Float32Array {
    return forward(this, x, n).z;
  }
}

/** What the forward pass keeps for the backward pass. */
export interface HeadForward {
  readonly x: Float32Array;
  readonly n: number;
  /** x·A, n × r. */
  readonly h: Float32Array;
  /** ‖y‖ per row. */
  readonly norms: Float32Array;
  /** normalize(y), n × d. */
  readonly z: Float32Array;
}

export function forward(head: ProjectionHead, x: Float32Array, n: number): HeadForward {
  const { dimension: d, rank: r, a, b } = head;
  const h = new Float32Array(n * r);
  for (let i = 0; i < n; i++) {
    const row = i * r;
    for (let k = 0; k < d; k++) {
      const xv = x[i * d + k]!;
      if (xv === 0) continue;
      const ak = k * r;
      for (let j = 0; j < r; j++) h[row + j]! += xv * a[ak + j]!;
    }
  }
  const z = new Float32Array(n * d);
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let squares = 0;
    for (let k = 0; k < d; k++) {
      let y = x[i * d + k]!;
      const bk = k * r;
      for (let j = 0; j < r; j++) y += h[i * r + j]! * b[bk + j]!;
      z[i * d + k] = y;
      squares += y * y;
    }
    const norm = Math.sqrt(squares) || 1;
    norms[i] = norm;
    for (let k = 0; k < d; k++) z[i * d + k]! /= norm;
  }
  return { x, n, h, norms, z };
}

/** Adds the gradients of A and B for `dz` (∂loss/∂z, n × d) to `gradA` and `gradB`. */
export function backward(head: ProjectionHead, pass: HeadForward, dz: Float32Array, gradA: Float32Array, gradB: Float32Array): void {
  const { dimension: d, rank: r, b } = head;
  const { x, n, h, norms, z } = pass;
  const dy = new Float32Array(d);
  const dh = new Float32Array(r);
  for (let i = 0; i < n; i++) {
    // Through the normalization: ∂y = (∂z − z (z·∂z)) / ‖y‖.
    let along = 0;
    for (let k = 0; k < d; k++) along += z[i * d + k]! * dz[i * d + k]!;
    for (let k = 0; k < d; k++) dy[k] = (dz[i * d + k]! - z[i * d + k]! * along) / norms[i]!;
    // y = x + h·Bᵀ: ∂B += ∂yᵀ h, ∂h = ∂y B.
    dh.fill(0);
    for (let k = 0; k < d; k++) {
      const g = dy[k]!;
      const bk = k * r;
      for (let j = 0; j < r; j++) {
        gradB[bk + j]! += g * h[i * r + j]!;
        dh[j]! += g * b[bk + j]!;
      }
    }
    // h = x·A: ∂A += xᵀ ∂h.
    for (let k = 0; k < d; k++) {
      const xv = x[i * d + k]!;
      if (xv === 0) continue;
      const ak = k * r;
      for (let j = 0; j < r; j++) gradA[ak + j]! += xv * dh[j]!;
    }
  }
}

/**
 * CLIP's symmetric in-batch contrastive loss between rows of `za` and `zb` (n × d, row i of one
 * matches row i of the other, every other row is a negative), each row weighted: the mean of the
 * a→b and b→a cross-entropies of softmax(za·zbᵀ / τ). Rows of the same `group` (≥ 0: two pairs
 * from one board) are not each other's negatives: those logits are left out of the softmax.
 * Returns the loss and ∂loss/∂za, ∂loss/∂zb.
 */
export function contrastive(za: Float32Array, zb: Float32Array, n: number, d: number, temperature: number, weights?: Float32Array, groups?: Int32Array) {
  const masked = (i: number, j: number) => groups !== undefined && i !== j && groups[i]! >= 0 && groups[i] === groups[j];
  const logits = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += za[i * d + k]! * zb[j * d + k]!;
      logits[i * n + j] = dot / temperature;
    }
  }
  const total = weights ? weights.reduce((sum, w) => sum + w, 0) : n;
  // ∂loss/∂logits, from both directions.
  const dLogits = new Float64Array(n * n);
  let loss = 0;
  for (const direction of [0, 1] as const) {
    for (let i = 0; i < n; i++) {
      const at = (j: number) => (direction === 0 ? i * n + j : j * n + i);
      let max = -Infinity;
      for (let j = 0; j < n; j++) if (!masked(i, j)) max = Math.max(max, logits[at(j)]!);
      let sum = 0;
      for (let j = 0; j < n; j++) if (!masked(i, j)) sum += Math.exp(logits[at(j)]! - max);
      const w = (weights ? weights[i]! : 1) / total / 2;
      loss += w * -(logits[at(i)]! - max - Math.log(sum));
      for (let j = 0; j < n; j++) if (!masked(i, j)) dLogits[at(j)]! += w * (Math.exp(logits[at(j)]! - max) / sum - (i === j ? 1 : 0));
    }
  }
  const dza = new Float32Array(n * d);
  const dzb = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const g = dLogits[i * n + j]! / temperature;
      if (g === 0) continue;
      for (let k = 0; k < d; k++) {
        dza[i * d + k]! += g * zb[j * d + k]!;
        dzb[j * d + k]! += g * za[i * d + k]!;
      }
    }
  }
  return { loss, dza, dzb };
}

/** The mean squared distance of the head's outputs from its inputs: keeps it near the base geometry. */
export function anchor(z: Float32Array, x: Float32Array, n: number, d: number) {
  let loss = 0;
  const dz = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) {
    const diff = z[i]! - x[i]!;
    loss += (diff * diff) / n;
    dz[i] = (2 * diff) / n;
  }
  return { loss, dz };
}

/** Adam (Kingma & Ba) over flat parameter arrays. */
export class Adam {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private step = 0;

  constructor(
    private readonly parameters: Float32Array[],
    private readonly learningRate: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.m = parameters.map((p) => new Float32Array(p.length));
    this.v = parameters.map((p) => new Float32Array(p.length));
  }

  apply(gradients: Float32Array[]): void {
    this.step += 1;
    const correction1 = 1 - this.beta1 ** this.step;
    const correction2 = 1 - this.beta2 ** this.step;
    this.parameters.forEach((p, index) => {
      const g = gradients[index]!;
      const m = this.m[index]!;
      const v = this.v[index]!;
      for (let i = 0; i < p.length; i++) {
        m[i] = this.beta1 * m[i]! + (1 - this.beta1) * g[i]!;
        v[i] = this.beta2 * v[i]! + (1 - this.beta2) * g[i]! * g[i]!;
        p[i]! -= (this.learningRate * (m[i]! / correction1)) / (Math.sqrt(v[i]! / correction2) + this.epsilon);
      }
    });
  }
}

export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}
