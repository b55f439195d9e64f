import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { PackTestError } from './run.js';

/** The part of `npm pack --json` output read here. */
export interface PackReport {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number }[];
}

/** The part of the packed package.json read here. */
export interface PackedManifest {
  exports: Record<string, string | Record<string, string>>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

// What a user needs: the build, the sources the maps point at, the docs (with the example
// alert rules and dashboard that docs/metrics.md points to) and the licence.
const ALLOWED = [
  /^dist\//,
  /^src\//,
  /^docs\/[^/]+\.(md|yml|json)$/,
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
];
const REQUIRED = ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts'];

/**
 * Checks the tarball's file list: nothing a user does not need (tests, benchmarks, demo,
 * configs), the licence and README present, every `exports` target shipped.
 */
export function checkFileList(report: PackReport, manifest: PackedManifest): void {
  const paths = new Set(report.files.map((f) => f.path));
  const stray = [...paths].filter((p) => !ALLOWED.some((re) => re.test(p)) || /\.test\./.test(p));
  if (stray.length > 0) {
    throw new PackTestError(`the tarball ships files a user does not need: ${stray.join(', ')}`);
  }
  const targets = Object.values(manifest.exports).flatMap((t) =>
    typeof t === 'string' ? [t] : Object.values(t),
  );
  const missing = [...REQUIRED, ...targets.map((t) => t.replace(/^\.\//, ''))].filter(
    (p) => !paths.has(p),
  );
  if (missing.length > 0) {
    throw new PackTestError(`the tarball lacks ${missing.join(', ')} (did prepack build dist/?)`);
  }
}

/**
 * Checks that every source and declaration map of the installed package points at files
 * that were shipped, so stack traces and "go to definition" reach real sources.
 */
export function checkSourceMaps(packageDir: string): number {
  const maps = walk(join(packageDir, 'dist')).filter((f) => f.endsWith('.map'));
  const broken: string[] = [];
  for (const map of maps) {
    const { sources, sourceRoot } = JSON.parse(readFileSync(map, 'utf8')) as {
      sources: string[];
      sourceRoot?: string;
    };
    for (const source of sources) {
      const file = resolve(dirname(map), sourceRoot ?? '', source);
      if (!existsSync(file)) broken.push(`${relative(packageDir, map)} -> ${source}`);
    }
  }
  if (maps.length === 0) throw new PackTestError('the tarball has no source maps');
  if (broken.length > 0) {
    throw new PackTestError(`source maps point at files not shipped:\n  ${broken.join('\n  ')}`);
  }
  return maps.length;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}
