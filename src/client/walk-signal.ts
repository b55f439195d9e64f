/**
 * The signal of one gap's waits (admission, THROTTLED holds, a partition, a worker): aborted
 * at the gap's deadline, when the client closes, or when the walk is over. Made only when a
 * gap first has to wait, so the hot path allocates none.
 */
export class WalkSignal {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onShutdown = (): void => this.end();

  constructor(
    private readonly shutdown: AbortSignal,
    remainingMs: number,
  ) {
    this.timer = setTimeout(this.onShutdown, Math.max(0, remainingMs));
    if (shutdown.aborted) this.end();
    else shutdown.addEventListener('abort', this.onShutdown, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Ends every wait on it and lets go of the timer and the shutdown listener. */
  end(): void {
    this.release();
    this.controller.abort();
  }

  /**
   * Lets go of the timer and the shutdown listener without aborting: for a walk none of
   * whose waits is still pending. An abort costs ~9 µs (a DOMException and its stack,
   * measured), once per gap on the paced path.
   */
  release(): void {
    clearTimeout(this.timer);
    this.shutdown.removeEventListener('abort', this.onShutdown);
  }
}
