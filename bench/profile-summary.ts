/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function, top N.
 * Given a directory, it picks the busiest profile in it (the main thread; `--cpu-prof`
 * also writes one per worker thread, e.g. tsx's loader).
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile | dir> [top=25]
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self-time share by function, largest first. */
export function summarise(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const n = byId.get(id);
    if (n === undefined) return;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const f = n.callFrame;
    const where = f.url === '' ? '' : ` ${shorten(f.url)}:${f.lineNumber + 1}`;
    const name = `${f.functionName || '(anonymous)'}${where}`;
    self.set(name, (self.get(name) ?? 0) + dt);
  });
  const lines = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, t]) => `${((t / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
  return [`self time, ${(total / 1000).toFixed(0)} ms sampled`, ...lines].join('\n');
}

function shorten(url: string): string {
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  if (path.includes('/node_modules/')) return path.slice(path.lastIndexOf('/node_modules/') + 14);
  return path.startsWith('/') ? relative(process.cwd(), path) : path;
}

/** Share of sampled time that was not idle. */
function busy(profile: Profile): number {
  const idle = new Set(
    profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id),
  );
  let total = 0;
  let idleTime = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    if (idle.has(id)) idleTime += dt;
  });
  return total === 0 ? 0 : 1 - idleTime / total;
}

function load(path: string): Profile {
  return JSON.parse(readFileSync(path, 'utf8')) as Profile;
}

const [target, topArg] = process.argv.slice(2);
if (target !== undefined) {
  let profile: Profile;
  if (statSync(target).isDirectory()) {
    const all = readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => load(join(target, f)));
    all.sort((a, b) => busy(b) - busy(a));
    if (all[0] === undefined) throw new Error(`no .cpuprofile in ${target}`);
    profile = all[0];
  } else {
    profile = load(target);
  }
  console.log(summarise(profile, Number(topArg ?? 25)));
}
