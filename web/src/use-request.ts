import { useEffect, useState } from 'preact/hooks';
import { isAbort } from './api';

export interface RequestState<T> {
  /** The last answer (kept while the next request is pending; dropped when one fails). */
  readonly data: T | undefined;
  /** Why the last request failed (an abort is not a failure). */
  readonly error: unknown;
  readonly busy: boolean;
  /** Forgets the last answer and error (a new scene, say, whose request has not started yet). */
  clear(): void;
}

/**
 * A request that follows `deps`: `start` (undefined: nothing to ask yet) runs whenever they change,
 * with a signal that aborts it when they change again or the view goes away, so only the latest
 * answer lands.
 */
export function useRequest<T>(start: ((signal: AbortSignal) => Promise<T>) | undefined, deps: readonly unknown[]): RequestState<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; busy: boolean }>({ busy: false });
  useEffect(() => {
    if (!start) return;
    const abort = new AbortController();
    setState((previous) => ({ data: previous.data, busy: true }));
    start(abort.signal).then(
      (data) => {
        if (!abort.signal.aborted) setState({ data, busy: false });
      },
      (error: unknown) => {
        if (!abort.signal.aborted && !isAbort(error)) setState({ error, busy: false });
      },
    );
    return () => abort.abort();
  }, deps);
  return { data: state.data, error: state.error, busy: state.busy, clear: () => setState((previous) => ({ busy: previous.busy })) };
}
