/**
 * Runs test/fixtures/unicast-relay.ts as a child process (`node --import tsx`) and speaks its
 * line protocol: wait for `ready`, send `go`, read the report once it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RelayConfig, RelayReport } from '../fixtures/unicast-relay.js';
import { within } from './wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = fileURLToPath(new URL('../fixtures/unicast-relay.ts', import.meta.url));

/** One relay process: started by {@link RelayProcess.start}, killed by {@link RelayProcess.kill}. */
export class RelayProcess {
  private stdout = '';
  private stderr = '';
  private readonly exited: Promise<number | null>;
  private readonly lineWaiters: Array<() => void> = [];

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      for (const wake of this.lineWaiters.splice(0)) wake();
    });
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.stderr += String(err);
        resolve(null);
      });
      // 'close', not 'exit': stdout is read to its end by then.
      child.once('close', (code) => {
        for (const wake of this.lineWaiters.splice(0)) wake();
        resolve(code);
      });
    });
  }

  /** Spawns the relay; it connects to Redis and then waits for {@link RelayProcess.go}. */
  static start(config: RelayConfig): RelayProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(config)], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new RelayProcess(child);
  }

  /** Resolves once the relay printed `ready`; rejects if it exits first or after `timeoutMs`. */
  ready(timeoutMs: number): Promise<void> {
    const printed = async (): Promise<void> => {
      while (!this.lines().some((l) => l.includes('"ready"'))) {
        if (!this.alive) throw new Error(`relay exited before ready: ${this.stderr}`);
        await new Promise<void>((wake) => this.lineWaiters.push(wake));
      }
    };
    return within(printed(), 'relay process ready', timeoutMs);
  }

  /** Tells the relay to enqueue its gaps. */
  go(): void {
    this.child.stdin?.end('go\n');
  }

  /** The relay's report, once it exited 0; rejects on another exit or after `timeoutMs`. */
  async report(timeoutMs: number): Promise<RelayReport> {
    const code = await within(this.exited, 'relay process exit', timeoutMs);
    if (code !== 0) throw new Error(`relay exited with ${String(code)}: ${this.stderr}`);
    const line = this.lines().find((l) => l.startsWith('{"outcomes"'));
    if (line === undefined) throw new Error(`relay printed no report: ${this.stdout}`);
    return JSON.parse(line) as RelayReport;
  }

  /** Kills the relay if it is still running, and waits for it to go. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  private get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private lines(): string[] {
    return this.stdout.split('\n');
  }
}
