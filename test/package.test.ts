import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/** Every module reachable from `entry` by static imports, and the bare specifiers it names. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(
      /(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/g,
    )) {
      const spec = m[1] ?? m[2] ?? '';
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else
        packages.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!,
        );
    }
  };
  visit(entry);
  return { files, packages };
}

describe('package shape', () => {
  it('the core entry point reaches only its three dependencies and node built-ins', () => {
    const { packages } = importGraph(resolve(root, 'src/index.ts'));
    const external = [...packages].filter((p) => !p.startsWith('node:')).sort();
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
