/**
 * The files of the throwaway project that installs the packed tarball: probes that import
 * and require every subpath, the quick start against the testing kit's emulator, and
 * TypeScript files that use the package from ESM, from CommonJS under `nodenext`, and from
 * CommonJS under the legacy `node10` resolution.
 */

/** One line per subpath: what loading it gave. */
export interface ProbeResult {
  specifier: string;
  ok: boolean;
  /** Export names, when it loaded. */
  names?: string[];
  code?: string;
  message?: string;
}

// Both probes print a JSON array of ProbeResult; the specifiers arrive as argv.
const probeBody = (load: string): string => `
const results = [];
for (const specifier of process.argv.slice(2)) {
  try {
    const m = ${load};
    results.push({ specifier, ok: true, names: Object.keys(m) });
  } catch (err) {
    results.push({ specifier, ok: false, code: err.code, message: String(err.message) });
  }
}
process.stdout.write(JSON.stringify(results));
`;

/** ESM probe: `import()` of each specifier. */
export const PROBE_ESM = probeBody('await import(specifier)');

/** CommonJS probe: `require()` of each specifier (require(esm), Node >= 20.19). */
export const PROBE_CJS = `'use strict';\n(() => {${probeBody('require(specifier)')}})();\n`;

/** Text printed by the quick start when the gap was recovered. */
export const QUICK_START_OK = 'quick start: recovered';

/**
 * The README's embedding, reduced to what a first-time user checks: an upstream (the
 * testing kit's emulator) holds a frame, the client recovers the gap from it, caches and
 * retransmits it, and everything closes so the process can exit. Public API only.
 */
export const QUICK_START = `import { deepStrictEqual, strictEqual } from 'node:assert/strict';
import { MemoryCache, ProxyClient } from 'nack-proxy';
import { UpstreamEmulator, buildFrame } from 'nack-proxy/testing';

const FLOW = 0xc0ffeen;
const SEQ = 42n;
const watchdog = setTimeout(() => {
  console.error('quick start: no outcome within 20 s');
  process.exit(2);
}, 20_000);

const frame = buildFrame({ hashKey: FLOW, seq: SEQ });
const upstream = await UpstreamEmulator.start({ host: '127.0.0.1', frames: [frame] });
const retransmitted: Uint8Array[] = [];
const client = new ProxyClient({
  upstreams: [upstream.endpoint],
  cache: new MemoryCache({ maxBytes: 1024 * 1024 }),
  retransmitter: {
    retransmit: (bytes: Uint8Array) => {
      retransmitted.push(Uint8Array.from(bytes));
    },
  },
});
let recovered = 0;
client.on('recovered', () => recovered++);
try {
  strictEqual(client.enqueue({ hashKey: FLOW, startSeq: SEQ }), true, 'enqueue refused the gap');
  await client.onIdle();
  strictEqual(recovered, 1, 'no recovered event');
  deepStrictEqual(retransmitted, [Uint8Array.from(frame)], 'the frame was not retransmitted');
} finally {
  await client.close();
  await upstream.close();
  clearTimeout(watchdog);
}
console.log('${QUICK_START_OK}');
`;

const id = (i: number): string => `m${i}`;

/** An ES module importing every specifier, and using each namespace so none is elided. */
export function typesEsm(specifiers: string[]): string {
  const lines = specifiers.map((s, i) => `import * as ${id(i)} from '${s}';`);
  return `${lines.join('\n')}\nexport const loaded = [${specifiers.map((_, i) => id(i)).join(', ')}];\n`;
}

/**
 * A CommonJS module (`.cts`, or `.ts` under `module: commonjs`) requiring every specifier
 * with TypeScript's `import = require()`; prints how many it loaded when run.
 */
export function typesCjs(specifiers: string[]): string {
  const lines = specifiers.map((s, i) => `import ${id(i)} = require('${s}');`);
  const all = specifiers.map((_, i) => id(i)).join(', ');
  return `${lines.join('\n')}\nconsole.log('required', [${all}].length, 'subpaths');\n`;
}

/** tsconfig of the consumer project: strict, `nodenext`, and the package's .d.ts checked. */
export function tsconfig(files: string[], extra: Record<string, unknown> = {}): string {
  const compilerOptions = {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: 'out',
    ...extra,
  };
  return JSON.stringify({ compilerOptions, files }, null, 2);
}
