/**
 * Starts a real `redis-server` on a free loopback port in a temporary directory, for tests.
 * Where redis-server is missing the Redis tests are skipped with a notice, unless
 * NACK_PROXY_REQUIRE_REDIS=1 (set by CI), which turns the skip into a failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, it } from 'vitest';

/** Environment variable that makes a missing redis-server fail the Redis tests. */
export const REQUIRE_REDIS_ENV = 'NACK_PROXY_REQUIRE_REDIS';

/** Path of the redis-server binary (`REDIS_SERVER_BIN` or the PATH), or undefined. */
export function findRedisServer(): string | undefined {
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 5_000 });
  return probe.status === 0 ? bin : undefined;
}

const redisBin = findRedisServer();

/**
 * `describe` for tests that need redis-server: runs them when it is installed, otherwise
 * skips them with a notice, or fails when {@link REQUIRE_REDIS_ENV} is `1`.
 */
export function describeRedis(name: string, body: () => void): void {
  if (redisBin !== undefined) {
    describe(name, body);
  } else if (process.env[REQUIRE_REDIS_ENV] === '1') {
    describe(name, () => {
      it('needs redis-server', () => {
        throw new Error(
          `${REQUIRE_REDIS_ENV}=1 but redis-server is not installed (PATH or REDIS_SERVER_BIN)`,
        );
      });
    });
  } else {
    console.warn(
      `[nack-proxy] redis-server not found: skipping "${name}". Install it (apt-get install ` +
        `redis-server) to run these tests; ${REQUIRE_REDIS_ENV}=1 makes this a failure.`,
    );
    describe.skip(`${name} (skipped: redis-server not installed)`, body);
  }
}

/** A running redis-server that a test owns. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Stops the server (keeps port and directory for {@link RedisServer.start}). */
  stop(): Promise<void>;
  /** Starts it again on the same port, with an empty dataset. */
  start(): Promise<void>;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
}

/** Starts redis-server on a free 127.0.0.1 port; resolves once it accepts connections. */
export async function startRedisServer(): Promise<RedisServer> {
  if (redisBin === undefined) throw new Error('redis-server is not installed');
  const bin = redisBin;
  const dir = mkdtempSync(join(tmpdir(), 'nack-proxy-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
    args.push('--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning');
    const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await waitForPort(port, proc, 10_000);
    } catch (err) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not start on ${port}: ${String(err)} ${stderr}`, {
        cause: err,
      });
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls until a TCP connection to the port succeeds, the process exits, or time runs out. */
async function waitForPort(port: number, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`exited with code ${proc.exitCode}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setTimeout(500);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/**
 * For one `describeRedis` block: a real redis-server started before its tests and stopped
 * after them, and a raw ioredis client to look into it, flushed before each test. Tests may
 * stop and start the server; the raw client reconnects by itself.
 */
export function useRedisServer(): { readonly server: RedisServer; readonly raw: Redis } {
  let server: RedisServer | undefined;
  let raw: Redis | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
    raw = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    raw.on('error', () => undefined); // reconnect noise while a test stops the server
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.close();
  });
  beforeEach(async () => {
    if (raw?.status === 'wait') await raw.connect();
    await raw?.flushall();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useRedisServer: used outside a test');
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get raw() {
      return started(raw);
    },
  };
}
