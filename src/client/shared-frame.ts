import { MAX_TIMER_MS, sleep, toError, type Settled } from '../shared/within.js';
import type { Cache, MaybePromise } from './components.js';

/** The reads of a shared frame store this client can use, if its `Cache` has them. */
interface Readable {
  retrieve?(key: Uint8Array): MaybePromise<Uint8Array | undefined>;
  waitFor?(
    key: Uint8Array,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<Uint8Array | undefined>;
}

/** How the wait calls the store: `call` bounds one read, `fault` reports a failed wait. */
export interface StoreCalls {
  call(
    fn: () => MaybePromise<Uint8Array | undefined>,
  ): MaybePromise<Settled<Uint8Array | undefined>>;
  fault(error: Error): void;
}

/** First pause between two reads of the store, in ms; doubled up to {@link MAX_POLL_MS}. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 100;

/**
 * The frame under `key` once another relay has stored it in the shared store, or undefined
 * when `signal` aborts or `timeoutMs` passes first (the gap's deadline, or close()). Uses the store's own
 * `waitFor` when it has one (`MemoryCache`, `RedisCache`), else reads it with `retrieve`
 * at growing intervals (10 ms, doubling to 100 ms). A store with neither cannot be waited
 * on: undefined at once.
 */
export async function waitForFrame(
  cache: Cache,
  key: Uint8Array,
  signal: AbortSignal,
  timeoutMs: number,
  calls: StoreCalls,
): Promise<Uint8Array | undefined> {
  const store = cache as Cache & Readable;
  if (typeof store.waitFor === 'function') {
    try {
      const ms = Math.max(1, Math.min(MAX_TIMER_MS, Math.ceil(timeoutMs)));
      return await store.waitFor(key, { timeoutMs: ms, signal });
    } catch (err) {
      calls.fault(toError(err));
      if (signal.aborted) return undefined;
    }
  }
  if (typeof store.retrieve !== 'function') return undefined;
  const retrieve = store.retrieve.bind(store);
  for (let pause = FIRST_POLL_MS; !signal.aborted; pause = Math.min(MAX_POLL_MS, pause * 2)) {
    const read = await calls.call(() => retrieve(key));
    if (read.status === 'ok' && read.value !== undefined) return read.value;
    if (!(await sleep(pause, signal))) return undefined;
  }
  return undefined;
}
