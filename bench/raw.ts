/**
 * The physical baseline: plain node:dgram exchanges against the same emulator process the
 * library talks to. One exchange = one 64-byte NACK out, a 16-byte ACK and the frame back.
 * Like UdpTransport, each socket has at most one request outstanding (a MISS carries no
 * sequence number, so a correct client cannot multiplex one socket per upstream), and the
 * sockets are unconnected (`send(buf, port, address)`).
 */
import { createSocket, type Socket } from 'node:dgram';
import { encodeNack } from '../src/wire/nack.js';
import { FLAG_PROXIED } from '../src/wire/constants.js';

interface Slot {
  socket: Socket;
  nack: Buffer;
  seq: number;
  sentAt: number;
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
  const family = host.includes(':') ? 'udp6' : 'udp4';
  let next = 0;
  let done = 0;
  let lost = 0;
  let stopping = false;
  const slots: Slot[] = [];
  const send = (slot: Slot): void => {
    slot.seq = next++ % frames;
    slot.nack.writeBigUInt64BE(BigInt(slot.seq), 16);
    slot.nack.writeBigUInt64BE(BigInt(slot.seq), 24);
    slot.sentAt = performance.now();
    slot.socket.send(slot.nack, port, host);
  };
  for (let i = 0; i < inFlight; i++) {
    const socket = createSocket(family);
    const slot: Slot = {
      socket,
      nack: Buffer.from(encodeNack({ hashKey, startSeq: 0n, flags: FLAG_PROXIED })),
      seq: 0,
      sentAt: 0,
    };
    socket.on('message', (msg) => {
      if (msg.length === 16) return; // the ACK: keep waiting for the frame
      if (msg.length < 92 || Number(msg.readBigUInt64BE(48)) !== slot.seq) return;
      done++;
      if (!stopping) send(slot);
    });
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
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
  await Promise.all(slots.map((s) => new Promise<void>((r) => s.socket.close(() => r()))));
  return { rate: (exchanges / elapsed) * 1000, exchanges, lost };
}

/** One raw socket doing one exchange at a time (NACK out, wait for the frame). */
export class RawExchanger {
  private readonly nack: Buffer;
  private waiting: { seq: number; resolve: (ms: number) => void; started: number } | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly host: string,
    private readonly port: number,
    hashKey: bigint,
  ) {
    this.nack = Buffer.from(encodeNack({ hashKey, startSeq: 0n, flags: FLAG_PROXIED }));
    socket.on('message', (msg) => {
      const w = this.waiting;
      if (w === undefined || msg.length < 92 || Number(msg.readBigUInt64BE(48)) !== w.seq) return;
      this.waiting = undefined;
      w.resolve(performance.now() - w.started);
    });
  }

  static async open(host: string, port: number, hashKey: bigint): Promise<RawExchanger> {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return new RawExchanger(socket, host, port, hashKey);
  }

  /** Round trip in ms (NACK sent → frame received), or NaN after 200 ms without it. */
  exchange(seq: number): Promise<number> {
    return new Promise<number>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve(NaN);
      }, 200);
      this.nack.writeBigUInt64BE(BigInt(seq), 16);
      this.nack.writeBigUInt64BE(BigInt(seq), 24);
      this.waiting = {
        seq,
        started: performance.now(),
        resolve: (ms) => {
          clearTimeout(timer);
          resolve(ms);
        },
      };
      this.socket.send(this.nack, this.port, this.host);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Round-trip times (NACK sent → frame received), one exchange at a time, in ms. */
export async function rawRoundTrips(
  host: string,
  port: number,
  hashKey: bigint,
  frames: number,
  firstSeq: number,
  count: number,
): Promise<number[]> {
  const raw = await RawExchanger.open(host, port, hashKey);
  const rtts: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const rtt = await raw.exchange((firstSeq + i) % frames);
      if (!Number.isNaN(rtt)) rtts.push(rtt);
    }
  } finally {
    await raw.close();
  }
  return rtts;
}
