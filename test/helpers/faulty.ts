import type { Recorder } from '../../src/client/components.js';
import type { ExchangeOptions, Reply, Transport } from '../../src/transport/transport.js';

/** How a faulty component misbehaves. */
export type Mode = 'throw' | 'reject' | 'hang';

/** Makes a value of the given mode: throws now, returns a rejected or a never-settling promise. */
function misbehave(mode: Mode, what: string): Promise<never> {
  if (mode === 'throw') throw new Error(`${what}: injected throw`);
  if (mode === 'reject') return Promise.reject(new Error(`${what}: injected rejection`));
  return new Promise<never>(() => undefined);
}

type Hook = keyof Recorder;

/**
 * A Recorder whose every hook, required and optional, misbehaves while `mode` is set
 * (hosts do pass `async` hooks, whose failures are rejections). Counts the calls.
 */
export class FaultyRecorder implements Recorder {
  mode: Mode | undefined;
  /** Calls per hook, while misbehaving and not. */
  readonly calls: Record<string, number> = {};
  /** Calls made while misbehaving. */
  faultyCalls = 0;

  private hook(name: Hook): void {
    this.calls[name] = (this.calls[name] ?? 0) + 1;
    if (this.mode === undefined) return;
    this.faultyCalls++;
    // The interface says `void`; an async hook returns a promise anyway.
    return misbehave(this.mode, `recorder.${name}`) as unknown as void;
  }

  proxyRequest(): void {
    return this.hook('proxyRequest');
  }
  proxyRecovered(): void {
    return this.hook('proxyRecovered');
  }
  proxyFailed(): void {
    return this.hook('proxyFailed');
  }
  proxyInflightDedup(): void {
    return this.hook('proxyInflightDedup');
  }
  proxyQueueDropped(): void {
    return this.hook('proxyQueueDropped');
  }
  proxyDropped(): void {
    return this.hook('proxyDropped');
  }
  recoveryLatency(): void {
    return this.hook('recoveryLatency');
  }
  queueDepth(): void {
    return this.hook('queueDepth');
  }
  upstreamReply(): void {
    return this.hook('upstreamReply');
  }
}

/**
 * A transport that misbehaves for the upstreams in `broken` and delegates the others.
 * Besides throw/reject/hang it can resolve values that are not Replies.
 */
export class FaultyTransport implements Transport {
  readonly calls: string[] = [];

  constructor(
    private readonly inner: Transport,
    readonly broken: Map<string, Mode | 'garbage' | 'bad-frame'>,
  ) {}

  exchange(upstream: string, nack: Uint8Array, options: ExchangeOptions): Promise<Reply> {
    this.calls.push(upstream);
    const mode = this.broken.get(upstream);
    if (mode === undefined) return this.inner.exchange(upstream, nack, options);
    if (mode === 'garbage') return Promise.resolve(null as unknown as Reply);
    if (mode === 'bad-frame') {
      return Promise.resolve({ kind: 'frame', frame: 'not bytes' as unknown as Uint8Array });
    }
    return misbehave(mode, 'transport.exchange');
  }

  stats(): Record<string, number> {
    return this.inner.stats?.() ?? {};
  }
}
