/**
 * How soon `RedisCache.waitFor` sees a frame another writer stores, and how many Redis
 * commands a wait costs: the bounded poll it uses against keyspace notifications, the
 * alternative issue 19 names. Starts its own redis-server on a free loopback port.
 *
 *   node --import tsx bench/redis-wait.ts [--trials N]
 *
 * Prints one table; the figures in `RedisCache.waitFor`'s documentation come from it. What
 * notifications cost every writer was measured with redis-benchmark on the same server:
 *
 *   redis-cli config set notify-keyspace-events 'K$'   # then '' and 'KEA', alternating
 *   redis-benchmark -t set -n 300000 -P 16 -d 300 -r 100000 -q
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisCache } from '../src/redis/index.js';
import { cacheKey } from '../src/wire/index.js';
import { quantile } from './stats.js';

const trialsArg = process.argv.indexOf('--trials');
const TRIALS = trialsArg > 0 ? Number(process.argv[trialsArg + 1]) : 200;
const FRAME = Buffer.alloc(300, 7);
const PREFIX = 'bre:frame:';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function startServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nack-proxy-bench-redis-'));
  const proc = spawn(
    process.env.REDIS_SERVER_BIN ?? 'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; !(await canConnect(port)); i++) {
    if (i > 200 || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      throw new Error('redis-server did not start');
    }
    await sleep(25);
  }
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Calls of `command` since the last CONFIG RESETSTAT. */
async function calls(raw: Redis, command: string): Promise<number> {
  const info = await raw.info('commandstats');
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return m === null ? 0 : Number(m[1]);
}

interface Row {
  method: string;
  case: string;
  p50: number;
  p99: number;
  mean: number;
  commands: number;
}

/** Waits while `raw` stores the frame `delay()` ms later; latency from SET sent to seen. */
async function measure(
  raw: Redis,
  wait: (key: Uint8Array) => Promise<unknown>,
  delay: () => number,
  counted: string[],
  trials: number,
  seq0: bigint,
): Promise<{ latencies: number[]; commands: number }> {
  const latencies: number[] = [];
  await raw.config('RESETSTAT');
  for (let i = 0; i < trials; i++) {
    const key = cacheKey(0xbe7cn, seq0 + BigInt(i));
    const seen = wait(key).then(() => performance.now());
    await sleep(delay());
    const setAt = performance.now();
    await raw.set(Buffer.concat([Buffer.from(PREFIX), key]), FRAME, 'PX', 60_000);
    latencies.push((await seen) - setAt);
  }
  let commands = 0;
  for (const c of counted) commands += await calls(raw, c);
  return { latencies, commands: commands / trials };
}

function row(method: string, name: string, r: { latencies: number[]; commands: number }): Row {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    method,
    case: name,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    mean,
    commands: r.commands,
  };
}

/** A keyspace-notification waiter: SUBSCRIBE, GET (the frame may be there already), wait. */
function keyspaceWaiter(sub: Redis, reader: Redis): (key: Uint8Array) => Promise<unknown> {
  const waiting = new Map<string, () => void>();
  sub.on('messageBuffer', (channel: Buffer) => {
    const key = channel.subarray(channel.indexOf(':') + 1).toString('latin1');
    waiting.get(key)?.();
  });
  return async (key) => {
    const redisKey = Buffer.concat([Buffer.from(PREFIX), key]);
    const channel = Buffer.concat([Buffer.from('__keyspace@0__:'), redisKey]);
    const seen = new Promise<void>((resolve) => waiting.set(redisKey.toString('latin1'), resolve));
    await sub.subscribe(channel);
    const now = await reader.getBuffer(redisKey);
    if (now === null) await seen;
    waiting.delete(redisKey.toString('latin1'));
    await sub.unsubscribe(channel);
  };
}

async function main(): Promise<void> {
  const server = await startServer();
  const raw = new Redis(server.url);
  const cache = new RedisCache({ url: server.url });
  const uniform = (max: number) => () => Math.random() * max;
  const rows: Row[] = [];
  try {
    const poll = (key: Uint8Array) => cache.waitFor(key, { timeoutMs: 5_000 });
    await poll(cacheKey(0n, 0n).fill(1)).catch(() => undefined); // connect
    rows.push(
      row(
        'poll',
        'stored 0–100 ms into the wait',
        await measure(raw, poll, uniform(100), ['get'], TRIALS, 0n),
      ),
    );
    rows.push(
      row(
        'poll',
        'stored 1 s into the wait',
        await measure(raw, poll, () => 1_000, ['get'], Math.min(20, TRIALS), 10_000n),
      ),
    );
    await raw.config('RESETSTAT');
    const started = performance.now();
    await cache.waitFor(cacheKey(1n, 1n), { timeoutMs: 1_000 });
    rows.push({
      method: 'poll',
      case: 'never stored, 1 s timeout',
      p50: performance.now() - started,
      p99: Number.NaN,
      mean: Number.NaN,
      commands: await calls(raw, 'get'),
    });

    await raw.config('SET', 'notify-keyspace-events', 'K$');
    const sub = new Redis(server.url);
    const reader = new Redis(server.url);
    const ks = keyspaceWaiter(sub, reader);
    rows.push(
      row(
        'keyspace',
        'stored 0–100 ms into the wait',
        await measure(raw, ks, uniform(100), ['get', 'subscribe', 'unsubscribe'], TRIALS, 20_000n),
      ),
    );
    sub.disconnect();
    reader.disconnect();

    const f = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(2));
    console.log(
      `trials ${TRIALS}, redis-server on loopback, latency = SET sent → waiter resolved (ms)`,
    );
    console.log(
      'method   | case                            | p50     | p99     | mean    | commands/wait',
    );
    for (const r of rows) {
      console.log(
        `${r.method.padEnd(8)} | ${r.case.padEnd(31)} | ${f(r.p50).padStart(7)} | ${f(r.p99).padStart(7)} | ${f(r.mean).padStart(7)} | ${r.commands.toFixed(1)}`,
      );
    }
  } finally {
    await cache.close();
    raw.disconnect();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
