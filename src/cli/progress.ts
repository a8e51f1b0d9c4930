import cliProgress from 'cli-progress';
import type { ApiClient, JobView } from './api-client.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/**
 * Follows a job until it ends: a progress bar on a terminal (items indexed of those taken in,
 * failures, items/s, ETA), a line every two seconds otherwise. Resolves with the job's last state.
 */
export async function followJob(api: ApiClient, id: string, options: { label?: string; uploaded?: () => { sent: number; total: number | undefined } } = {}): Promise<JobView> {
  const tty = Boolean(process.stderr.isTTY);
  const bars = tty
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
      const job = await api.job(id);
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
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    bars?.stop();
  }
}

/** Prints a job's outcome and its first failures; returns the process exit code. */
export async function report(api: ApiClient, job: JobView): Promise<number> {
  const { done, failed, total } = job.progress;
  process.stdout.write(`job ${job.id} ${job.state}: ${done} done, ${failed} failed of ${total}${job.error ? ` — ${job.error.code}: ${job.error.message}` : ''}\n`);
  if (failed > 0) {
    const page = await api.request<{ data: { id: string; code: string; message: string }[] }>('GET', `/v1/jobs/${job.id}/failures?limit=10`);
    for (const failure of page.data) process.stdout.write(`  ${failure.id}: ${failure.code} — ${failure.message}\n`);
    if (failed > page.data.length) process.stdout.write(`  … ${failed - page.data.length} more: GET /v1/jobs/${job.id}/failures\n`);
  }
  return job.state === 'completed' ? 0 : 1;
}
