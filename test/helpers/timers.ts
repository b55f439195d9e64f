import { createHook } from 'node:async_hooks';

/** A timer the tracker saw created, with the stack it was created from. */
interface Tracked {
  type: string;
  resource: { hasRef?(): boolean };
  origin: Error;
}

/** Frames of node's own timer code and of this file: not where a timer was asked for. */
const PLUMBING = /\(node:|^at node:|[\\/]test[\\/]helpers[\\/]timers\.ts/;
/** The test runner's own timers (it batches its reports on a short timer): not the test's. */
const RUNNER = /[\\/]node_modules[\\/](?:@vitest|vitest)[\\/]/;

/**
 * Tracks, one by one, the timers (`setTimeout`, `setInterval`, `setImmediate`) created
 * between `start()` and `freeze()` until they fire or are cleared. Counting active timers
 * instead would not do: the runner keeps a short-lived timer of its own, which would hide
 * one of the test's or make it wait for the runner's.
 */
export class TimerTracker {
  private readonly live = new Map<number, Tracked>();
  private recording = false;
  private readonly hook = createHook({
    init: (id, type, _trigger, resource: Tracked['resource']) => {
      if (!this.recording || (type !== 'Timeout' && type !== 'Immediate')) return;
      // The stack is captured now and formatted only for a timer still pending at the check.
      this.live.set(id, { type, resource, origin: new Error() });
    },
    destroy: (id) => {
      this.live.delete(id);
    },
  });

  start(): void {
    this.live.clear();
    this.recording = true;
    this.hook.enable();
  }

  /**
   * Stops recording new timers, and keeps hearing of the recorded ones ending (a timer is
   * reported gone an event-loop turn after it fired or was cleared, so a check that polls
   * would otherwise always find its own last timer pending).
   */
  freeze(): void {
    this.recording = false;
  }

  stop(): void {
    this.recording = false;
    this.hook.disable();
    this.live.clear();
  }

  /**
   * The recorded timers still pending and keeping the process alive (an `unref()`ed timer,
   * like the runner's test timeouts, does not), by where they were created, e.g.
   * `['Timeout at src/shared/watchdog.ts:94:45 ×2']`. The runner's own are left out.
   */
  pending(): string[] {
    const sites = new Map<string, number>();
    for (const { type, resource, origin } of this.live.values()) {
      if (resource.hasRef?.() === false) continue;
      const site = creationSite(origin);
      if (site === undefined) continue;
      const key = `${type} at ${site}`;
      sites.set(key, (sites.get(key) ?? 0) + 1);
    }
    return [...sites].map(([key, n]) => (n === 1 ? key : `${key} ×${n}`));
  }
}

/** The frame that asked for the timer, relative to the working directory; undefined for the runner. */
function creationSite(origin: Error): string | undefined {
  const frames = (origin.stack ?? '').split('\n').slice(1);
  const caller = frames.map((f) => f.trim()).find((f) => !PLUMBING.test(f));
  if (caller === undefined) return 'an unknown place';
  if (RUNNER.test(caller)) return undefined;
  return caller
    .replace(/^at /, '')
    .replace(`file://${process.cwd()}/`, '')
    .replace(`${process.cwd()}/`, '');
}
