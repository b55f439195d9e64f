import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { MulticastRetransmitter } from '../../src/multicast/index.js';
import { FrameVer } from '../../src/wire/index.js';
import { buildFrame } from '../../src/testing/frames.js';
import { useLeakCheck } from '../helpers/leaks.js';
import { beefFrame, bundleFrame, fragmentFrame, key32, topicId } from '../helpers/spec-frames.js';

// Every socket here is bound to ::1 or, for multicast, joined on the loopback interface with
// hop limit 0 (Linux never transmits such packets; it only loops them back locally).
const LO = '::%lo';
const leaks = useLeakCheck();

async function receiver(address: string, group?: string): Promise<Socket> {
  const socket = createSocket({ type: 'udp6', reuseAddr: true });
  leaks.defer(() => new Promise<void>((r) => socket.close(() => r())));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => resolve());
  });
  if (group !== undefined) socket.addMembership(group, LO);
  return socket;
}

function nextMessages(socket: Socket, count: number, timeoutMs = 2_000): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`received ${got.length}/${count} datagrams in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('message', (msg) => {
      got.push(msg);
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

/** Whether this machine loops IPv6 multicast back on `lo` (many containers cannot). */
async function loopbackMulticastWorks(): Promise<boolean> {
  const group = 'ff05::b:7ff0';
  const rx = createSocket({ type: 'udp6', reuseAddr: true });
  const tx = createSocket({ type: 'udp6' });
  try {
    await new Promise<void>((r) => rx.bind(0, '::', () => r()));
    await new Promise<void>((r) => tx.bind(0, '::', () => r()));
    rx.addMembership(group, LO);
    tx.setMulticastInterface(LO);
    tx.setMulticastTTL(0);
    const arrived = nextMessages(rx, 1, 300).then(
      () => true,
      () => false,
    );
    tx.send('probe', rx.address().port, group, () => undefined);
    return await arrived;
  } catch {
    return false;
  } finally {
    rx.close();
    tx.close();
  }
}

const multicastOnLo = await loopbackMulticastWorks();
const txFrame = buildFrame({ hashKey: 0x1122n, seq: 77n, txId: Buffer.alloc(32, 0xc3) });

describe('MulticastRetransmitter over loopback', () => {
  // One test, two paths: real multicast where the kernel loops it back on lo, otherwise the
  // unicast route override to ::1. The test name says which path ran.
  it(
    multicastOnLo
      ? 'receives a retransmitted frame through real IPv6 multicast on lo (group ff05::b:c3)'
      : 'receives a retransmitted frame via the unicast route override to ::1 (this machine cannot loop IPv6 multicast back on lo)',
    async () => {
      const group = new MulticastRetransmitter({ port: 9 }).groupAddressFor(txFrame);
      expect(group).toBe('ff05::b:c3');
      const rx = multicastOnLo ? await receiver('::', group) : await receiver('::1');
      const port = rx.address().port;
      const mt = new MulticastRetransmitter(
        multicastOnLo
          ? { port, interfaces: ['lo'], hopLimit: 0 }
          : { port, route: () => ({ address: '::1', port }) },
      );
      leaks.closeAfter(mt);
      const got = nextMessages(rx, 1);
      await mt.retransmit(txFrame, txFrame.subarray(8, 40));
      expect((await got)[0]!.equals(txFrame)).toBe(true);
    },
  );

  it('route override sends each frame to the given destination, told its group', async () => {
    const rx = await receiver('::1');
    const routed: string[] = [];
    const mt = new MulticastRetransmitter({
      port: 9,
      shardBits: 4,
      beefShardBits: 12,
      scope: 'org',
      route: (group) => {
        routed.push(group);
        return { address: '::1', port: rx.address().port };
      },
    });
    leaks.closeAfter(mt);
    const block = buildFrame({ hashKey: 5n, seq: 6n, frameVer: FrameVer.Block });
    // SHA-256('tm_ship') starts 0xefeffdf8: BEEF group 0x1000 + 0xefe at 12 bits.
    const beef = beefFrame({ topicId: topicId('tm_ship'), contentId: key32(0xc3000000) });
    const bundle = bundleFrame({ groupIdx: 0x0042, subtreeId: key32(0xd0000000) });
    const beefPart = fragmentFrame({
      origFrameVer: 0x09,
      id: key32(0xc3000000),
      at56: key32(0x0123abcd),
    });
    const frames = [txFrame, block, beef, bundle, beefPart];
    const got = nextMessages(rx, frames.length);
    for (const frame of frames) await mt.retransmit(frame, frame.subarray(8, 40));
    const hex = (list: Uint8Array[]) => list.map((f) => Buffer.from(f).toString('hex')).sort();
    expect(hex(await got)).toEqual(hex(frames)); // every frame verbatim
    expect(routed).toEqual([
      'ff08::b:c',
      'ff08::b:fffe',
      'ff08::b:1efe',
      'ff08::b:42',
      'ff08::b:1012',
    ]);
  });

  it('sends once per egress interface', async () => {
    const rx = await receiver('::1');
    const mt = new MulticastRetransmitter({
      port: 9,
      interfaces: ['lo', '::%lo'],
      hopLimit: 0,
      route: () => ({ address: '::1', port: rx.address().port }),
    });
    leaks.closeAfter(mt);
    const got = nextMessages(rx, 2);
    await mt.retransmit(txFrame, txFrame.subarray(8, 40));
    const copies = await got;
    expect(copies.every((c) => c.equals(txFrame))).toBe(true);
  });
});

describe('MulticastRetransmitter errors', () => {
  it('rejects invalid options at construction, naming the option', () => {
    expect(() => new MulticastRetransmitter({ port: 0 })).toThrow(/port .*got 0/);
    expect(() => new MulticastRetransmitter({ port: 70000 })).toThrow(/port/);
    expect(() => new MulticastRetransmitter({ port: 9, hopLimit: 256 })).toThrow(/hopLimit/);
    expect(() => new MulticastRetransmitter({ port: 9, shardBits: 16 })).toThrow(/shardBits/);
    expect(() => new MulticastRetransmitter({ port: 9, shardBits: 13 })).toThrow(
      /^shardBits must be an integer in 0\.\.12 .*got 13$/,
    );
    expect(() => new MulticastRetransmitter({ port: 9, beefShardBits: 16 })).toThrow(
      /^beefShardBits must be an integer in 0\.\.15 .*got 16$/,
    );
  });

  it('rejects a retransmit on an unknown egress interface and one after close', async () => {
    const mt = new MulticastRetransmitter({
      port: 9,
      interfaces: ['no-such-if0'],
      route: () => ({ address: '::1', port: 9 }),
    });
    leaks.closeAfter(mt);
    await expect(mt.retransmit(txFrame, txFrame.subarray(8, 40))).rejects.toThrow(/no-such-if0/);
    await mt.close();
    await expect(mt.retransmit(txFrame, txFrame.subarray(8, 40))).rejects.toThrow(/closed/);
  });

  it('rejects bytes that are not a data frame without sending', async () => {
    const mt = new MulticastRetransmitter({ port: 9, route: () => ({ address: '::1', port: 9 }) });
    leaks.closeAfter(mt);
    await expect(mt.retransmit(Buffer.alloc(120), Buffer.alloc(32))).rejects.toThrow(/magic/);
  });
});

describe('MulticastRetransmitter.retransmitUnicast', () => {
  async function receiver4(address = '127.0.0.1'): Promise<Socket> {
    const socket = createSocket({ type: 'udp4' });
    leaks.defer(() => new Promise<void>((r) => socket.close(() => r())));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => resolve());
    });
    return socket;
  }

  function nextWithSource(socket: Socket, timeoutMs = 2_000): Promise<[Buffer, RemoteInfo]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nothing in ${timeoutMs} ms`)), timeoutMs);
      socket.once('message', (msg, rinfo) => {
        clearTimeout(timer);
        resolve([msg, rinfo]);
      });
    });
  }

  it('sends the exact bytes to the requester over IPv4, from one socket reused', async () => {
    const rx = await receiver4();
    const mt = leaks.closeAfter(new MulticastRetransmitter({ port: 9 }));
    const requester = { address: '127.0.0.1', port: rx.address().port };
    const first = nextWithSource(rx);
    await mt.retransmitUnicast(txFrame, requester);
    const [bytes, from] = await first;
    expect(bytes.equals(txFrame)).toBe(true);
    expect(from.address).toBe('127.0.0.1'); // the kernel's choice for a loopback route
    const other = buildFrame({ hashKey: 0x1122n, seq: 78n, payload: Buffer.alloc(900, 7) });
    const second = nextWithSource(rx);
    await mt.retransmitUnicast(other, requester);
    const [bytes2, from2] = await second;
    expect(bytes2.equals(other)).toBe(true);
    expect(from2.port).toBe(from.port);
  });

  it('sends from unicastSourceAddress (127.0.0.2: another loopback address)', async () => {
    const rx = await receiver4();
    const mt = leaks.closeAfter(
      new MulticastRetransmitter({ port: 9, unicastSourceAddress: '127.0.0.2' }),
    );
    const got = nextWithSource(rx);
    await mt.retransmitUnicast(txFrame, { address: '127.0.0.1', port: rx.address().port });
    const [bytes, from] = await got;
    expect(bytes.equals(txFrame)).toBe(true);
    expect(from.address).toBe('127.0.0.2');
  });

  it('uses a socket per family: IPv6 requesters from the IPv6 source address', async () => {
    const rx6 = await receiver('::1');
    const rx4 = await receiver4();
    const mt = leaks.closeAfter(
      new MulticastRetransmitter({ port: 9, unicastSourceAddress: ['::1', '127.0.0.2'] }),
    );
    const got6 = nextWithSource(rx6);
    const got4 = nextWithSource(rx4);
    await mt.retransmitUnicast(txFrame, { address: '::1', port: rx6.address().port });
    await mt.retransmitUnicast(txFrame, { address: '127.0.0.1', port: rx4.address().port });
    const [[b6, from6], [b4, from4]] = await Promise.all([got6, got4]);
    expect(b6.equals(txFrame) && b4.equals(txFrame)).toBe(true);
    expect([from6.family, from6.address]).toEqual(['IPv6', '::1']);
    expect([from4.family, from4.address]).toEqual(['IPv4', '127.0.0.2']);
  });

  it('sends an IPv4-mapped requester as IPv4 when only an IPv4 source is set', async () => {
    const rx = await receiver4();
    const mt = leaks.closeAfter(
      new MulticastRetransmitter({ port: 9, unicastSourceAddress: '127.0.0.2' }),
    );
    const got = nextWithSource(rx);
    await mt.retransmitUnicast(txFrame, { address: '::ffff:127.0.0.1', port: rx.address().port });
    expect((await got)[1].address).toBe('127.0.0.2');
  });

  it('rejects a bad requester with a clear error, sending nothing', async () => {
    const rx = await receiver4();
    const mt = leaks.closeAfter(new MulticastRetransmitter({ port: 9 }));
    const port = rx.address().port;
    const bad: Array<[unknown, RegExp]> = [
      [undefined, /requester must be an object \{ address, port \}, got undefined/],
      [null, /requester must be an object .*got null/],
      [
        { address: 'relay.example', port },
        /requester.address must be an IP address, got "relay.example"/,
      ],
      [{ port }, /requester.address must be an IP address, got undefined/],
      [{ address: '127.0.0.1', port: 0 }, /requester.port must be an integer in 1..65535, got 0/],
      [{ address: '127.0.0.1', port: 65536 }, /requester.port .*got 65536/],
      [{ address: '127.0.0.1', port: 80.5 }, /requester.port .*got 80.5/],
      [{ address: '127.0.0.1', port: String(port) }, /requester.port .*got \d+/],
    ];
    for (const [requester, message] of bad) {
      await expect(
        mt.retransmitUnicast(txFrame, requester as { address: string; port: number }),
      ).rejects.toThrow(message);
    }
    await expect(mt.retransmitUnicast(txFrame, { address: '127.0.0.1', port })).resolves.toBe(
      undefined,
    );
    await expect(
      mt.retransmitUnicast(new Uint8Array(0), { address: '127.0.0.1', port }),
    ).rejects.toThrow(/frame must be non-empty bytes/);
  });

  it('refuses a requester of a family unicastSourceAddress has no address for', async () => {
    const mt = leaks.closeAfter(
      new MulticastRetransmitter({ port: 9, unicastSourceAddress: '127.0.0.2' }),
    );
    await expect(mt.retransmitUnicast(txFrame, { address: '::1', port: 9 })).rejects.toThrow(
      /requester ::1 is IPv6, but unicastSourceAddress \(127\.0\.0\.2\) has no IPv6 address/,
    );
  });

  it('refuses a bad unicastSourceAddress at construction, naming the option', () => {
    expect(() => new MulticastRetransmitter({ port: 9, unicastSourceAddress: 'lo' })).toThrow(
      /^unicastSourceAddress must be an IP address or a list of them, got "lo"$/,
    );
    expect(
      () => new MulticastRetransmitter({ port: 9, unicastSourceAddress: ['::1', '::2'] }),
    ).toThrow(/unicastSourceAddress has two IPv6 addresses/);
  });

  it('rejects a source address it cannot bind, then a send after close', async () => {
    // 192.0.2.1 (TEST-NET-1) is not an address of this host: bind fails with EADDRNOTAVAIL.
    const mt = leaks.closeAfter(
      new MulticastRetransmitter({ port: 9, unicastSourceAddress: '192.0.2.1' }),
    );
    await expect(mt.retransmitUnicast(txFrame, { address: '127.0.0.1', port: 9 })).rejects.toThrow(
      /cannot bind 192\.0\.2\.1.*EADDRNOTAVAIL/,
    );
    await mt.close();
    await expect(mt.retransmitUnicast(txFrame, { address: '127.0.0.1', port: 9 })).rejects.toThrow(
      /closed/,
    );
  });
});
