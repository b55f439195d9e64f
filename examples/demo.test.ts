/**
 * Runs `npm run demo` as a user would (a separate process), with default flags, with a
 * dead first upstream and with unicast delivery: each must print the summary and exit 0.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function demo(...flags: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts', ...flags], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

describe('npm run demo', () => {
  it('recovers every recoverable gap with default flags', async () => {
    const { code, stdout } = await demo();
    expect(stdout).toMatch(/\| recovered via upstreams +\| +[1-9]\d* \|/);
    expect(stdout).toMatch(/\| failed: recoverable, not filled +\| +0 \|/);
    expect(stdout).toContain('PASS');
    expect(code).toBe(0);
  });

  it('does so with a dead first upstream too', async () => {
    const { code, stdout } = await demo('--dead-upstream', '--frames', '2000');
    expect(stdout).toContain('(the first is dead)');
    expect(stdout).toMatch(/dead +demoted/);
    expect(stdout).toContain('PASS');
    expect(code).toBe(0);
  });

  it('delivers every recovered frame by unicast with --unicast, multicasting none', async () => {
    const { code, stdout } = await demo('--unicast', '--frames', '2000');
    expect(stdout).toContain("delivery: unicast to the requester, the consumer's NACK socket");
    const recovered = /\| recovered via upstreams +\| +([1-9]\d*) \|/.exec(stdout)?.[1];
    expect(recovered).toBeDefined();
    expect(stdout).toMatch(new RegExp(`\\| {3}of which by unicast +\\| +${recovered} \\|`));
    expect(stdout).toMatch(/\| {3}of which by multicast +\| +0 \|/);
    expect(stdout).toMatch(/relay retransmits received: [1-9]\d* by unicast, 0 by multicast/);
    expect(stdout).toContain('PASS');
    expect(code).toBe(0);
  });

  it('exits 2 for a bad flag', async () => {
    expect((await demo('--loss', '7')).code).toBe(2);
  });
});
