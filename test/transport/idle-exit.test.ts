import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('../fixtures/idle-client.ts', import.meta.url));

describe('a client that is never closed', () => {
  it('does not keep the process alive once idle', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: 'pipe' });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // Generous for a loaded machine; a process held open by a socket never exits at all.
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(killer);
    expect(out).toContain('recovered 1');
    expect(code).toBe(0);
  });
});
