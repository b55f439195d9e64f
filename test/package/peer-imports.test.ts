import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importGraph } from '../helpers/import-graph.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

describe('optional peer dependencies', () => {
  it('the core entry point reaches neither ioredis nor prom-client', () => {
    const { files, bare } = importGraph(resolve(SRC, 'index.ts'));
    expect(files.size).toBeGreaterThan(5);
    expect([...bare].filter((s) => /^(ioredis|prom-client)(\/|$)/.test(s))).toEqual([]);
    // Relative to src/, so that a checkout in a folder named like an adapter does not match.
    const adapters = [...files]
      .map((f) => relative(SRC, f))
      .filter((f) => /^(redis|prometheus|multicast)[/\\]/.test(f));
    expect(adapters).toEqual([]);
  });

  it('each subpath entry reaches only its own peer', () => {
    expect(importGraph(resolve(SRC, 'redis/index.ts')).bare).toContain('ioredis');
    expect(importGraph(resolve(SRC, 'redis/index.ts')).bare).not.toContain('prom-client');
    expect(importGraph(resolve(SRC, 'prometheus/index.ts')).bare).toContain('prom-client');
    expect(importGraph(resolve(SRC, 'prometheus/index.ts')).bare).not.toContain('ioredis');
    const multicast = importGraph(resolve(SRC, 'multicast/index.ts')).bare;
    expect([...multicast].every((s) => s.startsWith('node:'))).toBe(true);
  });

  it('package.json exports the subpaths and marks the peers optional', () => {
    const pkg = JSON.parse(readFileSync(resolve(SRC, '../package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    for (const sub of ['redis', 'prometheus', 'multicast']) {
      expect(pkg.exports[`./${sub}`]).toEqual({
        types: `./dist/${sub}/index.d.ts`,
        default: `./dist/${sub}/index.js`,
      });
    }
    expect(pkg.peerDependencies).toMatchObject({ ioredis: '^5.0.0', 'prom-client': '^15.0.0' });
    expect(pkg.peerDependenciesMeta.ioredis?.optional).toBe(true);
    expect(pkg.peerDependenciesMeta['prom-client']?.optional).toBe(true);
  });
});
