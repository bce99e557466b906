// SPDX-License-Identifier: Apache-2.0
/**
 * SIGHUP: the configuration is loaded again from the same file, flags and environment, and
 * what changed is applied to the running agent where that can be done without losing
 * anything — the delivery queue, the pressure history and the caches stay as they are.
 *
 * - Applied at once: RELOADABLE (log level; pressure thresholds, per-type and per-name rules,
 *   hysteresis, clear_after and headroom; metrics.<name>.enabled). Every map keeps its level,
 *   window and peak; a level moves by the usual rules at its next collection. A metric switched
 *   on or off is in or out of the next export (its series simply start or stop).
 * - Everything else (endpoints, interval, exporters, ports, filters, …) needs a restart: the
 *   running value stays, and the log line names those keys so nobody believes they took effect.
 * - An invalid file or value: the running configuration stays, and one warning says why.
 *
 * The log names keys as the configuration file writes them and shows values only for the
 * applied keys, none of which is secret.
 */
import type { AgentConfig } from '../config';
import { AgentError } from '../errors';
import type { Logger } from '../log';

/** Keys (and sections) a reload applies while the agent runs. */
export const RELOADABLE = [
  'log.level',
  'pressure.warning',
  'pressure.critical',
  'pressure.types',
  'pressure.names',
  'pressure.hysteresis_margin',
  'pressure.clear_after',
  'pressure.headroom',
  'metrics',
] as const;

/** A loaded configuration: the normalized one and its printable form (keys as the file writes them, secrets redacted). */
export interface Loaded {
  config: AgentConfig;
  printable: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Leaves of a printable configuration by dotted key; arrays are leaves (compared whole). */
function leaves(v: Json, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, JSON.stringify(v));
  return out;
}

/** The keys whose values differ between two printable configurations, sorted. */
export function changedKeys(before: string, after: string): string[] {
  const a = leaves(JSON.parse(before) as Json);
  const b = leaves(JSON.parse(after) as Json);
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

/** The keys printable() redacts, and where their values are in the normalized configuration. */
const SECRETS: Record<string, (c: AgentConfig) => unknown> = {
  'otlp.headers': (c) => c.otlp.headers,
  'otlp.endpoint': (c) => c.otlp.endpoint,
  'webhook.urls': (c) => c.webhook.urls,
  'owners.kubelet.url': (c) => c.owners.kubelet.url,
};

const reloadable = (key: string) => RELOADABLE.some((r) => key === r || key.startsWith(`${r}.`));

/** What the running agent takes from a reload. */
export interface ReloadTarget {
  setLogLevel(level: AgentConfig['logLevel']): void;
  setPressure(pressure: AgentConfig['pressure']): void;
  setMetrics(metrics: AgentConfig['metrics']): void;
}

/**
 * Loads the configuration again and applies what can be applied; returns the configuration
 * now running (the old one with the applied keys changed).
 */
export function reload(running: Loaded, load: () => Loaded, target: ReloadTarget, log: Logger): Loaded {
  let next: Loaded;
  try {
    next = load();
  } catch (e) {
    const code = e instanceof AgentError ? e.code : 'EMP_CONFIG_INVALID';
    log.warn('configuration reload failed: the running configuration stays', { code, error: (e as Error).message });
    return running;
  }
  const changed = changedKeys(running.printable, next.printable);
  // A secret's change does not show through its redaction: compared unredacted, named only.
  for (const [key, value] of Object.entries(SECRETS)) {
    if (!changed.some((k) => k === key || k.startsWith(`${key}.`)) && JSON.stringify(value(running.config)) !== JSON.stringify(value(next.config))) changed.push(key);
  }
  changed.sort();
  const applied = changed.filter(reloadable);
  const restart = changed.filter((k) => !reloadable(k));
  if (changed.length === 0) {
    log.info('configuration reloaded: nothing changed');
    return running;
  }
  if (applied.includes('log.level')) target.setLogLevel(next.config.logLevel);
  if (applied.some((k) => k.startsWith('pressure.'))) target.setPressure(next.config.pressure);
  const metrics = applied.some((k) => k.startsWith('metrics.'));
  if (metrics) target.setMetrics(next.config.metrics);
  const after = leaves(JSON.parse(next.printable) as Json);
  log.info('configuration reloaded', {
    applied: applied.map((k) => `${k}=${plain(after.get(k)!)}`).join(' ') || undefined,
    restart_needed: restart.join(',') || undefined,
  });
  // What runs now: the old configuration with the applied keys taken from the new one.
  const merged = JSON.parse(running.printable) as Record<string, Json>;
  const fresh = JSON.parse(next.printable) as Record<string, Json>;
  for (const k of applied) setPath(merged, k, getPath(fresh, k));
  const { warning, critical, types, names, hysteresisMargin, clearAfter, headroom } = next.config.pressure;
  const config: AgentConfig = {
    ...running.config,
    logLevel: applied.includes('log.level') ? next.config.logLevel : running.config.logLevel,
    pressure: { ...running.config.pressure, warning, critical, types, names, hysteresisMargin, clearAfter, headroom },
    metrics: metrics ? next.config.metrics : running.config.metrics,
  };
  return { config, printable: JSON.stringify(merged, null, 2) };
}

/** A JSON value as a log shows it: strings bare. */
function plain(json: string): string {
  const v = JSON.parse(json) as Json;
  return typeof v === 'string' ? v : json;
}

function getPath(o: Record<string, Json>, key: string): Json {
  let v: Json = o;
  for (const part of key.split('.')) v = (v as Record<string, Json>)[part] ?? null;
  return v;
}

function setPath(o: Record<string, Json>, key: string, value: Json): void {
  const parts = key.split('.');
  let v = o;
  for (const part of parts.slice(0, -1)) v = (v[part] ??= {}) as Record<string, Json>;
  v[parts[parts.length - 1]!] = value;
}
