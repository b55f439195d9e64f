/**
 * Packs nack-proxy as `npm publish` would (prepack builds dist/) and uses the tarball the way
 * a stranger would, in a throwaway project outside the repository:
 *
 * - the tarball ships what a user needs and nothing else; its source maps resolve;
 * - installed without the optional peers (ioredis, prom-client): every subpath in the packed
 *   `exports` loads with `import()` and with `require()`, except those needing a peer, which
 *   fail with a message naming it and the command that installs it;
 * - the quick start runs against the testing kit's upstream emulator and the process exits;
 * - TypeScript (strict, the package's .d.ts checked) accepts it from ESM and from CommonJS
 *   under `nodenext`, and from `module: commonjs` (node10 resolution);
 * - with the peers installed, every subpath loads;
 * - `attw` (are the types wrong) and `publint` pass on the tarball.
 *
 *   npm run pack-test        exit 0 when every check passed, 1 naming the failed step
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  PROBE_CJS,
  PROBE_ESM,
  QUICK_START,
  QUICK_START_OK,
  tsconfig,
  typesCjs,
  typesEsm,
  type ProbeResult,
} from './pack-test/consumer.js';
import {
  checkFileList,
  checkSourceMaps,
  type PackReport,
  type PackedManifest,
} from './pack-test/contents.js';
import { PackTestError, run, type RunResult } from './pack-test/run.js';

const ROOT = resolve(import.meta.dirname, '..');
const NAME = 'nack-proxy';

/** Subpaths that need an optional peer; every other subpath must load with none installed. */
const NEEDS_PEER: Readonly<Record<string, string>> = {
  './redis': 'ioredis',
  './prometheus': 'prom-client',
};

/**
 * attw models TypeScript's `node16` module mode, where `require()` of an ES module is an
 * error. Node >= 20.19 (which `engines` requires) and TypeScript's `nodenext` allow it; this
 * script checks that path itself (tsc on a `.cts` file, and a `require()` probe).
 */
const ATTW_IGNORED = ['cjs-resolves-to-esm'];

let current = 'start';
const notes: string[] = [];
function step<T>(name: string, body: () => T): T {
  current = name;
  process.stdout.write(`pack-test: ${name} ... `);
  const result = body();
  process.stdout.write('ok\n');
  for (const text of notes.splice(0)) console.log(indent(text));
  return result;
}

/** Detail printed under the current step once it passed. */
function note(text: string): void {
  notes.push(text);
}

/** npm as the running npm (`npm run pack-test`), else the one on PATH. */
function npm(args: string[], cwd: string, timeoutMs = 300_000): RunResult {
  const cli = process.env.npm_execpath;
  return cli !== undefined && cli.endsWith('.js')
    ? run(process.execPath, [cli, ...args], { cwd, timeoutMs })
    : run('npm', args, { cwd, timeoutMs });
}

/** `name@version` of a package installed in the repository, so the consumer gets the same. */
function pinned(name: string): string {
  const manifest = readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8');
  return `${name}@${(JSON.parse(manifest) as { version: string }).version}`;
}

const INSTALL_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

