import { parentPort, workerData } from 'node:worker_threads';
import { trainAlignment, type AlignmentData, type AlignmentOptions } from './trainer.js';

/** The training of an alignment head, in a worker thread: the owner's event loop keeps serving. */
if (parentPort) {
  const port = parentPort;
  const { data, options } = workerData as { data: AlignmentData; options: AlignmentOptions };
  try {
    const { head, metrics } = trainAlignment(data, options, (progress) => port.postMessage({ type: 'progress', progress }));
    port.postMessage({ type: 'done', a: head.a, b: head.b, rank: head.rank, metrics });
  } catch (error) {
    port.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
}
