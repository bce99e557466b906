// SPDX-License-Identifier: Apache-2.0
/**
 * `snapshot`: the maps, printed as a table sorted by utilization, or as JSON, with each
 * map's level (`off` where its levels are off), growth, time to full, peak fill and suggested
 * max_entries. Growth needs two readings: by default two collections
 * pressure.snapshot_interval (1 s) apart, a plain difference over that second (the daemon fits
 * a window instead); with the interval at 0, one collection and no growth. The peak is that of
 * these readings only: snapshot has no history (the daemon keeps pressure.peak_window).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createCollector } from '../collector-setup';
import { awaitsWalk, type Collection, type MapStats } from '../collector';
import type { AgentError } from '../errors';
import type { AgentConfig } from '../config';
import { ownerLabel, ownersJson } from '../owners/format';
import { formatFullIn, formatGrowth } from '../pressure/format';
import { type PressureReadout, PressureTracker } from '../pressure/tracker';
import { byUtilization, formatBytes, formatPercent, renderTable } from './format';

/** The JSON shape scripts rely on: keep these keys. */
export function snapshotJson(c: Collection, pressure: PressureReadout | null = null): string {
  const maps = [...c.maps].sort(byUtilization).map((m: MapStats) => ({
    id: m.id,
    name: m.name,
    type: m.type,
    max_entries: m.maxEntries,
    entries: m.entries,
    utilization: m.utilization,
    memory_bytes: m.memoryBytes,
    memory_estimated: m.memoryEstimated ?? false,
    count_method: m.countMethod,
    count_age_ms: m.countAgeMs ?? null,
    count_stale: m.countStale ?? false,
    pending_bytes: m.pendingBytes,
    key_size: m.keySize,
    value_size: m.valueSize,
    flags: m.mapFlags,
    not_counted: m.notCounted,
    not_counted_reason: m.notCountedReason,
    level: pressure?.maps.get(m.id)?.level ?? null,
    growth_per_s: pressure?.maps.get(m.id)?.growthPerS ?? null,
    time_to_full_s: pressure?.maps.get(m.id)?.timeToFullS ?? null,
    peak_entries: pressure?.maps.get(m.id)?.peakFill ?? null,
    peak_utilization: pressure?.maps.get(m.id)?.peakUtilization ?? null,
    peak_over_s: pressure?.maps.get(m.id)?.peakOverS ?? null,
    suggested_max_entries: pressure?.maps.get(m.id)?.suggestedMaxEntries ?? null,
    ...ownersJson(m.owners ?? null),
  }));
  const brief = (e: AgentError | null) => e && { code: e.code, message: e.message, hint: e.hint };
  // Why every memory_bytes is null, when it is (e.g. no CAP_SYS_ADMIN), why maps that need an
  // element walk (kernels < 6.6) have no count, and which walk programs this kernel refuses:
  // scripts can tell them from a per-map gap.
  return JSON.stringify(
    {
      time: new Date(c.time).toISOString(),
      maps_seen: c.mapsSeen,
      memory_error: brief(c.memoryError),
      walk_error: brief(c.walkError),
      walk_unsupported: brief(c.walkUnsupported),
      owners_unsupported: brief(c.ownerProblems?.unsupported ?? null),
      owners_error: brief(c.ownerProblems?.failed ?? null),
      pins_error: brief(c.ownerProblems?.pins ?? null),
      maps,
    },
    null,
    2,
  );
}

/** A walk count from an earlier collection says how old it is. */
function staleNote(m: MapStats): string {
  return m.countStale && m.countAgeMs != null ? `stale: walked ${(m.countAgeMs / 1000).toFixed(1)} s ago (walk budget)` : '';
}

export function snapshotTable(c: Collection, pressure: PressureReadout | null = null): string {
  const rows = [...c.maps].sort(byUtilization).map((m) => {
    const p = pressure?.maps.get(m.id);
    const ring = m.type.endsWith('ringbuf');
    return [
      String(m.id),
      m.name || '-',
      m.type,
      ownerLabel(m.owners ?? null),
      m.entries !== null ? String(m.entries) : m.pendingBytes !== null ? formatBytes(m.pendingBytes) : '-',
      ring ? formatBytes(m.maxEntries) : String(m.maxEntries),
      formatPercent(m.utilization),
      p?.level ?? '-',
      formatGrowth(p?.growthPerS ?? null),
      p ? formatFullIn(p) : '-',
      formatPercent(p?.peakUtilization ?? null),
      p?.suggestedMaxEntries == null ? '-' : ring ? formatBytes(p.suggestedMaxEntries) : String(p.suggestedMaxEntries),
      formatBytes(m.memoryBytes),
      m.countMethod,
      m.notCounted ?? staleNote(m),
    ];
  });
  const header = ['ID', 'NAME', 'TYPE', 'OWNER', 'ENTRIES', 'MAX', 'UTIL', 'LEVEL', 'GROWTH', 'FULL IN', 'PEAK', 'SUGGESTED', 'MEMORY', 'METHOD', 'NOTE'];
  let out = renderTable(header, rows, new Set([0, 4, 5, 6, 8, 9, 10, 11, 12]));
  out += `\n${c.maps.length} maps`;
  if (c.mapsSeen !== c.maps.length) out += ` (${c.mapsSeen - c.maps.length} filtered out)`;
  if (c.memoryError) out += `\nmemory not readable (${c.memoryError.code}): ${c.memoryError.hint}`;
  const uncounted = (n: number, e: AgentError, why: string) => `\n${n} map${n === 1 ? '' : 's'} not counted (${e.code}): ${why}`;
  if (c.walkError) out += uncounted(c.maps.filter(awaitsWalk).length, c.walkError, c.walkError.hint);
  if (c.walkUnsupported) {
    // Said whenever a map pays for it; the agent logs it at start in any case.
    const n = c.maps.filter((m) => m.notCountedReason === 'walk_unsupported').length;
    if (n > 0) out += uncounted(n, c.walkUnsupported, c.walkUnsupported.message);
  }
  // What the OWNER column cannot say ("?" cells): why.
  for (const e of [c.ownerProblems?.unsupported, c.ownerProblems?.failed, c.ownerProblems?.pins]) if (e) out += `\nowners incomplete (${e.code}): ${e.message}`;
  return out;
}

export async function snapshot(config: AgentConfig, output: 'table' | 'json'): Promise<string> {
  const collector = createCollector(config);
  try {
    const read = await readTwice(collector, config);
    // A one-shot view may wait for owners (the agent's collections never do).
    const collection = await collector.withFreshOwners(read.collection);
    const pressure = read.pressure;
    return output === 'json' ? snapshotJson(collection, pressure) : snapshotTable(collection, pressure);
  } finally {
    await collector.close();
  }
}

/**
 * One collection, or two pressure.snapshot_interval apart so growth can be measured. Levels
 * are those of the last reading (no hysteresis: there is no history to smooth).
 */
export async function readTwice(
  collector: { collect(): Promise<Collection> },
  config: Pick<AgentConfig, 'pressure'>,
): Promise<{ collection: Collection; pressure: PressureReadout }> {
  const tracker = new PressureTracker({ ...config.pressure, hysteresisMargin: 0, clearAfter: 1 });
  let collection = await collector.collect();
  let pressure = tracker.update(collection).readout;
  if (config.pressure.snapshotIntervalMs > 0) {
    await sleep(config.pressure.snapshotIntervalMs);
    collection = await collector.collect();
    pressure = tracker.update(collection).readout;
  }
  return { collection, pressure };
}
