import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parser } from '@prometheus-io/lezer-promql';
import { register } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { PrometheusRecorder } from '../../src/prometheus/index.js';
import { EXPORTED, parse, types } from './exposition.js';

/**
 * The alert rules, the Grafana dashboard and the queries on docs/metrics.md reference only
 * metrics (and labels, and label values) that the recorder exports.
 */

const DOCS = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs');
const read = (name: string) => readFileSync(resolve(DOCS, name), 'utf8');

/** Labels Prometheus adds to every scraped series (the scrape target's). */
const TARGET_LABELS = new Set(['instance', 'job']);
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/** A PromQL expression and where it was found, for the failure message. */
interface Expr {
  where: string;
  expr: string;
}

/** What a fed recorder exports: family types, label names and the values seen per label. */
interface Exported {
  types: Map<string, string>;
  /** family → label name → values seen */
  labels: Map<string, Map<string, Set<string>>>;
}

function exported(text: string): Exported {
  const t = types(text);
  const labels = new Map<string, Map<string, Set<string>>>();
  for (const s of parse(text)) {
    const family = familyOf(s.name, t) ?? s.name;
    let byName = labels.get(family);
    if (byName === undefined) labels.set(family, (byName = new Map<string, Set<string>>()));
    for (const [k, v] of Object.entries(s.labels)) {
      let values = byName.get(k);
      if (values === undefined) byName.set(k, (values = new Set()));
      values.add(v);
    }
  }
  return { types: t, labels };
}

/** The family a sample name belongs to: itself, or a histogram's `_bucket`/`_sum`/`_count`. */
function familyOf(name: string, t: Map<string, string>): string | undefined {
  if (t.has(name)) return name;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && t.get(base) === 'histogram') return base;
  }
  return undefined;
}

function unquote(literal: string): string {
  if (literal.startsWith('"')) return JSON.parse(literal) as string;
  return literal.slice(1, -1); // '…' and `…` (no escapes in ours)
}

/** A selector in an expression: the metric name and its label matchers. */
interface Selector {
  name: string | undefined;
  matchers: { label: string; op: string; value: string }[];
}

/**
 * Parses a PromQL expression with the Prometheus project's own grammar (lezer-promql) and
 * returns its vector selectors, or the text of each syntax error.
 */
function selectors(expr: string): { selectors: Selector[]; errors: string[] } {
  const tree = parser.parse(expr);
  const text = (from: number, to: number) => expr.slice(from, to);
  const found: Selector[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter(ref) {
      if (ref.type.isError) {
        errors.push(`syntax error at ${ref.from}: …${text(ref.from, ref.from + 20)}`);
        return;
      }
      if (ref.name !== 'VectorSelector') return;
      const node = ref.node;
      const id = node.getChild('Identifier');
      const sel: Selector = { name: id ? text(id.from, id.to) : undefined, matchers: [] };
      for (const m of node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []) {
        const label = m.getChild('LabelName');
        const op = m.getChild('MatchOp');
        const value = m.getChild('StringLiteral');
        if (!label || !op || !value) {
          errors.push(`unreadable matcher ${text(m.from, m.to)}`);
          continue;
        }
        sel.matchers.push({
          label: text(label.from, label.to),
          op: text(op.from, op.to),
          value: unquote(text(value.from, value.to)),
        });
      }
      for (const m of node.getChild('LabelMatchers')?.getChildren('QuotedLabelMatcher') ?? []) {
        errors.push(`quoted label names are not checked: ${text(m.from, m.to)}`);
      }
      const byName = sel.matchers.find((m) => m.label === '__name__' && m.op === '=');
      if (sel.name === undefined && byName !== undefined) sel.name = byName.value;
      found.push(sel);
    },
  });
  return { selectors: found, errors };
}

/** Grafana's interval variables become a fixed range so the expression parses as PromQL. */
function fromGrafana(expr: string): string {
  return expr.replace(
    /\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g,
    '5m',
  );
}

