/** Parent side of bench/upstream-process.ts: starts the child and talks to it over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EmulatorMode } from '../src/testing/index.js';
import type { UpstreamAnswer, UpstreamCommand } from './upstream-process.js';

type Request = UpstreamCommand extends infer C
  ? C extends { id: number }
    ? Omit<C, 'id'>
    : never
  : never;

/** Emulators running in a separate Node.js process. */
export class UpstreamProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, (a: UpstreamAnswer) => void>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (a: UpstreamAnswer) => {
      const w = this.waiting.get(a.id);
      this.waiting.delete(a.id);
      w?.(a);
    });
  }

  /** Forks the child and waits until it is ready (at most 30 s). */
  static async start(): Promise<UpstreamProcess> {
    const script = fileURLToPath(new URL('./upstream-process.ts', import.meta.url));
    const child = fork(script, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('upstream process did not start')), 30_000);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`upstream process exited with ${code}`));
      });
    });
    return new UpstreamProcess(child);
  }

  /** The child's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts one emulator holding `count` frames (seq 0..count-1) for `hashKey`. */
  async emulator(
    host: string,
    mode: EmulatorMode,
    hashKey: bigint,
    count: number,
    payloadBytes: number,
  ): Promise<{ endpoint: string; host: string; port: number }> {
    const a = await this.request({
      cmd: 'start',
      host,
      mode,
      hashKey: hashKey.toString(),
      count,
      payloadBytes,
    });
    if (a.endpoint === undefined || a.host === undefined || a.port === undefined) {
      throw new Error('upstream process did not report an endpoint');
    }
    return { endpoint: a.endpoint, host: a.host, port: a.port };
  }

  /** Counters of every emulator, in start order. */
  async stats(): Promise<{ emulators: unknown[]; cpuUs: number }> {
    const a = await this.request({ cmd: 'stats' });
    return { emulators: a.stats ?? [], cpuUs: (a.cpu?.user ?? 0) + (a.cpu?.system ?? 0) };
  }

  /** CPU time (user + system) the emulator process has used so far, µs. */
  async cpuUs(): Promise<number> {
    return (await this.stats()).cpuUs;
  }

  /** Closes the emulators (the process keeps running). */
  async closeEmulators(): Promise<void> {
    await this.request({ cmd: 'close' });
  }

  /** Closes the emulators and ends the process. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    try {
      await this.closeEmulators();
    } catch {
      // ending anyway
    }
    this.child.disconnect();
    await exited;
    clearTimeout(timer);
  }

  private request(r: Request): Promise<UpstreamAnswer> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`upstream process: no answer to ${r.cmd}`));
      }, 60_000);
      this.waiting.set(id, (a) => {
        clearTimeout(timer);
        if (a.error !== undefined) reject(new Error(a.error));
        else resolve(a);
      });
      this.child.send({ ...r, id });
    });
  }
}
