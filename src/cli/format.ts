// SPDX-License-Identifier: Apache-2.0
/** Plain-text rendering shared by the CLI views. */
import type { MapStats } from '../collector';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number | null): string {
  if (n === null) return '-';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

export function formatPercent(ratio: number | null): string {
  return ratio === null ? '-' : `${(ratio * 100).toFixed(1)}%`;
}

/** Highest utilization first; maps without one last, by id. */
export function byUtilization(a: MapStats, b: MapStats): number {
  const ua = a.utilization ?? -1;
  const ub = b.utilization ?? -1;
  return ub - ua || a.id - b.id;
}

/** Left-aligned columns, right-aligned where `right` says, separated by two spaces. */
export function renderTable(header: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