/** Every problem with the metrics the expressions reference; empty when they all exist. */
function check(exprs: readonly Expr[], ex: Exported): string[] {
  const problems: string[] = [];
  for (const { where, expr } of exprs) {
    const { selectors: sels, errors } = selectors(expr);
    for (const e of errors) problems.push(`${where}: ${e} in ${expr}`);
    if (sels.length === 0) problems.push(`${where}: selects no metric: ${expr}`);
    for (const sel of sels) {
      if (sel.name === undefined) {
        problems.push(`${where}: a selector without a metric name in ${expr}`);
        continue;
      }
      const family = familyOf(sel.name, ex.types);
      if (family === undefined) {
        problems.push(`${where}: ${sel.name} is not exported`);
        continue;
      }
      const labels = ex.labels.get(family) ?? new Map<string, Set<string>>();
      for (const m of sel.matchers) {
        if (m.label === '__name__' || TARGET_LABELS.has(m.label)) continue;
        const isLe = m.label === 'le' && sel.name === `${family}_bucket`;
        const values = labels.get(m.label);
        if (values === undefined && !isLe) {
          problems.push(`${where}: ${sel.name} has no label ${m.label}`);
        } else if (m.op === '=' && !m.value.includes('$') && values && !values.has(m.value)) {
          problems.push(`${where}: ${sel.name}{${m.label}="${m.value}"} is never exported`);
        }
      }
    }
  }
  return problems;
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

function alertExprs(yamlText: string): Expr[] {
  const file = parseYaml(yamlText) as RuleFile;
  return file.groups.flatMap((g) =>
    g.rules.map((r) => ({ where: `alerts.yml ${r.alert ?? r.record}`, expr: String(r.expr) })),
  );
}

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

interface Dashboard {
  panels: Panel[];
  templating?: { list: { name: string; query?: string | { query?: string } }[] };
}

function dashboardExprs(jsonText: string): Expr[] {
  const dash = JSON.parse(jsonText) as Dashboard;
  const out: Expr[] = [];
  const walk = (panels: readonly Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        if (typeof t.expr !== 'string')
          throw new Error(`panel ${p.title} has a target without expr`);
        out.push({ where: `dashboard panel "${p.title}"`, expr: fromGrafana(t.expr) });
      }
      walk(p.panels ?? []); // rows
    }
  };
  walk(dash.panels);
  // Template variables: `label_values(metric, label)` and plain PromQL queries.
  for (const v of dash.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q === undefined || v.name === 'datasource') continue;
    const lv = /^label_values\((.+),\s*(\w+)\)$/.exec(q.trim());
    out.push({ where: `dashboard variable ${v.name}`, expr: fromGrafana(lv ? lv[1]! : q) });
  }
  return out;
}

function markdownExprs(md: string, file: string): Expr[] {
  return [...md.matchAll(/^```text\n([\s\S]*?)^```$/gm)].map((m) => ({
    where: `${file} PromQL block`,
    expr: m[1]!,
  }));
}

/** A recorder fed through every hook, so that each labelled series exists. */
async function fedExposition(): Promise<string> {
  const r = new PrometheusRecorder();
  r.proxyRequest();
  r.proxyRecovered();
  r.proxyFailed('exhausted');
  r.proxyInflightDedup();
  r.proxyQueueDropped();
  r.proxyDropped('queue-full');
  r.recoveryLatency(12);
  r.queueDepth(3);
  r.inflight(2);
  for (const kind of ['frame', 'miss', 'throttled', 'timeout', 'error'])
    r.upstreamReply('a:9300', kind);
  r.upstreamState('a:9300', 'demoted');
  r.paced('a:9300', 'ip');
  r.paced('a:9300', 'flow');
  r.hedge();
  r.unicastRetransmit();
  r.componentError('cache');
  r.invalidFrame('txid-mismatch');
  return register.metrics();
}

beforeEach(() => register.clear());
afterEach(() => register.clear());

