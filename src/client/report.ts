import type { EventEmitter } from 'eventemitter3';
import { isThenable, toError } from '../shared/within.js';
import type {
  Component,
  DedupCause,
  DropReason,
  FailReason,
  Logger,
  Recorder,
  UpstreamState,
} from './components.js';
import {
  ComponentError,
  type FaultContext,
  type HealthCause,
  type LastReply,
  type ProxyClientEvents,
} from './events.js';
import type { Counters } from './stats.js';

const HOOKS = [
  'proxyRequest',
  'proxyRecovered',
  'proxyFailed',
  'proxyInflightDedup',
  'proxyQueueDropped',
  'proxyDropped',
  'recoveryLatency',
  'queueDepth',
  'upstreamReply',
  'paced',
  'invalidFrame',
  'upstreamState',
  'componentError',
  'hedge',
  'inflight',
  'unicastRetransmit',
] as const satisfies readonly (keyof Recorder)[];

type Hook = (typeof HOOKS)[number];
type HookFn = (this: Recorder, a?: string | number, b?: string) => unknown;

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** What a recovered gap reports. */
export interface RecoveredFacts {
  upstream: string;
  frame: Uint8Array;
  attempts: number;
  hedged: boolean;
}

/**
 * The one place outcomes are reported: each method updates the counters, the recorder, the
 * logger and the events together, so they always agree. Nothing here throws: a recorder
 * hook or a logger that throws (or rejects) is reported as a fault, a listener that throws
 * is counted and logged.
 */
export class Reporter {
  /** Hooks present on the recorder, read once (a strict Proxy is asked only here). */
  private readonly hooks: Partial<Record<Hook, HookFn>> = {};
  private readonly logger: Logger;
  /** A host logger was given: without one, log records are never even built. */
  readonly logs: boolean;

  constructor(
    private readonly emitter: EventEmitter<ProxyClientEvents>,
    private readonly counters: Counters,
    private readonly recorder: Recorder | undefined,
    logger: Logger | undefined,
  ) {
    this.logger = safeLogger(logger ?? SILENT);
    this.logs = logger !== undefined;
    for (const name of HOOKS) {
      try {
        const fn: unknown = (recorder as Record<string, unknown> | undefined)?.[name];
        if (typeof fn === 'function') this.hooks[name] = fn as HookFn;
      } catch {
        // a getter or Proxy trap that throws: the hook counts as absent
      }
    }
  }

  /** A gap was accepted (one sequence number). */
  requested(): void {
    this.counters.requests++;
    this.record('proxyRequest');
  }

  recovered(hashKey: bigint, seq: bigint, r: RecoveredFacts, latencyMs: number): void {
    this.counters.recovered++;
    this.record('proxyRecovered');
    this.record('recoveryLatency', latencyMs);
    if (this.logs) {
      this.logger.debug(
        { hashKey: hex(hashKey), seq: seq.toString(), upstream: r.upstream, latencyMs },
        'gap recovered',
      );
    }
    if (this.emitter.listenerCount('recovered') > 0) {
      this.emit('recovered', {
        hashKey,
        seq,
        upstream: r.upstream,
        frame: r.frame,
        attempts: r.attempts,
        latencyMs,
        hedged: r.hedged,
      });
    }
  }

  failed(
    hashKey: bigint,
    seq: bigint,
    reason: FailReason,
    attempts: number,
    latencyMs: number,
    lastReply: LastReply | undefined,
  ) {
    this.counters.failed[reason]++;
    this.record('proxyFailed', reason);
    if (this.logs) {
      this.logger.info(
        { hashKey: hex(hashKey), seq: seq.toString(), reason, attempts, latencyMs, lastReply },
        'gap not recovered',
      );
    }
    if (this.emitter.listenerCount('failed') > 0) {
      this.emit('failed', { hashKey, seq, reason, attempts, latencyMs, lastReply });
    }
  }

  /**
   * An upstream's health changed: the `upstream` event, the recorder's `upstreamState`, and
   * a log line (warn when it is demoted, info when it is healthy again, debug for a probe).
   */
  upstream(upstream: string, state: UpstreamState, previous: UpstreamState, cause: HealthCause) {
    this.record('upstreamState', upstream, state);
    const fields = { upstream, state, previous, cause };
    if (state === 'demoted') {
      this.logger.warn(fields, `upstream ${upstream} demoted (${cause})`);
    } else if (state === 'healthy') {
      this.logger.info(fields, `upstream ${upstream} healthy again (${cause})`);
    } else if (this.logs) {
      this.logger.debug(fields, `upstream ${upstream} probed (${cause})`);
    }
    if (this.emitter.listenerCount('upstream') > 0) this.emit('upstream', fields);
  }

