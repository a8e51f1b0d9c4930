/** Shared, mutable process state the app reads (set by the server on SIGTERM). */
export interface Lifecycle {
  shuttingDown: boolean;
  /** Long-lived responses (event streams) to end when the server shuts down. */
  readonly closers: Set<() => void>;
}
