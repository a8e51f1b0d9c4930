/**
 * Lets writes to one index through, or holds new ones back while the writes already in flight
 * finish: an index is switched to a rebuilt version only when no write can land in the old one.
 * Writes hold the gate from before they read the index until their last write (embedding in
 * between), so a write that waited at a closed gate starts against the new version.
 */
export class WriteGate {
  private inFlight = 0;
  private closedUntil: Promise<void> | undefined;
  private reopen: (() => void) | undefined;
  private drained: (() => void) | undefined;

  get writing(): number {
    return this.inFlight;
  }

  get isClosed(): boolean {
    return this.closedUntil !== undefined;
  }

  /** Waits while the gate is closed, then counts a write in; call the returned function when it is done. */
  async enter(): Promise<() => void> {
    while (this.closedUntil) await this.closedUntil;
    this.inFlight += 1;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.inFlight -= 1;
      if (this.inFlight === 0) this.drained?.();
    };
  }

  /** Holds new writes back and resolves once those in flight are done. One close at a time. */
  async close(): Promise<void> {
    while (this.closedUntil) await this.closedUntil;
    this.closedUntil = new Promise((resolve) => {
      this.reopen = resolve;
    });
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
      this.drained = undefined;
    }
  }

  /** Lets the held-back writes go. */
  open(): void {
    const reopen = this.reopen;
    this.closedUntil = undefined;
    this.reopen = undefined;
    reopen?.();
  }
}
