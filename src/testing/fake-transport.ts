import { decodeNack, type DecodedNack } from '../wire/nack.js';
import type { ExchangeOptions, Reply, Transport } from '../transport/transport.js';
import { buildFrame } from './frames.js';

/** What a scripted interceptor answers. */
export type FakeAction =
  | { kind: 'serve'; frame?: Uint8Array }
  | { kind: 'wrong-frame' }
  | { kind: 'miss' }
  | { kind: 'silent' }
  | { kind: 'throttle'; backoffMs: number }
  | { kind: 'error'; code: string }
  | { kind: 'throw'; error: Error };

/** One NACK the fake transport was asked to send. */
export interface SentNack {
  upstream: string;
  nack: DecodedNack;
  /** The NACK's flags byte (`FLAG_PROXIED` for every NACK the client sends). */
  flags: number;
  timeoutMs: number;
}

interface Interceptor {
  readonly upstream: string;
  readonly hashKey: bigint | undefined;
  readonly seq: bigint | undefined;
  action: FakeAction;
  delayMs: number;
  remaining: number;
  used: number;
  readonly id: number;
}

/** Chainable script of one interceptor, returned by {@link FakeTransport.intercept}. */
export class InterceptorScope {
  constructor(private readonly i: Interceptor) {}
  /** Answer with the frame (default: a built frame for the asked gap). */
  serve(frame?: Uint8Array): this {
    this.i.action = { kind: 'serve', frame };
    return this;
  }
  /** Answer with a valid frame for another gap (must be refused by the client). */
  wrongFrame(): this {
    this.i.action = { kind: 'wrong-frame' };
    return this;
  }
  /** Answer MISS. */
  miss(): this {
    this.i.action = { kind: 'miss' };
    return this;
  }
  /** Answer nothing: the exchange times out. */
  silent(): this {
    this.i.action = { kind: 'silent' };
    return this;
  }
  /** Answer THROTTLED with this hold. */
  throttle(backoffMs = 125): this {
    this.i.action = { kind: 'throttle', backoffMs };
    return this;
  }
  /** Fail the send (`code` e.g. `send`, `resolve`, `unreachable`). */
  error(code = 'send'): this {
    this.i.action = { kind: 'error', code };
    return this;
  }
  /** Reject the exchange (a broken transport). */
  throws(error: Error = new Error('fake transport failure')): this {
    this.i.action = { kind: 'throw', error };
    return this;
  }
  /** Wait this long before answering (an answer after the attempt's timeout is a timeout). */
  delay(ms: number): this {
    this.i.delayMs = ms;
    return this;
  }
  /** Use this interceptor `n` times. @default 1 */
  times(n: number): this {
    this.i.remaining = n;
    return this;
  }
  /** Use this interceptor for every matching exchange. */
  persist(): this {
    this.i.remaining = Infinity;
    return this;
  }
}

/** Options of {@link FakeTransport}. */
export interface FakeTransportOptions {
  /**
   * What an exchange that matches no interceptor gets.
   * @default { kind: 'error', code: 'unmatched' }
   */
  unmatched?: FakeAction;
}

/** Which gap an interceptor matches; omitted fields match anything. */
export interface GapMatcher {
  hashKey?: bigint;
  seq?: bigint;
}

/**
 * A scriptable in-memory {@link Transport}, like undici's MockAgent: script answers per
 * upstream and per gap, then check what was sent and that every script was used.
 * Timers are ordinary `setTimeout`s, so it works under `vi.useFakeTimers()`.
 *
 * @example
 * ```ts
 * const transport = new FakeTransport();
 * transport.intercept('[::1]:9300').silent().persist();
 * transport.intercept('[::1]:9301', { seq: 42n }).serve();
 * const client = new ProxyClient({ upstreams: ['[::1]:9300', '[::1]:9301'], transport, cache, retransmitter });
 * client.enqueue({ hashKey: 1n, startSeq: 42n });
 * await client.onIdle();
 * transport.assertNoUnusedInterceptors();
 * ```
 */
export class FakeTransport implements Transport {
  /** Every NACK sent, in order. */
  readonly sent: SentNack[] = [];
  private readonly interceptors: Interceptor[] = [];
  private readonly unmatched: FakeAction;
  private nextId = 1;
  private closed = false;

  constructor(options: FakeTransportOptions = {}) {
    this.unmatched = options.unmatched ?? { kind: 'error', code: 'unmatched' };
  }

