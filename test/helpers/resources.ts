import { waitFor } from './wait.js';

/**
 * Resource kinds this library could leave open: sockets, timers, DNS requests. Pipes, TTYs
 * and the test runner's own channels are not ours and are not counted.
 */
const OURS = new Set([
  'UDPWrap',
  'Timeout',
  'Immediate',
  'GetAddrInfoReqWrap',
  'SendWrap',
  'TCPWrap',
]);

/** Counts of open resources by kind (only the kinds in `OURS`). */
export type ResourceCounts = Record<string, number>;

/** Counts the process's active resources that this library could own. */
export function openResources(): ResourceCounts {
  const counts: ResourceCounts = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (OURS.has(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/** Kinds whose count is above `baseline`, e.g. `['UDPWrap +2']`; empty when none. */
export function leakedSince(baseline: ResourceCounts): string[] {
  const now = openResources();
  const out: string[] = [];
  for (const [kind, n] of Object.entries(now)) {
    const before = baseline[kind] ?? 0;
    if (n > before) out.push(`${kind} +${n - before}`);
  }
  return out;
}

/**
 * Waits (bounded) until no resource kind is above `baseline`. Closed sockets leave the
 * active list one loop turn after their close callback, hence the polling.
 * Returns what is still open after the bound, so the caller asserts it is empty.
 */
export async function settleLeaks(baseline: ResourceCounts, timeoutMs = 3000): Promise<string[]> {
  try {
    await waitFor(() => leakedSince(baseline).length === 0, 'resources to close', timeoutMs);
  } catch {
    // fall through: report what is left
  }
  return leakedSince(baseline);
}
