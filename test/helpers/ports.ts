import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';

/** A UDP address and port, as an upstream saw a client's NACK come from it. */
export interface Peer {
  address: string;
  port: number;
}

/**
 * True when nothing listens on `peer` any more: a probe from a socket connected to it gets
 * ICMP port unreachable (`ECONNREFUSED`). An idle socket of the transport is `unref()`ed,
 * so `process.getActiveResourcesInfo()` no longer shows it; this asks the kernel instead.
 * A port still open gets the probe and says nothing, so each try waits `waitMs` (a bound,
 * spent only when the port is open) and is repeated, in case the ICMP error was rate-limited.
 */
export async function isPortClosed(peer: Peer, tries = 3, waitMs = 300): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await probe(peer, waitMs)) return true;
  }
  return false;
}

/**
 * The peers of `peers` (deduplicated) on which something still listens, at most `limit`
 * of them (each open port costs the probe's whole bound).
 */
export async function stillOpen(peers: Iterable<Peer>, limit = 3): Promise<string[]> {
  const open: string[] = [];
  const seen = new Set<string>();
  for (const p of peers) {
    const key = `${p.address}|${p.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!(await isPortClosed(p))) open.push(key);
    if (open.length >= limit) break;
  }
  return open;
}

function probe(peer: Peer, waitMs: number): Promise<boolean> {
  const socket = createSocket(isIP(peer.address) === 6 ? 'udp6' : 'udp4');
  return new Promise<boolean>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const done = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(closed);
    };
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
    socket.connect(peer.port, peer.address, () => {
      socket.send(Buffer.alloc(1), (err) => {
        if (err) done((err as NodeJS.ErrnoException).code === 'ECONNREFUSED');
        else timer = setTimeout(done, waitMs, false);
      });
    });
  });
}
