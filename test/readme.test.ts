import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const read = (p: string): string => readFileSync(resolve(root, p), 'utf8');

describe('README stays honest', () => {
  it('shows the quick start exactly as examples/quick-start.ts type-checks and runs it', () => {
    const source = read('examples/quick-start.ts');
    const region = /\/\/ #region quick-start\n([\s\S]*?)\/\/ #endregion quick-start/.exec(
      source,
    )?.[1];
    expect(region).toBeDefined();
    // The example imports from the source tree; the README from the published package.
    const asPublished = region!.replace(/from '\.\.\/src\/index\.js'/g, "from 'nack-proxy'").trim();
    expect(read('README.md')).toContain(asPublished);
  });

  it('documents every npm script it tells the reader to run', () => {
    const scripts = Object.keys(
      (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts,
    );
    const named = [...read('README.md').matchAll(/npm run ([a-z-]+)/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(0);
    for (const s of new Set(named)) expect(scripts).toContain(s);
  });
});
