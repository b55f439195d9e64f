import { createSocket } from 'node:dgram';

let probed: Promise<'::1' | '127.0.0.1'> | undefined;

/**
 * The loopback address to use on this host: `::1` when an IPv6 UDP socket can bind it,
 * otherwise `127.0.0.1` (containers and CI runners often have IPv6 disabled). Probed once
 * per process. The environment variable `NACK_PROXY_LOOPBACK` (`::1` or `127.0.0.1`)
 * overrides the probe.
 *
 * @example
 * ```ts
 * const upstream = await UpstreamEmulator.start({ host: await loopbackAddress() });
 * ```
 */
export function loopbackAddress(): Promise<'::1' | '127.0.0.1'> {
  const forced = process.env.NACK_PROXY_LOOPBACK;
  if (forced === '::1' || forced === '127.0.0.1') return Promise.resolve(forced);
  probed ??= new Promise((resolve) => {
    const socket = createSocket('udp6');
    socket.once('error', () => {
      socket.close();
      resolve('127.0.0.1');
    });
    socket.bind(0, '::1', () => socket.close(() => resolve('::1')));
  });
  return probed;
}

/** `host:port`, bracketing IPv6 addresses (`[::1]:9300`), as `upstreams` entries are written. */
export function formatEndpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
