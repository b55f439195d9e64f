import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, packageOf } from '../helpers/import-graph.js';

const root = resolve(import.meta.dirname, '../..');

interface Manifest {
  type: string;
  license: string;
  engines: { node: string };
  main: string;
  types: string;
  exports: Record<string, { types?: string; default?: string } | string>;
  typesVersions: Record<string, Record<string, string[]>>;
  files: string[];
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as Manifest;
const codeExports = Object.entries(pkg.exports).filter(([path]) => path !== './package.json');

describe('package shape', () => {
  it('the core entry point reaches only its two dependencies and node built-ins', () => {
    const { bare } = importGraph(resolve(root, 'src/index.ts'));
    const external = [...new Set([...bare].map(packageOf))]
      .filter((p) => !p.startsWith('node:'))
      .sort();
    expect(external).toEqual(['eventemitter3', 'lru-cache', 'p-queue']);
  });

  it('declares ESM, the Node versions that can require() it, and two dependencies', () => {
    expect(pkg.type).toBe('module');
    // require(esm) without a flag: Node 20.19+ and 22.12+ (see README, CommonJS).
    expect(pkg.engines.node).toBe('^20.19.0 || >=22.12.0');
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['eventemitter3', 'lru-cache', 'p-queue']);
  });

  it('every export has types and a default condition (import and require) into dist/', () => {
    expect(codeExports.length).toBeGreaterThan(1);
    for (const [path, target] of codeExports) {
      expect(target, path).toEqual({
        types: expect.stringMatching(/^\.\/dist\/.*\.d\.ts$/) as string,
        default: expect.stringMatching(/^\.\/dist\/.*\.js$/) as string,
      });
      if (typeof target === 'object') {
        expect(target.types?.replace(/\.d\.ts$/, '.js'), path).toBe(target.default);
      }
    }
    expect(pkg.exports['.']).toEqual({ types: pkg.types, default: pkg.main });
  });

  it('typesVersions maps every subpath to its types, for TypeScript without exports support', () => {
    const expected = Object.fromEntries(
      codeExports
        .filter(([path]) => path !== '.')
        .map(([path, target]) => [path.slice(2), [(target as { types: string }).types]]),
    );
    expect(pkg.typesVersions).toEqual({ '*': expected });
  });

  it('each export source exists, so a build emits every target', () => {
    for (const [path, target] of codeExports) {
      const types = (target as { types: string }).types;
      const source = types.replace(/^\.\/dist\//, 'src/').replace(/\.d\.ts$/, '.ts');
      expect(existsSync(resolve(root, source)), `${path} -> ${source}`).toBe(true);
    }
  });

  it('ships the build and the sources its maps point at, and builds before packing', () => {
    expect(pkg.files.sort()).toEqual(['README.md', 'dist', 'docs', 'src']);
    expect(pkg.scripts.prepack).toBe('npm run build');
    expect(pkg.scripts.build).toMatch(/^npm run clean && tsc -p tsconfig\.build\.json$/);
  });

  it('has an MIT LICENSE file matching the license field', () => {
    expect(pkg.license).toBe('MIT');
    const text = readFileSync(resolve(root, 'LICENSE'), 'utf8');
    expect(text).toMatch(/^MIT License\n\nCopyright \(c\) 2026 nack-proxy contributors\n/);
  });
});