describe('docs: alert rules, Grafana dashboard and metrics.md', () => {
  const alerts = read('alerts.yml');
  const dashboard = read('grafana-dashboard.json');
  const metricsMd = read('metrics.md');

  it('the alert rules reference only exported metrics, labels and values', async () => {
    const exprs = alertExprs(alerts);
    expect(exprs.length).toBeGreaterThanOrEqual(5);
    expect(check(exprs, exported(await fedExposition()))).toEqual([]);
  });

  it("the dashboard's panels and variables reference only exported metrics", async () => {
    const exprs = dashboardExprs(dashboard);
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    expect(check(exprs, exported(await fedExposition()))).toEqual([]);
  });

  it("metrics.md's queries reference only exported metrics", async () => {
    const exprs = markdownExprs(metricsMd, 'metrics.md');
    expect(exprs.length).toBeGreaterThanOrEqual(3);
    expect(check(exprs, exported(await fedExposition()))).toEqual([]);
  });

  it('the alert rules and the dashboard between them use every exported metric', async () => {
    const ex = exported(await fedExposition());
    const used = new Set<string>();
    for (const { expr } of [...alertExprs(alerts), ...dashboardExprs(dashboard)]) {
      for (const s of selectors(expr).selectors) {
        const family = s.name === undefined ? undefined : familyOf(s.name, ex.types);
        if (family !== undefined) used.add(family);
      }
    }
    // queue_dropped_total is dropped{reason="queue-full"} by another name.
    const unused = Object.keys(EXPORTED).filter(
      (m) => !used.has(m) && m !== 'bre_proxy_queue_dropped_total',
    );
    expect(unused).toEqual([]);
  });

  it("metrics.md's table lists every exported metric with its type, and no other", async () => {
    const rows = [...metricsMd.matchAll(/^\| `(bre_proxy_\w+)` +\| (\w+) /gm)];
    const documented = Object.fromEntries(rows.map(([, name, type]) => [name!, type!]));
    expect(documented).toEqual(EXPORTED);
    const t = types(await fedExposition());
    expect(Object.fromEntries([...t].filter(([n]) => n.startsWith('bre_proxy_')))).toEqual(
      EXPORTED,
    );
  });

  describe('the check fails when it should', () => {
    it('on a misspelled metric in a copy of the alert rules', async () => {
      const ex = exported(await fedExposition());
      const typo = alerts.replace(
        'max by (instance, upstream) (bre_proxy_upstream_healthy)',
        'max by (instance, upstream) (bre_proxy_upstream_healty)',
      );
      expect(typo).not.toBe(alerts);
      expect(check(alertExprs(typo), ex)).toEqual([
        'alerts.yml NackProxyUpstreamDown: bre_proxy_upstream_healty is not exported',
      ]);
    });

    it('on a misspelled metric in a copy of the dashboard', async () => {
      const ex = exported(await fedExposition());
      const typo = dashboard.replace('bre_proxy_hedges_total', 'bre_proxy_hedge_total');
      expect(typo).not.toBe(dashboard);
      expect(check(dashboardExprs(typo), ex)).toEqual([
        'dashboard panel "Pacing waits and hedges": bre_proxy_hedge_total is not exported',
      ]);
    });

    it('on a wrong label, a value never exported, a counter suffix, a syntax error', async () => {
      const ex = exported(await fedExposition());
      const exprs = [
        'rate(bre_proxy_dropped_total{cause="queue-full"}[5m])',
        'rate(bre_proxy_dropped_total{reason="queue_full"}[5m])',
        'rate(bre_proxy_hedges_total_bucket[5m])',
        'sum(rate(bre_proxy_recovered_total[5m]) / ',
        'vector(1)',
        '{job="relay"}',
      ].map((expr) => ({ where: 'x', expr }));
      const problems = check(exprs, ex);
      expect(problems).toContain('x: bre_proxy_dropped_total has no label cause');
      expect(problems).toContain(
        'x: bre_proxy_dropped_total{reason="queue_full"} is never exported',
      );
      expect(problems).toContain('x: bre_proxy_hedges_total_bucket is not exported');
      expect(problems.some((p) => p.includes('syntax error'))).toBe(true);
      expect(problems).toContain('x: selects no metric: vector(1)');
      expect(problems.some((p) => p.includes('without a metric name'))).toBe(true);
    });

    it('accepts what exists: histogram suffixes, le, target labels, __name__, variables', async () => {
      const ex = exported(await fedExposition());
      const exprs = [
        'histogram_quantile(0.9, sum by (le) (rate(bre_proxy_recovery_seconds_bucket{le="+Inf"}[5m])))',
        'rate(bre_proxy_recovery_seconds_sum[5m]) / rate(bre_proxy_recovery_seconds_count[5m])',
        '{__name__="bre_proxy_inflight", instance="a", job="b"}',
        fromGrafana(
          'rate(bre_proxy_paced_total{upstream=~"$upstream", tier="flow"}[$__rate_interval])',
        ),
      ].map((expr) => ({ where: 'x', expr }));
      expect(check(exprs, ex)).toEqual([]);
    });
  });
});