  /**
   * Scripts the answer for NACKs to `upstream` (`'*'` for any) and, optionally, one gap.
   * Interceptors are used once unless `.times(n)` or `.persist()`; the oldest match wins.
   */
  intercept(upstream: string, gap: GapMatcher = {}): InterceptorScope {
    const i: Interceptor = {
      upstream,
      hashKey: gap.hashKey,
      seq: gap.seq,
      action: { kind: 'serve' },
      delayMs: 0,
      remaining: 1,
      used: 0,
      id: this.nextId++,
    };
    this.interceptors.push(i);
    return new InterceptorScope(i);
  }

  /** NACKs sent to one upstream. */
  sentTo(upstream: string): SentNack[] {
    return this.sent.filter((s) => s.upstream === upstream);
  }

  /** Interceptors with uses left (persistent ones count only if never used). */
  pendingInterceptors(): { upstream: string; hashKey?: bigint; seq?: bigint; action: string; remaining: number }[] {
    return this.interceptors
      .filter((i) => (i.remaining === Infinity ? i.used === 0 : i.remaining > 0))
      .map((i) => ({
        upstream: i.upstream,
        hashKey: i.hashKey,
        seq: i.seq,
        action: i.action.kind,
        remaining: i.remaining,
      }));
  }

  /** Throws, with a readable table, if any interceptor was never (fully) used. */
  assertNoUnusedInterceptors(): void {
    const pending = this.pendingInterceptors();
    if (pending.length === 0) return;
    const rows = pending.map(
      (p) =>
        `| ${p.upstream.padEnd(24)} | ${String(p.hashKey ?? '*').padEnd(20)} | ${String(p.seq ?? '*').padEnd(20)} | ${p.action.padEnd(11)} | ${String(p.remaining).padEnd(9)} |`,
    );
    const head = `| ${'upstream'.padEnd(24)} | ${'hashKey'.padEnd(20)} | ${'seq'.padEnd(20)} | ${'action'.padEnd(11)} | ${'remaining'} |`;
    throw new Error(`${pending.length} interceptor(s) not used:\n${head}\n${rows.join('\n')}`);
  }

  exchange(upstream: string, nack: Uint8Array, options: ExchangeOptions): Promise<Reply> {
    const decoded = decodeNack(nack);
    this.sent.push({ upstream, nack: decoded, flags: decoded.flags, timeoutMs: options.timeoutMs });
    if (this.closed) return Promise.resolve({ kind: 'error', code: 'closed' });
    const i = this.match(upstream, options.hashKey, options.seq);
    const action = i?.action ?? this.unmatched;
    const delayMs = i?.delayMs ?? 0;
    if (action.kind === 'throw') return Promise.reject(action.error);
    return new Promise<Reply>((resolve) => {
      const signal = options.signal;
      let timer: NodeJS.Timeout | undefined;
      const done = (reply: Reply): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(reply);
      };
      const onAbort = (): void => done({ kind: 'error', code: 'aborted' });
      if (signal?.aborted) return done({ kind: 'error', code: 'aborted' });
      signal?.addEventListener('abort', onAbort, { once: true });
      const answerIn = action.kind === 'silent' ? Infinity : delayMs;
      if (answerIn >= options.timeoutMs) {
        timer = setTimeout(() => done({ kind: 'timeout' }), options.timeoutMs);
        return;
      }
      const answer = (): void => done(this.reply(action, options));
      if (answerIn <= 0) queueMicrotask(answer);
      else timer = setTimeout(answer, answerIn);
    });
  }

  close(): void {
    this.closed = true;
  }

  private match(upstream: string, hashKey: bigint, seq: bigint): Interceptor | undefined {
    for (const i of this.interceptors) {
      if (i.remaining <= 0) continue;
      if (i.upstream !== '*' && i.upstream !== upstream) continue;
      if (i.hashKey !== undefined && i.hashKey !== hashKey) continue;
      if (i.seq !== undefined && i.seq !== seq) continue;
      i.remaining--;
      i.used++;
      return i;
    }
    return undefined;
  }

  private reply(action: FakeAction, o: ExchangeOptions): Reply {
    switch (action.kind) {
      case 'serve':
        return { kind: 'frame', frame: action.frame ?? buildFrame({ hashKey: o.hashKey, seq: o.seq }) };
      case 'wrong-frame':
        return { kind: 'frame', frame: buildFrame({ hashKey: o.hashKey, seq: o.seq + 1n }) };
      case 'miss':
        return { kind: 'miss' };
      case 'throttle':
        return { kind: 'throttled', backoffMs: action.backoffMs };
      case 'error':
        return { kind: 'error', code: action.code };
      default:
        return { kind: 'timeout' };
    }
  }
}
