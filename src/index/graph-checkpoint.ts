import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BinaryHnsw, type HnswSettings } from './binary-hnsw.js';
import { Catalog } from './catalog.js';
import { VectorFile, type VectorStorage } from './vector-file.js';

export const GRAPH_FILE = 'graph.usearch';
export const GRAPH_STATE = 'graph.json';

/** What a checkpoint needs to know about an index: where it is and how its graph is built. */
export interface CheckpointJob {
  readonly dir: string;
  readonly dimension: number;
  readonly storage: VectorStorage;
  readonly settings: HnswSettings;
}

/** The saved graph's state: the catalog sequence number it reflects and its size. */
export interface GraphState {
  readonly seq: number;
  readonly size: number;
}

/** Replaces `graph.json` atomically (temporary file, fsync, rename). */
export function writeGraphState(dir: string, state: GraphState): void {
  const temporary = join(dir, `${GRAPH_STATE}.tmp`);
  writeFileSync(temporary, JSON.stringify(state));
  const fd = openSync(temporary, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, join(dir, GRAPH_STATE));
}

export function readGraphState(dir: string): GraphState {
  return JSON.parse(readFileSync(join(dir, GRAPH_STATE), 'utf8')) as GraphState;
}

/**
 * Brings the saved graph up to the catalog as it is now, on a copy of its own: loads the saved
 * graph, replays the catalog's later changes (reading their vectors from the vector file), saves
 * it atomically with its new state, and copies the catalog's write-ahead log into its database.
 * Without a usable saved graph it builds one from the live items. Runs on its own connections and
 * descriptors, so a worker thread can do it while the owner serves and writes.
 */
export function writeGraphCheckpoint(job: CheckpointJob, mayWrite: () => boolean = () => true): (GraphState & { replayed: number }) | undefined {
  const catalog = new Catalog(join(job.dir, 'catalog.sqlite'));
  const vectors = new VectorFile(join(job.dir, `vectors.${job.storage}`), job.dimension, job.storage);
  const graph = new BinaryHnsw(job.dimension, job.settings);
  try {
    let since: number | undefined;
    try {
      const state = readGraphState(job.dir);
      graph.load(join(job.dir, GRAPH_FILE));
      if (graph.size === state.size) since = state.seq;
    } catch {
      // No saved graph yet, or an unreadable one: build from the live items below.
    }
    if (since === undefined) graph.clear();
    const snapshot = catalog.snapshot(since ?? 0, since === undefined);
    const scratch = new Float32Array(job.dimension);
    let replayed = 0;
    if (since === undefined) {
      for (let i = 0; i < snapshot.live.length; i += 1024) {
        const slots = snapshot.live.slice(i, i + 1024);
        const matrix = new Float32Array(slots.length * job.dimension);
        slots.forEach((slot, j) => vectors.read(slot, matrix.subarray(j * job.dimension, (j + 1) * job.dimension)));
        graph.add(slots, matrix);
      }
    } else {
      // Idempotent, as the replay at open is.
      for (const change of snapshot.changes) {
        if (change.slot < 0) continue;
        if (change.deleted) graph.remove(change.slot);
        else if (!graph.has(change.slot)) graph.add([change.slot], vectors.read(change.slot, scratch));
        replayed += 1;
      }
    }
    if (!mayWrite()) return undefined;
    graph.save(join(job.dir, GRAPH_FILE));
    const state = { seq: snapshot.seq, size: graph.size };
    writeGraphState(job.dir, state);
    catalog.checkpointWal();
    return { ...state, replayed };
  } finally {
    catalog.close();
    vectors.close();
    graph.clear();
  }
}

/**
 * The thread's module beside this one; when this module runs from TypeScript sources (the tests),
 * the compiled one under dist/ (worker threads load JavaScript only); undefined when neither exists.
 */
function threadModule(): string | undefined {
  const here = fileURLToPath(new URL('./graph-checkpoint-thread.js', import.meta.url));
  if (existsSync(here)) return here;
  const compiled = here.replace(/([\\/])src([\\/])index([\\/])/, '$1dist$1src$2index$3');
  return existsSync(compiled) ? compiled : undefined;
}

/** Where a checkpoint thread is, in a shared Int32 both threads change with compare-and-swap. */
export const CheckpointState = {
  Working: 0,
  Writing: 1,
  Done: 2,
  /** Called off by the owner before it began writing: it writes nothing. */
  Abandoned: 3,
} as const;

/** A checkpoint running in a worker thread. */
export interface RunningCheckpoint {
  /** The saved state; undefined when the checkpoint was called off. */
  readonly done: Promise<(GraphState & { replayed: number }) | undefined>;
  /**
   * Makes sure the thread writes no file after this returns, blocking this thread only while it
   * is writing (seconds at most): a thread still loading or replaying is called off instead.
   */
  stopSync(): void;
}

/**
 * Runs {@link writeGraphCheckpoint} in a worker thread; undefined when the thread's module is not
 * built (the caller saves on its own thread then).
 */
export function runGraphCheckpoint(job: CheckpointJob): RunningCheckpoint | undefined {
  const module = threadModule();
  if (!module) return undefined;
  const shared = new SharedArrayBuffer(4);
  const flag = new Int32Array(shared);
  const worker = new Worker(module, { workerData: { job, state: shared } });
  const done = new Promise<(GraphState & { replayed: number }) | undefined>((resolve, reject) => {
    worker.once('message', (message: { type: 'done'; seq: number; size: number; replayed: number } | { type: 'abandoned' } | { type: 'error'; message: string }) => {
      if (message.type === 'done') resolve({ seq: message.seq, size: message.size, replayed: message.replayed });
      else if (message.type === 'abandoned') resolve(undefined);
      else reject(new Error(`graph checkpoint failed: ${message.message}`));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      Atomics.compareExchange(flag, 0, CheckpointState.Working, CheckpointState.Abandoned);
      Atomics.compareExchange(flag, 0, CheckpointState.Writing, CheckpointState.Done);
      if (code !== 0) reject(new Error(`graph checkpoint thread exited with ${code}`));
      else resolve(undefined);
    });
  });
  return {
    done,
    stopSync: () => {
      if (Atomics.compareExchange(flag, 0, CheckpointState.Working, CheckpointState.Abandoned) === CheckpointState.Working) {
        void worker.terminate();
        return;
      }
      while (Atomics.load(flag, 0) === CheckpointState.Writing) Atomics.wait(flag, 0, CheckpointState.Writing, 1000);
    },
  };
}
