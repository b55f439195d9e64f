import { createSocket, type Socket } from 'node:dgram';
import { encodeNack, type Nack } from '../../src/index.js';
import { MAGIC, PROTO_VER } from '../../src/wire/index.js';
import {
  UpstreamEmulator,
  loopbackAddress,
  type EmulatorOptions,
  type UdpPeer,
} from '../../src/testing/index.js';

/** One datagram a {@link Peer} received, with its source. */
export interface Datagram {
  bytes: Buffer;
  from: UdpPeer;
}

const opened: (() => Promise<void>)[] = [];

/** Closes every emulator and peer opened by the helpers below (call in `afterEach`). */
export async function closeAll(): Promise<void> {
  for (const close of opened.splice(0).reverse()) await close();
}

/** Starts an emulator on this host's loopback address (or `options.host`). */
export async function emulator(options: EmulatorOptions = {}): Promise<UpstreamEmulator> {
  const up = await UpstreamEmulator.start({ host: await loopbackAddress(), ...options });
  opened.push(() => up.close());
  return up;
}

/** A raw UDP socket that talks to one emulator and keeps everything it receives. */
export class Peer {
  readonly inbox: Datagram[] = [];
  private readonly listeners = new Set<() => void>();

  private constructor(
    private readonly socket: Socket,
    private readonly up: UpstreamEmulator,
  ) {
    socket.on('message', (bytes, rinfo) => {
      this.inbox.push({ bytes, from: { address: rinfo.address, port: rinfo.port } });
      for (const l of this.listeners) l();
    });
  }

  static async open(up: UpstreamEmulator): Promise<Peer> {
    const socket = createSocket(up.host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, up.host, resolve));
    opened.push(() => new Promise((resolve) => socket.close(() => resolve())));
    return new Peer(socket, up);
  }

  /** Sends raw bytes to the emulator's NACK port. */
  send(bytes: Uint8Array): void {
    this.socket.send(bytes, this.up.port, this.up.host);
  }

  /** Sends an encoded NACK. */
  nack(nack: Nack): void {
    this.send(encodeNack(nack));
  }

  /** Resolves once `count` datagrams in total arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs = 2000): Promise<Datagram[]> {
    if (this.inbox.length >= count) return Promise.resolve(this.inbox);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        if (this.inbox.length < count) return;
        clearTimeout(timer);
        this.listeners.delete(done);
        resolve(this.inbox);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(done);
        reject(new Error(`peer got ${this.inbox.length} of ${count} datagrams in ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.add(done);
    });
  }
}

/** A 16-byte response read byte by byte: message type, flags, sequence number. */
export function response(d: Datagram): { type: number; flags: number; seq: bigint } {
  expectResponse(d.bytes);
  return { type: d.bytes[6]!, flags: d.bytes[7]!, seq: d.bytes.readBigUInt64BE(8) };
}

function expectResponse(bytes: Buffer): void {
  if (
    bytes.length !== 16 ||
    bytes.readUInt32BE(0) !== MAGIC ||
    bytes.readUInt16BE(4) !== PROTO_VER
  ) {
    throw new Error(`not a response: ${bytes.toString('hex')}`);
  }
}

/** The datagrams that are data frames (anything but 16-byte responses). */
export function frames(inbox: Datagram[]): Datagram[] {
  return inbox.filter((d) => d.bytes.length !== 16);
}

/**
 * A BRC-142 bundle (FrameVer 0x08): the 66-byte header, then `uint16 length ∥ tx` per
 * member. Built by hand from the published layout so the test does not depend on the
 * library's frame codecs.
 */
export function bundle(hashKey: bigint, seq: bigint, groupIdx: number, txs: Buffer[]): Buffer {
  const members = Buffer.concat(
    txs.map((tx) => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(tx.length);
      return Buffer.concat([len, tx]);
    }),
  );
  const header = Buffer.alloc(66);
  header.writeUInt32BE(MAGIC, 0);
  header.writeUInt16BE(PROTO_VER, 4);
  header[6] = 0x08;
  header.fill(0xab, 8, 40);
  header.writeBigUInt64BE(hashKey, 40);
  header.writeBigUInt64BE(seq, 48);
  header.writeUInt16BE(groupIdx, 56);
  header[58] = 2; // ShardBits
  header.writeUInt16BE(txs.length, 60);
  header.writeUInt32BE(members.length, 62);
  return Buffer.concat([header, members]);
}
