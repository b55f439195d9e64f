import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Every module reachable from `entry` through relative imports, and the bare specifiers seen. */
export function importGraph(entry: string): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(
      /(?:import|export)[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/g,
    )) {
      const spec = m[1] ?? m[2] ?? '';
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else bare.add(spec);
    }
  };
  visit(entry);
  return { files, bare };
}

/** The package a bare specifier names (`@scope/name` or `name`). */
export function packageOf(spec: string): string {
  return spec.startsWith('@')
    ? spec.split('/').slice(0, 2).join('/')
    : (spec.split('/')[0] ?? spec);
}
