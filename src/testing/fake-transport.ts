import { decodeNack, type DecodedNack } from '../wire/nack.js';
import type { ExchangeOptions, Reply, Transport } from '../transport/transport.js';
import { buildFrame } from './frames.js';
import { checkOptions, show, type OptionSpec } from '../shared/option-check.js';

/** What a scripted interceptor answers. Build these with {@link InterceptorScope}'s methods. */
export type FakeAction =
  | {
      /** Answer with a frame. */
      kind: 'serve';
      /** The frame; default: {@link buildFrame} for the asked gap. */
      frame?: Uint8Array;
    }
  | {
      /** Answer with a valid frame for the next sequence number (a client must refuse it). */
      kind: 'wrong-frame';
    }
  | {
      /** Answer MISS. */
      kind: 'miss';
    }
  | {
      /** Answer nothing: the exchange times out. */
      kind: 'silent';
    }
  | {
      /** Answer an ACK but never the frame: the exchange times out with `acked: true`. */
      kind: 'ack-only';
    }
  | {
      /** Answer THROTTLED. */
      kind: 'throttle';
      /** The backoff hint, in ms. */
      backoffMs: number;
    }
  | {
      /** Resolve `{ kind: 'error', code }` (the NACK could not be sent). */
      kind: 'error';
      /** Error code, e.g. `send`, `resolve`, `unreachable`. */
      code: string;
    }
  | {
      /** Reject the exchange, like a broken transport. */
      kind: 'throw';
      /** The rejection reason. */
      error: Error;
    }
  | {
      /** Answer whatever the function returns. */
      kind: 'custom';
      /** Computes the reply from the NACK that was sent. */
      reply: (sent: SentNack) => Reply;
    };

/** One NACK the fake transport was asked to send. */
export interface SentNack {
  /** The upstream it was sent to, as configured in the client. */
  upstream: string;
  /** The decoded NACK. */
  nack: DecodedNack;
  /** The NACK's flags byte (`FLAG_PROXIED` for every NACK a `ProxyClient` sends). */
  flags: number;
  /** The attempt timeout the client gave this exchange, in ms. */
  timeoutMs: number;
  /** `performance.now()` when it was sent (faked under `vi.useFakeTimers()`). */
  at: number;
}

/** An interceptor that still expects to be used, as listed by {@link FakeTransport.pendingInterceptors}. */
export interface PendingInterceptor {
  /** Upstream it matches (`'*'` for any). */
  upstream: string;
  /** HashKey it matches; undefined matches any. */
  hashKey?: bigint;
  /** Sequence number it matches; undefined matches any. */
  seq?: bigint;
  /** The scripted answer's kind. */
  action: FakeAction['kind'];
  /** Uses left (`Infinity` for a persistent interceptor never used). */
  remaining: number;
}

/** An interceptor's mutable script (internal: the public handle is {@link InterceptorScope}). */
interface Interceptor {
  readonly upstream: string;
  readonly hashKey: bigint | undefined;
  readonly seq: bigint | undefined;
  action: FakeAction;
  delayMs: number;
  remaining: number;
  used: number;
}

/**
 * Chainable script of one interceptor, returned by {@link FakeTransport.intercept}.
 * The answer defaults to `serve()`, the use count to one.
 */
export class InterceptorScope {
  /** @internal Made by {@link FakeTransport.intercept}. */
  constructor(private readonly i: Interceptor) {}

  /** Answer with `frame` (default: a frame built for the asked gap). */
  serve(frame?: Uint8Array): this {
    return this.set({ kind: 'serve', frame });
  }

  /** Answer with a valid frame for another gap (a client must refuse it). */
  wrongFrame(): this {
    return this.set({ kind: 'wrong-frame' });
  }

  /** Answer MISS. */
  miss(): this {
    return this.set({ kind: 'miss' });
  }

  /** Answer nothing: the exchange times out after the client's attempt timeout. */
  silent(): this {
    return this.set({ kind: 'silent' });
  }

  /** Answer an ACK but never the frame: the exchange times out with `acked: true`. */
  ackOnly(): this {
    return this.set({ kind: 'ack-only' });
  }

  /**
   * Answer THROTTLED with this hold.
   * @param backoffMs - the hint, in ms. @default 125 (bucket 0)
   */
  throttle(backoffMs = 125): this {
    return this.set({ kind: 'throttle', backoffMs });
  }

