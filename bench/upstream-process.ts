/**
 * Child process for the benchmarks: runs UpstreamEmulator instances on loopback, so the
 * upstream's CPU work never shares an event loop with the client under test.
 *
 * Started by bench/upstream.ts with `fork(..., { execArgv: ['--import', 'tsx'] })`; driven
 * over the IPC channel. Exits when the parent disconnects.
 */
import { UpstreamEmulator, type EmulatorMode } from '../src/testing/index.js';
import { buildFrame } from '../src/testing/frames.js';

/** A request from the parent. */
export type UpstreamCommand =
  | {
      id: number;
      cmd: 'start';
      host: string;
      mode: EmulatorMode;
      hashKey: string;
      count: number;
      payloadBytes: number;
    }
  | { id: number; cmd: 'stats' }
  | { id: number; cmd: 'close' };

/** The answer to one request. */
export interface UpstreamAnswer {
  id: number;
  endpoint?: string;
  host?: string;
  port?: number;
  stats?: unknown[];
  /** `process.cpuUsage()` of the emulator process, µs. */
  cpu?: { user: number; system: number };
  error?: string;
}

const emulators: UpstreamEmulator[] = [];

async function handle(c: UpstreamCommand): Promise<UpstreamAnswer> {
  switch (c.cmd) {
    case 'start': {
      // The reference server's reply pattern, without its rate limits: the benchmarks
      // measure speed, and pace nothing (the clients under test run with nackRate: false).
      const upstream = await UpstreamEmulator.start({
        host: c.host,
        behaviour: { mode: c.mode },
        retryEndpoint: { limits: false },
        recordLimit: 0,
      });
      const hashKey = BigInt(c.hashKey);
      const payload = Buffer.alloc(c.payloadBytes, 0x5a);
      for (let s = 0; s < c.count; s++) {
        upstream.put(buildFrame({ hashKey, seq: BigInt(s), payload }));
      }
      emulators.push(upstream);
      return { id: c.id, endpoint: upstream.endpoint, host: upstream.host, port: upstream.port };
    }
    case 'stats':
      return { id: c.id, stats: emulators.map((e) => e.stats()), cpu: process.cpuUsage() };
    case 'close':
      await Promise.all(emulators.map((e) => e.close()));
      emulators.length = 0;
      return { id: c.id };
  }
}

process.on('message', (msg: UpstreamCommand) => {
  handle(msg).then(
    (answer) => process.send?.(answer),
    (err: unknown) => process.send?.({ id: msg.id, error: String(err) }),
  );
});
process.on('disconnect', () => {
  void Promise.all(emulators.map((e) => e.close())).then(() => process.exit(0));
});
process.send?.({ id: 0 });