  deduped(hashKey: bigint, seq: bigint, cause: DedupCause): void {
    this.counters.deduped[cause]++;
    this.record('proxyInflightDedup');
    if (this.logs) {
      this.logger.debug({ hashKey: hex(hashKey), seq: seq.toString(), cause }, 'gap deduplicated');
    }
    if (this.emitter.listenerCount('deduped') > 0) this.emit('deduped', { hashKey, seq, cause });
  }

  /**
   * An enqueue was refused. A message given as a function is built only for a logger or a
   * listener, so a flood of refused gaps allocates nothing.
   */
  dropped(reason: DropReason, gap: unknown, message: string | (() => string)): false {
    this.counters.dropped[reason]++;
    if (reason === 'queue-full') this.record('proxyQueueDropped');
    this.record('proxyDropped', reason);
    const listened = this.emitter.listenerCount('dropped') > 0;
    if (!this.logs && !listened) return false;
    const text = typeof message === 'string' ? message : message();
    if (this.logs) {
      const { hashKey, seq } = gapFields(gap);
      this.logger.debug({ hashKey, seq, reason, message: text }, 'gap dropped');
    }
    if (listened) this.emit('dropped', { reason, message: text, gap });
    return false;
  }

  /** An injected component threw, rejected or hung: reported, and the client goes on. */
  fault(component: Component, operation: string, thrown: unknown, where: FaultContext = {}) {
    const error = new ComponentError(component, operation, toError(thrown), where);
    this.counters.errors[component]++;
    // A componentError hook that fails is counted, not reported through itself again.
    if (component !== 'recorder' || operation !== 'componentError') {
      this.record('componentError', component);
    }
    this.logger.warn(
      {
        component,
        operation,
        err: error.message,
        hashKey: where.hashKey === undefined ? undefined : hex(where.hashKey),
        seq: where.seq?.toString(),
        upstream: where.upstream,
      },
      `${component}.${operation} failed`,
    );
    this.emit('error', error);
  }

  debug(obj: object, msg: string): void {
    if (this.logs) this.logger.debug(obj, msg);
  }

  /** Calls a recorder hook if it has one; a throw or a rejection is one fault. */
  record(hook: Hook, a?: string | number, b?: string): void {
    const fn = this.hooks[hook];
    if (fn === undefined) return;
    try {
      const out = fn.call(this.recorder as Recorder, a, b);
      if (isThenable(out)) out.then(undefined, (err: unknown) => this.fault('recorder', hook, err));
    } catch (err) {
      this.fault('recorder', hook, err);
    }
  }

  /** Has the recorder this hook? (To skip work done only for it.) */
  has(hook: Hook): boolean {
    return this.hooks[hook] !== undefined;
  }

  /** Emits without letting a throwing listener break the job that emitted. */
  emit<K extends keyof ProxyClientEvents>(name: K, ...args: ProxyClientEvents[K]): void {
    try {
      // Every event has at most one argument: passed as is, without spreading a rest array.
      (this.emitter.emit as (n: K, a?: unknown) => boolean).call(this.emitter, name, args[0]);
    } catch (err) {
      this.counters.errors.listener++;
      this.logger.error({ event: name, err: toError(err).message }, 'event listener threw');
    }
  }
}

/** Wraps the host's logger so a throwing log call never breaks `enqueue()` or a job. */
function safeLogger(logger: Logger): Logger {
  const level =
    (name: keyof Logger) =>
    (obj: object, msg?: string): void => {
      try {
        if (msg === undefined) logger[name](obj);
        else logger[name](obj, msg);
      } catch {
        // A logger cannot report its own failure; the outcome events still go out.
      }
    };
  return { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };
}

export function hex(n: bigint): string {
  return '0x' + n.toString(16);
}

/** HashKey and StartSeq of whatever was passed to `enqueue()`, for a log line; never throws. */
function gapFields(gap: unknown): { hashKey?: string; seq?: string } {
  try {
    const g = gap as { hashKey?: unknown; startSeq?: unknown } | null;
    return {
      hashKey: typeof g?.hashKey === 'bigint' ? hex(g.hashKey) : undefined,
      seq: typeof g?.startSeq === 'bigint' ? g.startSeq.toString() : undefined,
    };
  } catch {
    return {}; // a hostile getter: log without the gap's fields
  }
}
