import type { FrameHeader } from '../wire/frame.js';
import { matchFrame } from '../wire/match.js';
import type { Reply, Transport } from '../transport/transport.js';
import type { UpstreamHealth, ReplyKind } from './health.js';
import type { ResolvedOptions } from './options.js';
import type { Counters } from './stats.js';

/** What the upstream walk for one gap produced. */
export type FetchResult =
  | {
      kind: 'frame';
      frame: Uint8Array;
      header: FrameHeader;
      upstream: string;
      hedged: boolean;
      attempts: number;
    }
  | { kind: 'exhausted' | 'deadline' | 'aborted'; attempts: number };

/** What the upstream walk needs from the client. */
export interface FetchContext {
  readonly transport: Transport;
  readonly health: UpstreamHealth;
  readonly options: ResolvedOptions;
  readonly counters: Counters;
  now(): number;
  /** One reply from one upstream (for metrics and logs). */
  onReply(upstream: string, kind: ReplyKind, hashKey: bigint, seq: bigint): void;
  /** The transport threw or rejected instead of resolving a Reply. */
  onTransportFault(error: unknown, upstream: string, hashKey: bigint, seq: bigint): void;
}

interface Attempt {
  readonly upstream: string;
  readonly hedged: boolean;
  readonly abort: AbortController;
}

type AttemptResult =
  | { kind: 'frame'; frame: Uint8Array; header: FrameHeader }
  | { kind: 'miss' | 'timeout' | 'error' | 'throttled' | 'aborted' };

/**
 * Walks the upstreams for one gap: in health order, at most `maxEndpoints`, one at a time
 * unless hedging starts the next in parallel; THROTTLED holds and re-asks the same upstream;
 * MISS, timeout and errors move on. Settles on the first valid frame, when every upstream
 * has answered without one, at the gap's deadline, or when `signal` aborts.
 */
export function fetchFrame(
  ctx: FetchContext,
  hashKey: bigint,
  seq: bigint,
  nack: Uint8Array,
  signal: AbortSignal,
  deadlineAt: number,
): Promise<FetchResult> {
  const { options, health, counters } = ctx;
  const order = health.order(options.maxEndpoints, ctx.now());
  const running = new Set<Attempt>();
  let next = 0;
  let attempts = 0;
  let done = false;
  let hedgeTimer: NodeJS.Timeout | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;

  return new Promise<FetchResult>((resolve) => {
    const finish = (result: FetchResult): void => {
      if (done) return;
      done = true;
      clearTimeout(hedgeTimer);
      clearTimeout(deadlineTimer);
      signal.removeEventListener('abort', onAbort);
      for (const a of running) a.abort.abort();
      for (let i = next; i < order.length; i++) health.release(order[i] as string);
      resolve(result);
    };
    const onAbort = (): void => finish({ kind: 'aborted', attempts });
    if (signal.aborted) {
      next = 0;
      finish({ kind: 'aborted', attempts });
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    deadlineTimer = setTimeout(
      () => finish({ kind: 'deadline', attempts }),
      Math.max(0, deadlineAt - ctx.now()),
    );

    const launch = (hedged: boolean): boolean => {
      if (next >= order.length) return false;
      const attempt: Attempt = {
        upstream: order[next++] as string,
        hedged,
        abort: new AbortController(),
      };
      running.add(attempt);
      if (hedged) counters.hedges++;
      void runUpstream(attempt).then((r) => settle(attempt, r));
      armHedge(attempt.upstream);
      return true;
    };

    const armHedge = (upstream: string): void => {
      clearTimeout(hedgeTimer);
      const after = options.hedgeAfterMs;
      if (after === undefined || next >= order.length) return;
      const delay = after === 'adaptive' ? health.hedgeDelay(upstream) : after;
      hedgeTimer = setTimeout(() => {
        if (!done) launch(true);
      }, delay);
    };

    const settle = (attempt: Attempt, r: AttemptResult): void => {
      running.delete(attempt);
      if (done) return;
      if (r.kind === 'frame') {
        if (attempt.hedged) counters.hedgeWins++;
        const { frame, header } = r;
        finish({
          kind: 'frame',
          frame,
          header,
          upstream: attempt.upstream,
          hedged: attempt.hedged,
          attempts,
        });
        return;
      }
      if (running.size > 0) return; // a hedge is still asking
      clearTimeout(hedgeTimer);
      if (!launch(false)) finish({ kind: 'exhausted', attempts });
    };

    const runUpstream = async (attempt: Attempt): Promise<AttemptResult> => {
      const { upstream } = attempt;
      const sig = attempt.abort.signal;
      let throttles = 0;
      for (;;) {
        const remaining = deadlineAt - ctx.now();
        if (remaining <= 0 || sig.aborted) return { kind: 'aborted' };
        const timeoutMs = Math.max(1, Math.min(health.attemptTimeout(upstream), remaining));
        attempts++;
        counters.attempts++;
        const started = ctx.now();
        let reply: Reply;
        try {
          reply = await ctx.transport.exchange(upstream, nack, {
            timeoutMs,
            signal: sig,
            hashKey,
            seq,
          });
        } catch (err) {
          ctx.onTransportFault(err, upstream, hashKey, seq);
          reply = { kind: 'error', code: 'exception' };
        }
        if (sig.aborted) return { kind: 'aborted' };
        const ended = ctx.now();
        let kind: ReplyKind;
        let header: FrameHeader | undefined;
        if (reply.kind === 'frame') {
          const m = matchFrame(reply.frame, hashKey, seq);
          if (typeof m === 'string') {
            counters.invalidFrames++;
            kind = 'error';
          } else {
            header = m;
            kind = 'frame';
          }
        } else {
          kind = reply.kind;
        }
        health.record(upstream, kind, ended - started, ended);
        ctx.onReply(upstream, kind, hashKey, seq);
        if (header !== undefined && reply.kind === 'frame') {
          return { kind: 'frame', frame: reply.frame, header };
        }
        if (reply.kind === 'throttled' && throttles < options.maxThrottleRetries) {
          throttles++;
          counters.throttleHolds++;
          const hold = Math.min(reply.backoffMs, deadlineAt - ctx.now());
          if (!(await sleep(hold, sig))) return { kind: 'aborted' };
          continue;
        }
        return { kind: kind === 'frame' ? 'error' : kind };
      }
    };

    launch(false);
  });
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
