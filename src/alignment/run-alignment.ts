import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ProjectionHead } from './projection-head.js';
import type { AlignmentData, AlignmentMetrics, AlignmentOptions, AlignmentProgress } from './trainer.js';

/**
 * The thread's module beside this one; when this module runs from TypeScript sources (the tests),
 * the compiled one under dist/ (Node's worker threads load JavaScript only).
 */
function threadModule(): string {
  const here = fileURLToPath(new URL('./alignment-thread.js', import.meta.url));
  if (existsSync(here)) return here;
  const compiled = here.replace(/([\\/])src([\\/])alignment([\\/])/, '$1dist$1src$2alignment$3');
  if (existsSync(compiled)) return compiled;
  throw new Error(`the alignment thread's module is missing (${here}); build with \`npm run build\``);
}

/** Trains an alignment head in a worker thread; `signal` stops it. */
export function runAlignment(
  data: AlignmentData,
  options: AlignmentOptions,
  onProgress: (progress: AlignmentProgress) => void,
  signal?: AbortSignal,
): Promise<{ head: ProjectionHead; metrics: AlignmentMetrics }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(threadModule(), { workerData: { data, options } });
    const stop = () => {
      void worker.terminate();
      reject(signal?.reason instanceof Error ? signal.reason : new Error('alignment stopped'));
    };
    signal?.addEventListener('abort', stop, { once: true });
    worker.on('message', (message: { type: string; progress?: AlignmentProgress; a?: Float32Array; b?: Float32Array; rank?: number; metrics?: AlignmentMetrics; message?: string }) => {
      if (message.type === 'progress') onProgress(message.progress!);
      else if (message.type === 'done') {
        signal?.removeEventListener('abort', stop);
        resolve({ head: new ProjectionHead(data.dimension, message.rank!, message.a!, message.b!), metrics: message.metrics! });
        void worker.terminate();
      } else if (message.type === 'error') {
        signal?.removeEventListener('abort', stop);
        reject(new Error(message.message));
        void worker.terminate();
      }
    });
    worker.on('error', (error) => {
      signal?.removeEventListener('abort', stop);
      reject(error);
    });
  });
}
