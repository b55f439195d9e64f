/**
 * The baseline: the fastest correct client written with plain node:dgram, against the same
 * emulator process the library talks to. One exchange = one 64-byte NACK out; the frame
 * copy back from the server's unicast socket (another port) and its ACK from the NACK port.
 *
 * Correct means what the library must do too: one exchange outstanding per connection (a
 * MISS carries no sequence number), a socket connected to the upstream (faster than an
 * unconnected one, ~8% measured, and it hears ICMP errors), and beside it an unconnected
 * socket on the same port for the frame copy, which a connected socket would never see.
 * No validation beyond the sequence number, no timers, no policy: the physical limit.
 */
import { createSocket, type Socket } from 'node:dgram';
import { encodeNack } from '../src/wire/nack.js';
import { FLAG_PROXIED } from '../src/wire/constants.js';

/** A connected NACK socket and the frame socket sharing its local port. */
export interface Pair {
  nack: Socket;
  frames: Socket;
}

function bound(socket: Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

/** Opens a pair connected to `host:port`. */
export async function openPair(host: string, port: number): Promise<Pair> {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  const nack = createSocket({ type, reuseAddr: true });
  const frames = createSocket({ type, reuseAddr: true });
  await bound(nack, 0, host);
  await bound(frames, nack.address().port, host);
  await new Promise<void>((resolve) => nack.connect(port, host, resolve));
  nack.on('message', () => undefined); // the ACK
  return { nack, frames };
}

export function closePair(p: Pair): Promise<void> {
  const close = (s: Socket): Promise<void> => new Promise((r) => s.close(() => r()));
  return Promise.all([close(p.nack), close(p.frames)]).then(() => undefined);
}

function nackFor(hashKey: bigint): Buffer {
  return Buffer.from(encodeNack({ hashKey, startSeq: 0n, flags: FLAG_PROXIED }));
}

function setSeq(nack: Buffer, seq: number): void {
  nack.writeBigUInt64BE(BigInt(seq), 16);
  nack.writeBigUInt64BE(BigInt(seq), 24);
}

/** Exchanges per second with `inFlight` exchanges outstanding, for `durationMs`. */
export async function rawThroughput(
  host: string,
  port: number,
  hashKey: bigint,
  frames: number,
  inFlight: number,
  durationMs: number,
): Promise<{ rate: number; exchanges: number; lost: number }> {
  let next = 0;
  let done = 0;
  let lost = 0;
  let stopping = false;
  const slots: { pair: Pair; nack: Buffer; seq: number; sentAt: number }[] = [];
  const send = (slot: (typeof slots)[number]): void => {
    slot.seq = next++ % frames;
    setSeq(slot.nack, slot.seq);
    slot.sentAt = performance.now();
    slot.pair.nack.send(slot.nack);
  };
  for (let i = 0; i < inFlight; i++) {
    const slot = { pair: await openPair(host, port), nack: nackFor(hashKey), seq: 0, sentAt: 0 };
    slot.pair.frames.on('message', (msg) => {
      if (msg.length < 92 || Number(msg.readBigUInt64BE(48)) !== slot.seq) return;
      done++;
      if (!stopping) send(slot);
    });
    slots.push(slot);
  }
  // A datagram lost on loopback would stall its slot: re-send after 200 ms of silence.
  const watchdog = setInterval(() => {
    const t = performance.now();
    for (const s of slots) {
      if (!stopping && t - s.sentAt > 200) {
        lost++;
        send(s);
      }
    }
  }, 50);
  const started = performance.now();
  for (const s of slots) send(s);
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const elapsed = performance.now() - started;
  const exchanges = done;
  stopping = true;
  clearInterval(watchdog);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await Promise.all(slots.map((s) => closePair(s.pair)));
  return { rate: (exchanges / elapsed) * 1000, exchanges, lost };
}

/** One pair doing one exchange at a time (NACK out, wait for the frame). */
export class RawExchanger {
  private readonly nack: Buffer;
  private waiting: { seq: number; resolve: (ms: number) => void; started: number } | undefined;

  private constructor(
    private readonly pair: Pair,
    hashKey: bigint,
  ) {
    this.nack = nackFor(hashKey);
    pair.frames.on('message', (msg) => {
      const w = this.waiting;
      if (w === undefined || msg.length < 92 || Number(msg.readBigUInt64BE(48)) !== w.seq) return;
      this.waiting = undefined;
      w.resolve(performance.now() - w.started);
    });
  }

  static async open(host: string, port: number, hashKey: bigint): Promise<RawExchanger> {
    return new RawExchanger(await openPair(host, port), hashKey);
  }

  /** Round trip in ms (NACK sent → frame received), or NaN after 200 ms without it. */
  exchange(seq: number): Promise<number> {
    return new Promise<number>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve(NaN);
      }, 200);
      setSeq(this.nack, seq);
      this.waiting = {
        seq,
        started: performance.now(),
        resolve: (ms) => {
          clearTimeout(timer);
          resolve(ms);
        },
      };
      this.pair.nack.send(this.nack);
    });
  }

  close(): Promise<void> {
    return closePair(this.pair);
  }
}
