/**
 * Leak checks for tests that open sockets, emulators or clients: `useLeakCheck()` fails a
 * test that leaves a timer, socket or DNS request behind, after closing what the test asked
 * it to close. Idle sockets of a `UdpTransport` are `unref()`ed and invisible here (as they
 * are to the event loop); `stillOpen` in `ports.ts` asks the kernel about their ports.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { TimerTracker } from './timers.js';
import { waitFor } from './wait.js';

/**
 * Kinds of handles and requests this library could leave open (sockets, sends, DNS
 * lookups), counted against a baseline. Pipes, TTYs and the runner's own channels are not
 * ours. Timers are tracked one by one instead (see `TimerTracker`).
 */
const HANDLES = new Set(['UDPWrap', 'TCPWrap', 'SendWrap', 'GetAddrInfoReqWrap']);

/** Counts of open handles and requests by kind (only the kinds in `HANDLES`). */
type HandleCounts = Record<string, number>;

/** Counts the process's active handles and requests that this library could own. */
function openHandles(): HandleCounts {
  const counts: HandleCounts = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (HANDLES.has(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/** Counts the process's active (ref'ed) timers: a coarse probe for a test of its own. */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((k) => k === 'Timeout').length;
}

/**
 * What is open beyond `baseline` (handles and requests) or pending on `timers`, e.g.
 * `['UDPWrap +2', 'Timeout at src/client/walk.ts:80:7']`; empty when nothing is.
 */
function leaked(baseline: HandleCounts, timers: TimerTracker): string[] {
  const out: string[] = [];
  for (const [kind, n] of Object.entries(openHandles())) {
    const before = baseline[kind] ?? 0;
    if (n > before) out.push(`${kind} +${n - before}`);
  }
  return [...out, ...timers.pending()];
}

/**
 * Waits (bounded) until nothing is {@link leaked}: a closed socket leaves the active list,
 * and a timer is reported gone, a loop turn or two after the fact, hence the polling.
 * Returns what is still open after the bound, so the caller asserts it is empty.
 */
async function settle(
  baseline: HandleCounts,
  timers: TimerTracker,
  timeoutMs = 5000,
): Promise<string[]> {
  try {
    await waitFor(() => leaked(baseline, timers).length === 0, 'resources to close', timeoutMs);
  } catch {
    // fall through: report what is left
  }
  return leaked(baseline, timers);
}

/** Something the leak check closes for a test: an emulator, a client, a socket... */
export type Closer = () => unknown;

/** What {@link useLeakCheck} gives a test file. */
export interface LeakCheck {
  /**
   * Closes `resource` before the leak check: after the test that opened it, or after the
   * block for one opened in `beforeAll`. Newest first. Returns `resource`.
   */
  closeAfter<T extends { close(): unknown }>(resource: T): T;
  /** Runs `closer` when {@link LeakCheck.closeAfter} would close a resource. */
  defer(closer: Closer): void;
}

/**
 * Registers hooks, in the calling `describe` (or file), that fail a test which leaves a
 * timer, socket or DNS request open past its end, and the block when something opened in
 * its `beforeAll` outlives its `afterAll`. Call it before the block's own hooks: its
 * `before` hooks then run first and its `after` hooks last (vitest runs `after` hooks in
 * reverse order), so the block's own clean-up is done before the check.
 */
export function useLeakCheck(): LeakCheck {
  const blockTimers = new TimerTracker();
  const testTimers = new TimerTracker();
  let blockBaseline: HandleCounts = {};
  let testBaseline: HandleCounts = {};
  let inTest = false;
  const forBlock: Closer[] = [];
  const forTest: Closer[] = [];

  const closeAll = async (closers: Closer[]): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close();
  };

  beforeAll(() => {
    blockBaseline = openHandles();
    blockTimers.start();
  });
  beforeEach(() => {
    testBaseline = openHandles();
    testTimers.start();
    inTest = true;
  });
  afterEach(async () => {
    inTest = false;
    try {
      await closeAll(forTest);
      testTimers.freeze();
      expect(await settle(testBaseline, testTimers), 'left open by this test').toEqual([]);
    } finally {
      testTimers.stop();
    }
  });
  afterAll(async () => {
    try {
      await closeAll(forBlock);
      blockTimers.freeze();
      expect(await settle(blockBaseline, blockTimers), 'left open by this block').toEqual([]);
    } finally {
      blockTimers.stop();
    }
  });

  const defer = (closer: Closer): void => {
    (inTest ? forTest : forBlock).push(closer);
  };
  return {
    defer,
    closeAfter: (resource) => {
      defer(() => resource.close());
      return resource;
    },
  };
}
