import { OverloadedError } from '../errors.js';

export interface MicroBatcherOptions<I, O> {
  /** Most inputs in one run. @defaultValue 32 */
  maxBatchSize: number;
  /** Longest time an input waits for others to share its run. @defaultValue 50 */
  maxWaitMs: number;
  /** Inputs allowed to wait; past that, {@link MicroBatcher.submit} throws an {@link OverloadedError}. */
  maxQueue: number;
  /** Runs one batch; must return one output per input, in order. */
  run: (inputs: I[]) => Promise<O[]>;
  /** Called after each run with its size and duration. */
  onBatch?: ((size: number, milliseconds: number) => void) | undefined;
}

interface Waiting<I, O> {
  input: I;
  arrivedAt: number;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
}

/**
 * Coalesces concurrent single-input requests into batched runs of one encoder. One run is in
 * flight at a time: inputs that arrive while it runs form the next batch, so under load batches
 * fill up on their own. While the encoder is idle, a batch runs at once unless more inputs are
 * announced (still being decoded); then it waits for them, but no input waits longer than
 * `maxWaitMs` after it arrived, and a full batch runs at once.
 */
export class MicroBatcher<I, O> {
  private waiting: Waiting<I, O>[] = [];
  private running = false;
  private timer: { cancel(): void } | undefined;
  private lastRunMs = 10;
  /** Inputs announced (being decoded, say) but not yet submitted. */
  private announced = 0;
  private idleWaiters: Array<() => void> = [];
  /** Batches run so far (for metrics and tests). */
  runs = 0;

  constructor(private readonly options: MicroBatcherOptions<I, O>) {}

  /** Inputs waiting for a run (not counting the run in flight). */
  get queued(): number {
    return this.waiting.length;
  }

  /** Throws an {@link OverloadedError} unless `count` more inputs fit in the queue. */
  checkCapacity(count = 1): void {
    if (this.waiting.length + count > this.options.maxQueue) {
      const batchesAhead = Math.ceil(this.waiting.length / this.options.maxBatchSize) + 1;
      throw new OverloadedError(Math.max(1, Math.ceil((batchesAhead * this.lastRunMs) / 1000)));
    }
  }

  /**
   * Tells the batcher an input is on its way (e.g. an image being decoded), so a batch waits for
   * it (within `maxWaitMs`) instead of running without it. Pair with `submit(…, { announced: true })`
   * or {@link withdraw}.
   */
  announce(): void {
    this.announced += 1;
  }

  /** Withdraws an announced input that will not come (its decoding failed). */
  withdraw(): void {
    this.announced = Math.max(0, this.announced - 1);
    this.schedule();
  }

  submit(input: I, signal?: AbortSignal, options: { announced?: boolean } = {}): Promise<O> {
    if (options.announced) this.announced = Math.max(0, this.announced - 1);
    if (signal?.aborted) {
      this.schedule();
      return Promise.reject(signal.reason);
    }
    try {
      this.checkCapacity();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ input, arrivedAt: performance.now(), resolve, reject, signal });
      this.schedule();
    });
  }

  /** Resolves once nothing is waiting or running. */
  idle(): Promise<void> {
    if (!this.running && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Runs now when a full batch is waiting or nothing more is announced; otherwise waits for the
   * announced inputs until the oldest waiting one has waited `maxWaitMs`, so a burst that is
   * decoded over a few milliseconds still shares a run, and a lone request is not delayed.
   */
  private schedule(): void {
    if (this.running || this.waiting.length === 0) return;
    if (this.waiting.length >= this.options.maxBatchSize) {
      this.flush();
    } else if (this.announced === 0 || this.options.maxWaitMs === 0) {
      // Next turn of the event loop: inputs submitted in the same tick (one request's texts) share the run.
      this.timer?.cancel();
      const immediate = setImmediate(() => this.flush());
      this.timer = { cancel: () => clearImmediate(immediate) };
    } else if (this.timer === undefined) {
      const waited = performance.now() - this.waiting[0]!.arrivedAt;
      const timeout = setTimeout(() => this.flush(), Math.max(0, this.options.maxWaitMs - waited));
      this.timer = { cancel: () => clearTimeout(timeout) };
    }
  }

  private flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.running || this.waiting.length === 0) return;
    // Inputs whose request gave up (timeout, client gone) are dropped before they cost a run.
    const batch: Waiting<I, O>[] = [];
    while (batch.length < this.options.maxBatchSize && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      if (next.signal?.aborted) next.reject(next.signal.reason);
      else batch.push(next);
    }
    if (batch.length === 0) {
      this.notifyIdle();
      return;
    }
    this.running = true;
    this.runs += 1;
    const started = performance.now();
    this.options
      .run(batch.map((waiting) => waiting.input))
      .then(
        (outputs) => {
          if (outputs.length !== batch.length) {
            throw new Error(`encoder returned ${outputs.length} outputs for ${batch.length} inputs`);
          }
          batch.forEach((waiting, i) => waiting.resolve(outputs[i]!));
        },
      )
      .catch((error: unknown) => batch.forEach((waiting) => waiting.reject(error)))
      .finally(() => {
        this.lastRunMs = performance.now() - started;
        this.options.onBatch?.(batch.length, this.lastRunMs);
        this.running = false;
        // What arrived during the run has already waited that long; schedule() counts it.
        if (this.waiting.length > 0) this.schedule();
        else this.notifyIdle();
      });
  }

  private notifyIdle(): void {
    if (this.running || this.waiting.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}