function main(work: string): void {
  const report = step('npm pack (prepack builds dist/)', () => {
    const { stdout } = npm(['pack', '--json', '--pack-destination', work], ROOT);
    const packed = (JSON.parse(stdout) as PackReport[])[0]!;
    note(
      `${packed.filename}: ${packed.size} B packed, ${packed.unpackedSize} B unpacked, ` +
        `${packed.entryCount} files`,
    );
    return packed;
  });
  const tarball = join(work, report.filename);

  const app = join(work, 'consumer');
  const pkgDir = join(app, 'node_modules', NAME);
  step('install the tarball into a new project, without the optional peers', () => {
    mkdirSync(app);
    const manifest = { name: 'pack-test-consumer', private: true, type: 'module' };
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    npm(['install', tarball, pinned('typescript'), pinned('@types/node'), ...INSTALL_FLAGS], app);
    const peers = Object.values(NEEDS_PEER).filter((p) =>
      isInstalled(join(app, 'node_modules', p)),
    );
    if (peers.length > 0) {
      throw new PackTestError(`installing the tarball also installed ${peers.join(', ')}`);
    }
  });

  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as PackedManifest;
  const subpaths = Object.keys(manifest.exports).filter((s) => !s.endsWith('.json'));
  const specifier = (sub: string): string => (sub === '.' ? NAME : `${NAME}/${sub.slice(2)}`);
  const core = subpaths.filter((s) => NEEDS_PEER[s] === undefined).map(specifier);
  const all = subpaths.map(specifier);
  const peerOf = new Map(subpaths.map((s) => [specifier(s), NEEDS_PEER[s]]));

  step('tarball contents, source maps, optional peers declared', () => {
    note(`subpaths from the packed exports: ${all.join(', ')}`);
    checkFileList(report, manifest);
    note(`${checkSourceMaps(pkgDir)} source and declaration maps resolve to shipped sources`);
    for (const [sub, peer] of Object.entries(NEEDS_PEER)) {
      if (!subpaths.includes(sub)) {
        throw new PackTestError(`NEEDS_PEER names ${sub}, which the package does not export`);
      }
      if (manifest.peerDependenciesMeta?.[peer]?.optional !== true) {
        throw new PackTestError(`${peer} is not an optional peer dependency in package.json`);
      }
    }
  });

  step('TypeScript nodenext: quick start (ESM) and require() of the core subpaths (.cts)', () => {
    write(app, 'quickstart.mts', QUICK_START);
    write(app, 'core.cts', typesCjs(core));
    write(app, 'tsconfig.json', tsconfig(['quickstart.mts', 'core.cts']));
    tsc(app, 'tsconfig.json');
  });

  step('quick start against the testing kit emulator, then the process exits', () => {
    let stdout: string;
    try {
      ({ stdout } = run(process.execPath, ['out/quickstart.mjs'], { cwd: app, timeoutMs: 60_000 }));
    } catch (err) {
      // Recovered and closed, yet still running: something still holds the event loop.
      if (err instanceof PackTestError && err.message.includes(QUICK_START_OK)) {
        throw new PackTestError(`the process did not exit after close():\n${err.message}`);
      }
      throw err;
    }
    if (!stdout.includes(QUICK_START_OK)) {
      throw new PackTestError(`the quick start printed no "${QUICK_START_OK}":\n${stdout}`);
    }
  });

  step('the compiled CommonJS program runs, with no warning', () => {
    const { stdout, stderr } = run(process.execPath, ['out/core.cjs'], { cwd: app });
    if (!stdout.includes(`required ${core.length} subpaths`) || stderr.trim() !== '') {
      throw new PackTestError(`unexpected output from out/core.cjs:\n${stdout}\n${stderr}`);
    }
  });

  write(app, 'probe.mjs', PROBE_ESM);
  write(app, 'probe.cjs', PROBE_CJS);
  step('import() and require() of every subpath without the peers', () => {
    for (const probe of ['probe.mjs', 'probe.cjs']) {
      for (const r of runProbe(app, probe, all)) {
        const peer = peerOf.get(r.specifier);
        if (peer === undefined) expectLoaded(probe, r);
        else expectPeerMessage(probe, r, peer);
      }
    }
  });

  step('install the optional peers', () => {
    const peers = Object.values(NEEDS_PEER).map(pinned);
    npm(['install', ...peers, ...INSTALL_FLAGS], app);
  });

  step('import() and require() of every subpath with the peers', () => {
    for (const probe of ['probe.mjs', 'probe.cjs']) {
      for (const r of runProbe(app, probe, all)) expectLoaded(probe, r);
    }
  });

  step('TypeScript: every subpath from ESM and CJS (nodenext) and module commonjs', () => {
    write(app, 'all.mts', typesEsm(all));
    write(app, 'all.cts', typesCjs(all));
    write(app, 'tsconfig.all.json', tsconfig(['all.mts', 'all.cts'], { noEmit: true }));
    tsc(app, 'tsconfig.all.json');
    write(app, 'node10.ts', typesCjs(all));
    const node10 = { module: 'commonjs', moduleResolution: 'node10', noEmit: true };
    write(app, 'tsconfig.node10.json', tsconfig(['node10.ts'], node10));
    tsc(app, 'tsconfig.node10.json');
  });

  step('attw (are the types wrong) on the tarball', () => {
    const attw = join(ROOT, 'node_modules', '.bin', 'attw');
    const args = [tarball, '--ignore-rules', ...ATTW_IGNORED, '--no-color', '--no-emoji'];
    note(run(attw, ['--format', 'table-flipped', ...args], { cwd: work }).stdout);
  });

  step('publint --strict on the tarball', () => {
    const publint = join(ROOT, 'node_modules', '.bin', 'publint');
    note(run(publint, ['run', tarball, '--strict'], { cwd: work }).stdout);
  });
}

function tsc(cwd: string, project: string): void {
  const bin = join(cwd, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [bin, '-p', project, '--pretty', 'false'], { cwd });
}

function runProbe(cwd: string, probe: string, specifiers: string[]): ProbeResult[] {
  const { stdout, stderr } = run(process.execPath, [probe, ...specifiers], { cwd });
  // An ExperimentalWarning for require(esm) would reach every CommonJS user.
  if (stderr.trim() !== '') throw new PackTestError(`${probe} printed to stderr:\n${stderr}`);
  return JSON.parse(stdout) as ProbeResult[];
}

function expectLoaded(probe: string, r: ProbeResult): void {
  if (!r.ok) {
    throw new PackTestError(`${probe}: ${r.specifier} failed to load: ${r.code} ${r.message}`);
  }
  if ((r.names ?? []).length === 0) {
    throw new PackTestError(`${probe}: ${r.specifier} loaded but exports nothing`);
  }
}

function expectPeerMessage(probe: string, r: ProbeResult, peer: string): void {
  if (r.ok) throw new PackTestError(`${probe}: ${r.specifier} loaded although ${peer} is absent`);
  const message = r.message ?? '';
  if (!message.includes(peer) || !message.includes(`npm install ${peer}`)) {
    throw new PackTestError(
      `${probe}: ${r.specifier} without ${peer} should say to run \`npm install ${peer}\`; ` +
        `it says: ${r.code} ${message}`,
    );
  }
}

function write(dir: string, file: string, text: string): void {
  writeFileSync(join(dir, file), text);
}

function isInstalled(packageDir: string): boolean {
  try {
    readFileSync(join(packageDir, 'package.json'));
    return true;
  } catch {
    return false;
  }
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

const work = mkdtempSync(join(tmpdir(), 'nack-proxy-pack-'));
const cleanup = (): void => rmSync(work, { recursive: true, force: true });
process.once('SIGINT', () => {
  cleanup();
  process.exit(130);
});
try {
  main(work);
  console.log('pack-test: every check passed');
} catch (err) {
  process.stdout.write('FAILED\n');
  const detail = err instanceof PackTestError ? err.message : String((err as Error).stack);
  console.error(`pack-test: "${current}" failed:\n${detail}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
