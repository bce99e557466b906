// SPDX-License-Identifier: Apache-2.0
/**
 * Parsing of the pressure and webhook settings, shared by the configuration's formats
 * (src/config/formats.ts validates and normalizes with these) and the pressure layer. Pure
 * functions, no imports from the rest of the agent, so the configuration can use them at load time.
 */

/** A level's threshold as a fill ratio in (0, 1], or null when that level is off. */
export type Threshold = number | null;

export interface Thresholds {
  warning: Threshold;
  critical: Threshold;
}

/** One override: maps whose type (or name, by glob) is `match` get these thresholds. */
export interface ThresholdRule extends Thresholds {
  match: string;
}

/** "0.7", "70%", 0.7 -> 0.7; "off", "none", null -> null. Throws a message naming the fix. */
export function parseThreshold(value: unknown): Threshold {
  if (value === null) return null;
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase();
    if (s === 'off' || s === 'none') return null;
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
    const n = pct ? Number(pct[1]) / 100 : s === '' ? NaN : Number(s);
    return parseThreshold(n);
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1)
    throw new Error(`threshold ${JSON.stringify(value)} must be a fill ratio above 0 and at most 1 (like 0.8 or "80%"), or "off"`);
  return value;
}

/** Both set and warning not below critical is a mistake: the warning could never show. */
export function checkOrder(t: Thresholds, where: string): void {
  if (t.warning !== null && t.critical !== null && t.warning >= t.critical)
    throw new Error(`${where}: warning (${t.warning}) must be below critical (${t.critical})`);
}

/** "MATCH=WARN/CRIT" -> a rule. `allowed` restricts MATCH (map type names). */
export function parseRule(text: string, allowed?: readonly string[]): ThresholdRule {
  const eq = text.lastIndexOf('=');
  const slash = text.indexOf('/', eq + 1);
  if (eq <= 0 || slash < 0)
    throw new Error(`${JSON.stringify(text)} must look like "NAME=WARNING/CRITICAL", e.g. "lru_hash=off/0.98" or "conntrack_*=0.6/0.75"`);
  const match = text.slice(0, eq).trim();
  if (allowed && !allowed.includes(match))
    throw new Error(`${JSON.stringify(match)} is not a map type; known types: ${allowed.join(', ')}`);
  const rule = {
    match,
    warning: parseThreshold(text.slice(eq + 1, slash)),
    critical: parseThreshold(text.slice(slash + 1)),
  };
  checkOrder(rule, JSON.stringify(text));
  return rule;
}

/** A list of rules: an array of "MATCH=WARN/CRIT" strings, or one comma-separated string. */
export function parseRules(value: unknown, allowed?: readonly string[]): ThresholdRule[] {
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
  if (!Array.isArray(items) || items.some((v) => typeof v !== 'string'))
    throw new Error('must be a list of "NAME=WARNING/CRITICAL" strings (an array in a file, comma-separated in env or flags)');
  return items.map((s: string) => parseRule(s, allowed));
}

/** The rule as it is written, for printing the effective configuration. */
export function formatRule(r: ThresholdRule): string {
  const t = (v: Threshold) => (v === null ? 'off' : String(v));
  return `${r.match}=${t(r.warning)}/${t(r.critical)}`;
}

/** A webhook URL: http(s) only. Never echoes the URL (its path may be the secret). */
export function checkWebhookUrl(value: unknown, index: number): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new Error(`URL #${index + 1} is not a valid URL (expected "https://host/path")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`URL #${index + 1} must use http:// or https://`);
  return url;
}

/**
 * A webhook URL fit for a log line: scheme and host only. A Slack (and most chat) webhook's
 * secret is its path, others put a token in the query or the user info, so all three go.
 */
export function redactWebhookUrl(value: string): string {
  try {
    const url = new URL(value);
    const hidden = url.pathname !== '/' || url.search !== '' || url.username !== '' || url.password !== '';
    return `${url.protocol}//${url.host}${hidden ? '/***' : '/'}`;
  } catch {
    return '[invalid URL]';
  }
}

/** Checks across keys of the pressure section; one message per problem. */
export function pressureProblems(raw: { warning: unknown; critical: unknown }): string[] {
  try {
    checkOrder({ warning: parseThreshold(raw.warning), critical: parseThreshold(raw.critical) }, 'pressure.warning and pressure.critical');
    return [];
  } catch (e) {
    return [`${(e as Error).message}; lower pressure.warning or raise pressure.critical`];
  }
}
