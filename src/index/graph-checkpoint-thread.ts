import { parentPort, workerData } from 'node:worker_threads';
import { CheckpointState, writeGraphCheckpoint, type CheckpointJob } from './graph-checkpoint.js';

/**
 * The worker thread of {@link runGraphCheckpoint}: brings the index's saved graph up to date on its
 * own copy and saves it, so the serving thread never serializes or fsyncs the graph.
 */
const { job, state } = workerData as { job: CheckpointJob; state: SharedArrayBuffer };
const flag = new Int32Array(state);
try {
  // Files are written only if the owner has not called the checkpoint off meanwhile.
  const result = writeGraphCheckpoint(job, () => Atomics.compareExchange(flag, 0, CheckpointState.Working, CheckpointState.Writing) === CheckpointState.Working);
  parentPort!.postMessage(result ? { type: 'done', ...result } : { type: 'abandoned' });
} catch (error) {
  parentPort!.postMessage({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
} finally {
  if (Atomics.load(flag, 0) !== CheckpointState.Abandoned) Atomics.store(flag, 0, CheckpointState.Done);
  Atomics.notify(flag, 0);
}
