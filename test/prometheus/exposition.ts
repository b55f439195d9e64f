/** Reading the Prometheus text exposition in the Prometheus tests. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition into samples (comments skipped). */
export function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of one sample with exactly these labels; throws when there is not one. */
export function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const found = parse(text).filter(
    (s) =>
      s.name === name &&
      Object.keys(labels).length === Object.keys(s.labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}: ${text}`);
  return found[0]!.value;
}

/** Metric families by name with their `# TYPE`, as the exposition declares them. */
export function types(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(name!, type!);
  return out;
}

/** Every metric family the recorder exports with the default prefix, and its type. */
export const EXPORTED: Record<string, string> = {
  bre_proxy_requests_total: 'counter',
  bre_proxy_recovered_total: 'counter',
  bre_proxy_failed_total: 'counter',
  bre_proxy_inflight_dedup_total: 'counter',
  bre_proxy_queue_dropped_total: 'counter',
  bre_proxy_dropped_total: 'counter',
  bre_proxy_recovery_seconds: 'histogram',
  bre_proxy_queue_depth: 'gauge',
  bre_proxy_inflight: 'gauge',
  bre_proxy_upstream_replies_total: 'counter',
  bre_proxy_upstream_healthy: 'gauge',
  bre_proxy_paced_total: 'counter',
  bre_proxy_hedges_total: 'counter',
  bre_proxy_unicast_retransmits_total: 'counter',
  bre_proxy_component_errors_total: 'counter',
  bre_proxy_invalid_frames_total: 'counter',
};
