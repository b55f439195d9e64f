import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, packageOf } from './helpers/import-graph.js';

const root = resolve(import.meta.dirname, '..');

describe('package shape', () => {
  it('the core entry point reaches only its three dependencies and node built-ins', () => {
    const { bare } = importGraph(resolve(root, 'src/index.ts'));
    const external = [...new Set([...bare].map(packageOf))]
      .filter((p) => !p.startsWith('node:'))
      .sort();
    expect(external).toEqual(['eventemitter3', 'lru-cache', 'p-queue']);
  });

  it('declares ESM, engines and an exports map whose entries all have types', () => {
    const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
      type: string;
      engines: { node: string };
      exports: Record<string, { types?: string; import?: string } | string>;
      dependencies: Record<string, string>;
    };
    expect(pkg.type).toBe('module');
    expect(pkg.engines.node).toBe('>=20');
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['eventemitter3', 'lru-cache', 'p-queue']);
    for (const [path, target] of Object.entries(pkg.exports)) {
      if (path === './package.json') continue;
      expect(typeof target === 'object' && target.types?.endsWith('.d.ts')).toBe(true);
    }
  });
});
