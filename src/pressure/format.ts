// SPDX-License-Identifier: Apache-2.0
/** Wording of growth and time to full, shared by log lines, webhooks and the CLI views. */

/**
 * Seconds as a person reads a forecast: "~45 s", "~12 min", "~3 h", "~2 d"; under a second
 * "<1 s" — never "now", which is for a map that is full (see formatFullIn).
 */
export function formatTimeToFull(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 1) return '<1 s';
  if (seconds < 90) return `~${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `~${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `~${Math.round(seconds / 3600)} h`;
  return `~${Math.round(seconds / 86400)} d`;
}

/** Entries (bytes for ring buffers) per second, signed: "+12.5/s", "-3/s", "+1.2k/s". */
export function formatGrowth(perS: number | null): string {
  if (perS === null) return '-';
  if (perS === 0) return '0/s';
  const sign = perS > 0 ? '+' : '-';
  const a = Math.abs(perS);
  let body: string;
  if (a >= 1e6) body = `${(a / 1e6).toFixed(1)}M`;
  else if (a >= 1e4) body = `${(a / 1e3).toFixed(0)}k`;
  else if (a >= 1e3) body = `${(a / 1e3).toFixed(1)}k`;
  else if (a >= 10) body = a.toFixed(0);
  else if (a >= 0.1) body = a.toFixed(1);
  else body = a.toFixed(3);
  return `${sign}${body}/s`;
}

/** "2900/4096" (pending bytes for ring buffers), "-/4096" when not counted. */
export function formatFill(fill: number | null, max: number): string {
  return `${fill === null ? '-' : fill}/${max}`;
}

/** The FULL IN cell: "full" for a map at its limit (a fact, not a forecast), else the forecast. */
export function formatFullIn(m: { fill: number | null; maxEntries: number; timeToFullS: number | null }): string {
  if (m.fill !== null && m.maxEntries > 0 && m.fill >= m.maxEntries) return 'full';
  return formatTimeToFull(m.timeToFullS);
}