  /**
   * Fail the send.
   * @param code - e.g. `send`, `resolve`, `unreachable`. @default 'send'
   */
  error(code = 'send'): this {
    return this.set({ kind: 'error', code });
  }

  /** Reject the exchange (a broken transport; the client reports an `error` event). */
  throws(error: Error = new Error('fake transport failure')): this {
    return this.set({ kind: 'throw', error });
  }

  /**
   * Answer whatever `reply` returns, for cases the other methods do not cover.
   *
   * @example
   * ```ts
   * transport.intercept('*').reply((s) => ({ kind: 'throttled', backoffMs: Number(s.nack.startSeq) }));
   * ```
   */
  reply(reply: (sent: SentNack) => Reply): this {
    return this.set({ kind: 'custom', reply });
  }

  /**
   * Wait this long before answering. An answer due at or after the attempt's timeout
   * becomes a timeout, as on a real network.
   */
  delay(ms: number): this {
    if (!(ms >= 0)) throw new RangeError(`delay must be >= 0 ms, got ${ms}`);
    this.i.delayMs = ms;
    return this;
  }

  /** Use this interceptor `n` times (the default is once). */
  times(n: number): this {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`times must be >= 1, got ${n}`);
    this.i.remaining = n;
    return this;
  }

  /** Use this interceptor for every matching exchange. */
  persist(): this {
    this.i.remaining = Infinity;
    return this;
  }

  private set(action: FakeAction): this {
    this.i.action = action;
    return this;
  }
}

/** Options of {@link FakeTransport}. */
export interface FakeTransportOptions {
  /**
   * What an exchange that matches no interceptor gets. The default makes an unscripted
   * exchange visible as an error reply rather than a silent timeout.
   * @default { kind: 'error', code: 'unmatched' }
   */
  unmatched?: FakeAction;
}

const FAKE_TRANSPORT_OPTIONS: OptionSpec<FakeTransportOptions> = { unmatched: 'object' };
const ACTION_KINDS: readonly FakeAction['kind'][] = [
  'serve',
  'wrong-frame',
  'miss',
  'silent',
  'ack-only',
  'throttle',
  'error',
  'throw',
  'custom',
];

