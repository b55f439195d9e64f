import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const read = (p: string): string => readFileSync(resolve(root, p), 'utf8');

const pages = readdirSync(resolve(root, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => `docs/${f}`);
const documents = ['README.md', ...pages];

/** The text of `## heading` up to the next `## ` heading. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  expect(start, `section "${heading}"`).toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** First and second cells of the table rows whose first cell is a code span. */
function tableRows(text: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`(\w+)`$/.exec(cells[1] ?? '')?.[1];
    if (line.startsWith('|') && name !== undefined) rows.set(name, cells[2] ?? '');
  }
  return rows;
}

/**
 * The members of `export interface <name>` in `file` with the text of their `@default` tag
 * (`required` for a member without `?` and without one).
 */
function documentedDefaults(file: string, name: string): Map<string, string> {
  const source = read(file);
  const start = source.indexOf(`export interface ${name} {`);
  expect(start, `${name} in ${file}`).toBeGreaterThanOrEqual(0);
  const body = source.slice(start, source.indexOf('\n}', start));
  const members = new Map<string, string>();
  for (const m of body.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(\w+)(\??):/g)) {
    const comment = m[1]!.replace(/^\s*\* ?/gm, '');
    const tag = /@default\s+(.+?)\s*$/m.exec(comment)?.[1];
    members.set(m[2]!, tag ?? (m[3] === '?' ? 'undocumented' : 'required'));
  }
  return members;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

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
    const named = documents.flatMap((d) =>
      [...read(d).matchAll(/npm run ([a-z-]+)/g)].map((m) => m[1]!),
    );
    expect(named.length).toBeGreaterThan(0);
    for (const s of new Set(named)) expect(scripts).toContain(s);
  });

  it.each([
    ['ProxyClientOptions', 'src/client/options.ts', 'Options', 0],
    ['UdpTransportOptions', 'src/transport/udp-options.ts', 'Options', 1],
  ] as const)('lists every option of %s with its documented default', (name, file, at, table) => {
    const tables = section(read('README.md'), at)
      .split('\n\n')
      .filter((b) => b.includes('| `'));
    const rows = tableRows(tables[table] ?? '');
    const documented = documentedDefaults(file, name);
    expect([...rows.keys()].sort()).toEqual([...documented.keys()].sort());
    for (const [option, value] of documented) {
      expect(rows.get(option)?.replaceAll('`', ''), option).toBe(value);
    }
  });

  it('lists every event of ProxyClient', () => {
    const source = read('src/client/events.ts');
    const map = source.slice(source.indexOf('export interface ProxyClientEvents {'));
    const events = [...map.slice(0, map.indexOf('\n}')).matchAll(/^\s+(\w+): \[/gm)].map(
      (m) => m[1]!,
    );
    expect(events.length).toBeGreaterThan(0);
    const rows = tableRows(section(read('README.md'), 'Events'));
    expect([...rows.keys()].sort()).toEqual(events.sort());
  });

  it('links every page under docs/, and every relative link resolves', () => {
    const readme = read('README.md');
    for (const page of pages) expect(readme, page).toContain(`](${page}`);
    for (const doc of documents) {
      for (const m of read(doc).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [path, hash] = target.split('#') as [string, string | undefined];
        const file = path === '' ? doc : join(dirname(doc), path);
        expect(existsSync(resolve(root, file)), `${doc}: ${target}`).toBe(true);
        if (hash === undefined) continue;
        const headings = [...read(file).matchAll(/^#+ (.+)$/gm)].map((h) => anchor(h[1]!));
        expect(headings, `${doc}: ${target}`).toContain(hash);
      }
    }
  });

  it('refers to no design document outside the repository', () => {
    for (const doc of documents) expect(read(doc), doc).not.toMatch(/DESIGN/);
  });
});
