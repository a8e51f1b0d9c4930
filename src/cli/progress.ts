import cliProgress from 'cli-progress';
import { ApiError, type ApiClient, type JobView } from './api-client.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** Options of {@link withRetries}. */
export interface RetryOptions {
  /**
   * Tries in all, the first included.
   * @defaultValue 6
   */
  readonly tries?: number;
  /**
   * Wait before the second try, doubled before each next one (at most 8 s) unless the answer named its own.
   * @defaultValue 500
   */
  readonly firstDelayMs?: number;
  /** Which failures are worth another try. @defaultValue {@link isTransient} */
  readonly retryable?: (error: unknown) => boolean;
  /** Stops the waiting between tries: the last failure is thrown at once. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A failure that may pass on its own: a 429 (rate limited, overloaded), a 5xx, a server that did
 * not answer, or an answer that was not JSON (a proxy's error page in front of the server).
 */
export function isTransient(error: unknown): boolean {
  // Status 0 is no answer: a server down or slow may come back; a TLS or key problem will not.
  if (error instanceof ApiError) return error.status === 0 ? error.code === 'unreachable' || error.code === 'timeout' : error.status === 429 || error.status >= 500;
  return error instanceof SyntaxError;
}

/** The wait an error asks for, when the client kept its `Retry-After` (seconds). */
function retryAfterMs(error: unknown): number | undefined {
  const seconds = (error as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 60) * 1000 : undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Runs `call`, trying again after a growing wait while it fails with a transient error. */
export async function withRetries<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { tries = 6, firstDelayMs = 500, retryable = isTransient, signal } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= tries || !retryable(error) || signal?.aborted) throw error;
      await sleep(retryAfterMs(error) ?? Math.min(firstDelayMs * 2 ** (attempt - 1), 8_000), signal);
      if (signal?.aborted) throw error;
    }
  }
}

/** Options of {@link followJob}. */
export interface FollowOptions {
  /** The bar's label. @defaultValue `indexed` */
  readonly label?: string;
  /** What has been uploaded so far, shown as a second bar. */
  readonly uploaded?: () => { sent: number; total: number | undefined };
  /**
   * Ends the following (the bars are stopped, the promise rejects with the signal's reason). Without
   * it, Ctrl-C stops the bars, so the terminal gets its cursor back, and exits 130.
   */
  readonly signal?: AbortSignal;
}

/**
 * Follows a job until it ends: a progress bar on a terminal (items indexed of those taken in,
 * failures, items/s, ETA), a line every two seconds otherwise. Polls that fail with a transient
 * error are tried again. Resolves with the job's last state.
 */
export async function followJob(api: ApiClient, id: string, options: FollowOptions = {}): Promise<JobView> {
  const tty = Boolean(process.stderr.isTTY);
  // The bars hide the cursor and turn off line wrap: whatever ends the following gives them back.
  let bars: cliProgress.MultiBar | undefined;
  const stopBars = () => bars?.stop();
  const interrupted = () => {
    stopBars();
    process.exit(130);
  };
  const { signal } = options;
  signal?.addEventListener('abort', stopBars, { once: true });
  // Listening before the cursor is hidden: a Ctrl-C in between would leave it hidden.
  if (tty && !signal) process.once('SIGINT', interrupted);
  bars = tty
    ? new cliProgress.MultiBar(
        { stream: process.stderr, hideCursor: true, clearOnComplete: false, format: '{label} [{bar}] {value}/{total} {extra}' },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const upload = bars && options.uploaded ? bars.create(1, 0, { label: 'uploaded', extra: '' }) : undefined;
  const indexed = bars?.create(1, 0, { label: (options.label ?? 'indexed').padEnd(8), extra: '' });
  let lastLine = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const job = await withRetries(() => api.job(id), { signal });
      signal?.throwIfAborted();
      const processed = job.progress.done + job.progress.failed;
      const rate = `${job.items_per_second} items/s`;
      const eta = job.eta_seconds === null ? '' : ` eta ${job.eta_seconds}s`;
      const extra = `${job.progress.failed} failed, ${rate}${eta} (${job.state})`;
      if (bars) {
        const sent = options.uploaded?.();
        if (upload && sent) {
          upload.setTotal(Math.max(sent.total ?? sent.sent, 1));
          upload.update(sent.sent, { label: 'uploaded', extra: '' });
        }
        indexed!.setTotal(Math.max(job.progress.total, 1));
        indexed!.update(processed, { label: (options.label ?? 'indexed').padEnd(8), extra });
      } else if (Date.now() - lastLine >= 2_000 || TERMINAL.has(job.state)) {
        lastLine = Date.now();
        process.stderr.write(`${options.label ?? 'indexed'} ${processed}/${job.progress.total}, ${extra}\n`);
      }
      if (TERMINAL.has(job.state)) return job;
      await sleep(500, signal);
    }
  } finally {
    process.removeListener('SIGINT', interrupted);
    signal?.removeEventListener('abort', stopBars);
    stopBars();
  }
}

/** Manifest lines that were not sent because they are not JSON. */
export interface UnsentLines {
  count: number;
  /** The first few, as `line N: not JSON: <reason>`. */
  readonly first: string[];
}

/** Options of {@link report}. */
export interface ReportOptions {
  /** Manifest lines the CLI did not send (not JSON): listed with the failures and counted as failed. */
  readonly unsent?: UnsentLines;
}

/**
 * Prints a job's outcome and its first failures; returns the process exit code: 1 when the job did
 * not complete, or completed with failures and nothing done; 0 otherwise (some failures in a big
 * catalog are normal).
 */
export async function report(api: ApiClient, job: JobView, options: ReportOptions = {}): Promise<number> {
  const { done, failed, total } = job.progress;
  const unsent = options.unsent ?? { count: 0, first: [] };
  const notSent = unsent.count > 0 ? `, ${unsent.count} manifest line${unsent.count === 1 ? '' : 's'} not JSON (not sent)` : '';
  process.stdout.write(`job ${job.id} ${job.state}: ${done} done, ${failed} failed of ${total}${notSent}${job.error ? ` — ${job.error.code}: ${job.error.message}` : ''}\n`);
  for (const line of unsent.first) process.stdout.write(`  ${line}\n`);
  if (unsent.count > unsent.first.length) process.stdout.write(`  … ${unsent.count - unsent.first.length} more lines not JSON\n`);
  if (failed > 0) {
    const page = await withRetries(() => api.request<{ data: { id: string; code: string; message: string }[] }>('GET', `/v1/jobs/${job.id}/failures?limit=10`));
    for (const failure of page.data) process.stdout.write(`  ${failure.id}: ${failure.code} — ${failure.message}\n`);
    if (failed > page.data.length) process.stdout.write(`  … ${failed - page.data.length} more: GET /v1/jobs/${job.id}/failures\n`);
  }
  if (job.state !== 'completed') return 1;
  return done === 0 && failed + unsent.count > 0 ? 1 : 0;
}
