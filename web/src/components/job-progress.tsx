import { useEffect, useState } from 'preact/hooks';
import { call, followEvents, isAbort } from '../api';
import type { Job } from '../types';
import { ErrorBox } from './error-box';

/**
 * A job's live progress. The event stream is opened when this is on screen (mounted) and closed
 * when it leaves; a job that has ended needs no stream.
 */
export function JobProgress({ jobId, onEnd }: { jobId: string; onEnd?: (job: Job) => void }) {
  const [job, setJob] = useState<Job>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    const abort = new AbortController();
    const ended = (state: Job['state']) => state === 'completed' || state === 'failed' || state === 'cancelled';
    (async () => {
      const first = await call<Job>(`/v1/jobs/${encodeURIComponent(jobId)}`, { signal: abort.signal });
      setJob(first);
      if (ended(first.state)) return onEnd?.(first);
      await followEvents(
        `/v1/jobs/${encodeURIComponent(jobId)}/events`,
        (event, data) => {
          const next = JSON.parse(data) as Job;
          setJob(next);
          if (event === 'end') onEnd?.(next);
        },
        abort.signal,
      );
    })().catch((failure) => {
      if (!isAbort(failure)) setError(failure);
    });
    return () => abort.abort();
  }, [jobId]);

  if (error) return <ErrorBox error={error} />;
  if (!job) return <p class="muted">Job {jobId}…</p>;
  const { total, done, failed } = job.progress;
  return (
    <div class="job" aria-live="polite">
      <div>
        <strong>Job {job.id}</strong> · {job.state} · {done + failed} of {total} items{failed > 0 ? ` (${failed} failed)` : ''}
        {job.items_per_second > 0 && ` · ${job.items_per_second} items/s`}
        {job.eta_seconds ? ` · about ${job.eta_seconds} s left` : ''}
      </div>
      <progress max={Math.max(total, 1)} value={done + failed} aria-label={`Job ${job.id} progress`} />
      {job.error && <span class="error-message">{job.error.message}</span>}
    </div>
  );
}
