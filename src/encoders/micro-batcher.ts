import { OverloadedError } from '../errors.js';

export interface MicroBatcherOptions<I, O> {
  /** Most inputs in one run. @defaultValue 32 */
  maxBatchSize: number;
  /** Longest time the first input of a batch waits for company while the encoder is idle. @defaultValue 5 */
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
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
}

/**
 * Coalesces concurrent single-input requests into batched runs of one encoder. One run is in
 * flight at a time: inputs that arrive while it runs form the next batch, so under load batches
 * fill up on their own; when idle, the first input waits at most `maxWaitMs` for others.
 */
export class MicroBatcher<I, O> {
  private waiting: Waiting<I, O>[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRunMs = 10;
  private idleWaiters: Array<() => void> = [];
  /** Batches run so far (for metrics and tests). */
  runs = 0;

  constructor(private readonly options: MicroBatcherOptions<I, O>) {}

  /** Inputs waiting for a run (not counting the run in flight). */
  get queued(): number {
    return this.waiting.length;
  }

  submit(input: I, signal?: AbortSignal): Promise<O> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.waiting.length >= this.options.maxQueue) {
      const batchesAhead = Math.ceil(this.waiting.length / this.options.maxBatchSize) + 1;
      return Promise.reject(new OverloadedError(Math.max(1, Math.ceil((batchesAhead * this.lastRunMs) / 1000))));
    }
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject, signal });
      this.schedule();
    });
  }

  /** Resolves once nothing is waiting or running. */
  idle(): Promise<void> {
    if (!this.running && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running) return;
    if (this.waiting.length >= this.options.maxBatchSize || this.options.maxWaitMs === 0) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.options.maxWaitMs);
    }
  }

  private flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running) return;
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
        // What arrived during the run has already waited: run it now rather than start a new timer.
        if (this.waiting.length > 0) this.flush();
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
