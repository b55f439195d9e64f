import type { RemoteInfo } from 'node:dgram';
import { MAGIC, MsgType, PROTO_VER, RESPONSE_SIZE } from '../wire/constants.js';
import { decodeResponse } from '../wire/response.js';
import { frameMismatch } from '../wire/match.js';
import { MAX_TIMER_MS } from '../shared/within.js';
import { canonicalIp } from './address.js';
import type { Line, LineUser } from './lines.js';
import type { Target } from './resolver.js';
import type { ExchangeOptions, Reply } from './transport.js';
import type { UdpTransportStats } from './udp-options.js';

/** What an {@link Exchange} needs from the transport that started it. */
export interface ExchangeHost {
  count(name: keyof UdpTransportStats): void;
  /** True when a frame from `address` may answer an exchange with `target`. */
  frameSourceOk(address: string, target: Target): boolean;
  /** The exchange on `line` ended; `answered` is false when a late reply may still come. */
  ended(line: Line, answered: boolean): void;
  watch(signal: AbortSignal, exchange: Exchange): void;
  unwatch(signal: AbortSignal, exchange: Exchange): void;
}

/** The ICMP errors a connected UDP socket reports for an upstream that cannot be reached. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

/** One NACK waiting for its reply on one line. */
export class Exchange implements LineUser {
  private settled = false;
  private acked = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transport: ExchangeHost,
    private readonly line: Line,
    private readonly options: ExchangeOptions,
    private readonly resolve: (reply: Reply) => void,
  ) {}

  start(timeoutMs: number): void {
    this.timer = setTimeout(timedOut, Math.min(timeoutMs, MAX_TIMER_MS), this);
    const signal = this.options.signal;
    if (signal !== undefined) this.transport.watch(signal, this);
  }

  aborted(): void {
    this.end({ kind: 'error', code: 'aborted' });
  }

  closed(): void {
    this.end({ kind: 'error', code: 'closed' });
  }

  timeout(): void {
    this.end({ kind: 'timeout', acked: this.acked });
  }

  failed(line: Line, err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && UNREACHABLE.has(code)) {
      this.transport.count('unreachable');
      this.end({ kind: 'error', code: 'unreachable', error: err });
    } else {
      this.end({ kind: 'error', code: line.closed ? 'closed' : 'send', error: err });
    }
  }

  datagram(line: Line, msg: Buffer, rinfo: RemoteInfo, viaNackSocket: boolean): void {
    const t = this.transport;
    const target = line.target;
    // A connected socket only hears its peer; an unconnected one must check.
    const fromPeer =
      viaNackSocket &&
      (line.connected || (rinfo.port === target.port && sameHost(rinfo.address, target.address)));
    if (msg.length === RESPONSE_SIZE) {
      if (!fromPeer) t.count('foreignSource');
      else if (isTrailingAck(msg, line)) t.count('trailingAcks');
      else this.response(msg);
      return;
    }
    if (!fromPeer && !t.frameSourceOk(rinfo.address, target)) {
      t.count('foreignSource');
      return;
    }
    const o = this.options;
    const m = frameMismatch(msg, o.hashKey, o.seq);
    if (m === 'malformed') t.count('malformed');
    else if (m === 'legacy') t.count('legacyFrame');
    else if (m === 'wrong-gap') t.count('wrongGap');
    else if (o.accept !== undefined && !o.accept(msg)) t.count('rejectedFrames');
    else {
      line.lastFrameSeq = o.seq;
      this.end({ kind: 'frame', frame: msg });
    }
  }

  private response(msg: Buffer): void {
    const t = this.transport;
    let r;
    try {
      r = decodeResponse(msg);
    } catch {
      t.count('malformed');
      return;
    }
    if (r.kind === 'miss') {
      this.end({ kind: 'miss' });
    } else if (r.seq !== this.options.seq) {
      t.count('mismatchedSeq');
    } else if (r.kind === 'ack') {
      t.count('acks');
      this.acked = true;
    } else {
      this.end({ kind: 'throttled', backoffMs: r.backoffMs });
    }
  }

  /** @internal Settles the exchange once. */
  end(reply: Reply): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    const signal = this.options.signal;
    if (signal !== undefined) this.transport.unwatch(signal, this);
    // A timeout or an abort leaves a NACK unanswered: its reply may still come.
    const answered =
      reply.kind !== 'timeout' && !(reply.kind === 'error' && reply.code === 'aborted');
    this.transport.ended(this.line, answered);
    this.resolve(reply);
  }
}

/**
 * An ACK for the frame the line received last (bytes read in place: a 16-byte reply with
 * this protocol's magic and version, so junk that only looks like one is not taken for it).
 */
export function isTrailingAck(msg: Buffer, line: Line): boolean {
  return (
    line.lastFrameSeq !== undefined &&
    msg.length === RESPONSE_SIZE &&
    msg[6] === MsgType.Ack &&
    msg.readUInt32BE(0) === MAGIC &&
    msg.readUInt16BE(4) === PROTO_VER &&
    msg.readBigUInt64BE(8) === line.lastFrameSeq
  );
}

function timedOut(exchange: Exchange): void {
  exchange.timeout();
}

/** True when two IP addresses name the same host (`a` as a socket reported it). */
export function sameHost(a: string, canonical: string): boolean {
  return a === canonical || (a.includes(':') && canonicalIp(a) === canonical);
}