/** Which gap an interceptor matches; omitted fields match anything. */
export interface GapMatcher {
  /** Match only this HashKey. @default any */
  hashKey?: bigint;
  /** Match only this sequence number. @default any */
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
 * const client = new ProxyClient({
 *   upstreams: ['[::1]:9300', '[::1]:9301'], transport, cache, retransmitter,
 * });
 * client.enqueue({ hashKey: 1n, startSeq: 42n });
 * await client.onIdle();
 * expect(transport.sentTo('[::1]:9301')[0]?.flags).toBe(FLAG_PROXIED);
 * transport.assertNoPendingInterceptors();
 * ```
 */
export class FakeTransport implements Transport {
  /** Every exchange ends by its scripted answer or its timeout (see {@link Transport.selfTimed}). */
  readonly selfTimed = true;
  /** Every NACK sent, in order. */
  readonly sent: SentNack[] = [];
  private readonly interceptors: Interceptor[] = [];
  private readonly unmatched: FakeAction;
  private closed = false;

  /**
   * A transport with no interceptors: script it with {@link FakeTransport.intercept}.
   * @throws TypeError with a Node-style `code` naming a bad or unknown option.
   */
  constructor(options: FakeTransportOptions = {}) {
    const check = checkOptions('FakeTransport', options, FAKE_TRANSPORT_OPTIONS);
    const unmatched = options.unmatched;
    if (unmatched !== undefined && !ACTION_KINDS.includes(unmatched.kind)) {
      check.fail(
        'ERR_INVALID_ARG_VALUE',
        `option unmatched.kind must be one of ${ACTION_KINDS.join(', ')}, got ${show(unmatched.kind)}`,
      );
    }
    this.unmatched = unmatched ?? { kind: 'error', code: 'unmatched' };
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
    };
    this.interceptors.push(i);
    return new InterceptorScope(i);
  }

  /** NACKs sent to one upstream, in order. */
  sentTo(upstream: string): SentNack[] {
    return this.sent.filter((s) => s.upstream === upstream);
  }

  /** NACKs sent for one gap, to any upstream, in order. */
  sentFor(hashKey: bigint, seq: bigint): SentNack[] {
    return this.sent.filter((s) => s.nack.hashKey === hashKey && s.nack.startSeq === seq);
  }

  /** Interceptors with uses left (persistent ones count only if never used). */
  pendingInterceptors(): PendingInterceptor[] {
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
  assertNoPendingInterceptors(): void {
    const pending = this.pendingInterceptors();
    if (pending.length === 0) return;
    const row = (cells: string[]): string =>
      `| ${cells.map((c, n) => c.padEnd([24, 20, 20, 11, 9][n] ?? 0)).join(' | ')} |`;
    const lines = [
      row(['upstream', 'hashKey', 'seq', 'action', 'remaining']),
      ...pending.map((p) =>
        row([
          p.upstream,
          String(p.hashKey ?? '*'),
          String(p.seq ?? '*'),
          p.action,
          String(p.remaining),
        ]),
      ),
    ];
    throw new Error(`${pending.length} interceptor(s) not used:\n${lines.join('\n')}`);
  }

  /** Forgets every interceptor and every recorded NACK. */
  reset(): void {
    this.interceptors.length = 0;
    this.sent.length = 0;
  }

  /** Answers as scripted; resolves `{ kind: 'error', code: 'closed' }` after {@link close}. */
  exchange(upstream: string, nack: Uint8Array, options: ExchangeOptions): Promise<Reply> {
    const decoded = decodeNack(nack);
    const sent: SentNack = {
      upstream,
      nack: decoded,
      flags: decoded.flags,
      timeoutMs: options.timeoutMs,
      at: performance.now(),
    };
    this.sent.push(sent);
    if (this.closed) return Promise.resolve({ kind: 'error', code: 'closed' });
    options.onSent?.();
    const i = this.match(upstream, options.hashKey, options.seq);
    const action = i?.action ?? this.unmatched;
    if (action.kind === 'throw') return Promise.reject(action.error);
    const neverAnswers = action.kind === 'silent' || action.kind === 'ack-only';
    const answerIn = neverAnswers ? Infinity : (i?.delayMs ?? 0);
    return new Promise<Reply>((resolve, reject) => {
      const signal = options.signal;
      let timer: NodeJS.Timeout | undefined;
      const done = (reply: Reply): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(reply);
      };
      const onAbort = (): void => done({ kind: 'error', code: 'aborted' });
      if (signal?.aborted === true) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (answerIn >= options.timeoutMs) {
        const timedOut: Reply =
          action.kind === 'ack-only' ? { kind: 'timeout', acked: true } : { kind: 'timeout' };
        timer = setTimeout(() => done(timedOut), options.timeoutMs);
        return;
      }
      const answer = (): void => {
        let reply: Reply;
        try {
          reply = this.reply(action, sent, options);
        } catch (err) {
          // A throwing custom reply behaves like a broken transport: the exchange rejects.
          signal?.removeEventListener('abort', onAbort);
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (reply.kind === 'frame' && options.accept?.(reply.frame) === false) {
          // Refused by the client's content check: like UdpTransport, keep waiting (here
          // nothing else comes, so the exchange times out).
          timer = setTimeout(() => done({ kind: 'timeout' }), options.timeoutMs - answerIn);
          return;
        }
        done(reply);
      };
      // A microtask, not a synchronous resolve: real transports never answer in the same tick.
      if (answerIn <= 0) queueMicrotask(answer);
      else timer = setTimeout(answer, answerIn);
    });
  }

  /** Marks the transport closed: later exchanges resolve `{ kind: 'error', code: 'closed' }`. */
  close(): void {
    this.closed = true;
  }

  /** Same as {@link FakeTransport.close}, for `await using transport = new FakeTransport()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** Counters for `client.stats().transport`: NACKs sent and interceptors still unused. */
  stats(): Record<string, number> {
    return { sent: this.sent.length, pendingInterceptors: this.pendingInterceptors().length };
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

  private reply(action: FakeAction, sent: SentNack, o: ExchangeOptions): Reply {
    switch (action.kind) {
      case 'serve':
        return {
          kind: 'frame',
          frame: action.frame ?? buildFrame({ hashKey: o.hashKey, seq: o.seq }),
        };
      case 'wrong-frame':
        return { kind: 'frame', frame: buildFrame({ hashKey: o.hashKey, seq: o.seq + 1n }) };
      case 'miss':
        return { kind: 'miss' };
      case 'throttle':
        return { kind: 'throttled', backoffMs: action.backoffMs };
      case 'error':
        return { kind: 'error', code: action.code };
      case 'custom':
        return action.reply(sent);
      default:
        return { kind: 'timeout' };
    }
  }
}
