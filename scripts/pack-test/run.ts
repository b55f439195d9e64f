import { spawnSync } from 'node:child_process';

/** A pack-test step that failed, with the message printed to the person running it. */
export class PackTestError extends Error {
  override name = 'PackTestError';
}

/** What a finished command printed. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Working directory. */
  cwd: string;
  /** Kill the command (and fail) after this long; nothing here may hang CI. */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

const TAIL = 4_000;

/**
 * Runs a command to completion and returns its output; throws a {@link PackTestError} naming
 * the command, its exit status and the tail of its output if it fails or times out.
 */
export function run(command: string, args: string[], options: RunOptions): RunResult {
  const timeout = options.timeoutMs ?? 120_000;
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  // The consumer project must resolve packages from its own node_modules only.
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env,
    encoding: 'utf8',
    timeout,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const stdout = result.stdout ?? '';
  const stderr = result.stderr ?? '';
  const shown = `${command} ${args.join(' ')}`;
  if (result.error !== undefined) {
    const timedOut = (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    throw new PackTestError(
      timedOut
        ? `\`${shown}\` did not finish within ${timeout} ms (killed)\n${tail(stdout, stderr)}`
        : `\`${shown}\` could not run: ${result.error.message}`,
    );
  }
  if (result.status !== 0) {
    const how = result.signal !== null ? `signal ${result.signal}` : `exit code ${result.status}`;
    throw new PackTestError(`\`${shown}\` failed (${how})\n${tail(stdout, stderr)}`);
  }
  return { stdout, stderr };
}

function tail(stdout: string, stderr: string): string {
  const text = [stdout.trim(), stderr.trim()].filter((s) => s !== '').join('\n');
  return text.length > TAIL ? `...${text.slice(-TAIL)}` : text;
}
