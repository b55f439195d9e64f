/**
 * The library under test, loaded from `dist/` (the tsc build, as users run it), not from
 * `src/` through tsx: tsx compiles with esbuild's keepNames, which wraps every closure the
 * library creates per recovery in a naming helper and measured ~1 µs per recovery extra.
 * `npm run bench` builds first. Types come from `src/`.
 */
type Lib = typeof import('../src/index.js');

const dist = process.env.LIB_DIST ?? new URL('../dist/index.js', import.meta.url).href;

export const { ProxyClient, UdpTransport } = (await import(dist)) as Lib;
export type ProxyClient = InstanceType<Lib['ProxyClient']>;
export type { RecoveredEvent } from '../src/index.js';
