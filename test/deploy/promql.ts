// SPDX-License-Identifier: Apache-2.0
/**
 * Just enough PromQL reading for the deploy tests: which metric names and which label names
 * an expression uses. Not a parser: string literals, label matchers, grouping clauses and
 * durations are cut out, and what remains as a bare identifier not followed by "(" and not
 * a keyword is a metric name. Syntax itself is checked by real Prometheus (promtool and the
 * scrape test's query API), so this only needs to find names.
 */
import { ALL_METRICS, ATTR, prometheusName } from '../../src/metrics/table';
import { buildResource } from '../../src/resource';

const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan', 'atan2']);

/** Grafana's template variables, as a dashboard query would see them at run time. */
export function expandGrafana(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{?(\w+)\}?/g, '.*');
}

/** Metric names an expression selects. */
export function metricNames(expr: string): string[] {
  let s = expandGrafana(expr);
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""'); // strings
  s = s.replace(/\{[^}]*\}/g, ' '); // label matchers
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  s = s.replace(/\[[^\]]*\]/g, ' '); // ranges and subqueries
  const names = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = s.slice(m.index! + word.length).trimStart();
    if (after.startsWith('(')) continue; // a function or aggregation
    if (KEYWORDS.has(word.toLowerCase())) continue;
    const before = s.slice(0, m.index!);
    if (/[0-9.]$/.test(before) || /\d[eE]$/.test(before)) continue; // part of a number like 1e3
    names.add(word);
  }
  return [...names];
}

/** Label names an expression matches on or groups by. */
export function labelNames(expr: string): string[] {
  const s = expandGrafana(expr).replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const out = new Set<string>();
  for (const block of s.matchAll(/\{([^}]*)\}/g)) {
    for (const m of block[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) out.add(m[1]!);
  }
  for (const block of s.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of block[1]!.split(',').map((x) => x.trim()).filter(Boolean)) out.add(l);
  }
  return [...out];
}

/**
 * Names the agent exports, as the collector's Prometheus exporter (and its own endpoint)
 * writes them: prometheusName of each table entry, and a histogram's _bucket, _sum, _count.
 */
export const EXPORTED_METRICS = new Set(
  ALL_METRICS.flatMap((m) => {
    const name = prometheusName(m);
    return m.instrument === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
  }),
);

/** A Prometheus label from an OpenTelemetry attribute key. */
export const promLabel = (key: string): string => key.replace(/[^a-zA-Z0-9_]/g, '_');

/**
 * Labels a query may use: the metric table's attributes, the resource attributes the agent
 * sets (src/resource.ts) and those the deploy files add (k8s.*), which the collector turns
 * into labels, and the job/instance every scrape has.
 */
export function knownLabels(): Set<string> {
  const resource = buildResource({ machineIdFile: '/etc/machine-id' });
  return new Set([
    ...Object.values(ATTR).map(promLabel),
    // Every attribute a metric of the table declares (ebpf.map.owner's process.*, k8s.*, ...).
    ...ALL_METRICS.flatMap((m) => m.attributes).map(promLabel),
    ...Object.keys(resource.attributes).map(promLabel),
    ...['k8s.node.name', 'k8s.pod.name', 'k8s.namespace.name'].map(promLabel),
    'job',
    'instance',
    '__name__',
    'le', // histogram buckets
  ]);
}
