import type { RedisClientLike } from './connection.js';

/**
 * The connection attempt each client is making, shared by every adapter that uses the client.
 * Readiness belongs to the client: a cache and a deduper on one client wait for one attempt.
 */
const attempts = new WeakMap<RedisClientLike, Promise<void>>();

/**
 * Resolves once `client` can take commands, or once waiting would no longer help. It never
 * rejects: the command that follows succeeds, fails fast or is queued, as the client's own
 * options say (`enableOfflineQueue`), and its error is the one the caller sees.
 *
 * - `wait` (lazy, never connected): connects it, once for all adapters, and waits.
 * - `connecting` / `connect` (an attempt under way, started by the host, another adapter or a
 *   reconnect): waits until it is `ready`, or the attempt ends (`close`, `end`).
 * - anything else (`ready`, `reconnecting`, `close`, `end`): nothing to wait for.
 *
 * Without this, a client with no offline queue refuses commands while it connects, so the
 * second adapter's first call failed with "Stream isn't writeable".
 */
export function whenReady(client: RedisClientLike): Promise<void> {
  const status = client.status;
  let attempt = attempts.get(client);
  if (status === 'ready' || attempt !== undefined) return attempt ?? Promise.resolve();
  if (status === 'wait') {
    attempt = client.connect().catch(() => undefined);
  } else if (status === 'connecting' || status === 'connect') {
    attempt = attemptEnded(client);
  } else {
    return Promise.resolve();
  }
  const shared = attempt.finally(() => attempts.delete(client));
  attempts.set(client, shared);
  return shared;
}

/** Resolves when the attempt in progress makes the client ready, or ends without it. */
function attemptEnded(client: RedisClientLike): Promise<void> {
  return new Promise((resolve) => {
    const events = ['ready', 'close', 'end'] as const;
    const done = (): void => {
      for (const event of events) client.off(event, done);
      resolve();
    };
    for (const event of events) client.once(event, done);
  });
}
