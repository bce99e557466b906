// SPDX-License-Identifier: Apache-2.0
/**
 * The per-map series: which metric of the table each map feeds, and with what value, read
 * from one collection and the pressure readout of the same collection. The OTLP encoder and
 * the Prometheus renderer (src/export/) walk this table; nothing builds a JS object per point.
 *
 * Why not observable gauges: the SDK's observable instruments remember every attribute set
 * they ever saw (cumulative temporality exports deleted maps forever; either temporality
 * folds new maps into otel.metric.overflow after 2,000). Map ids change on every reload, so
 * per-map series are written straight from the maps alive in the collection being exported.
 */
import type { Collection, MapStats } from '../collector';
import { LEVEL_VALUE } from '../pressure/levels';
import type { MapPressure, PressureReadout } from '../pressure/tracker';
import { METRICS, type MetricSpec } from './table';

export interface PerMapSeries {
  readonly spec: MetricSpec;
  /** The map's value for this metric; null: the map has no point in this metric. */
  value(m: MapStats, p: MapPressure | undefined): number | null;
}

/**
 * The value of ebpf.map.alert_level, or null when the map has no level (no utilization). A map
 * whose levels are off (LRU hashes by default) is `off` in the pressure readout and exports -1
 * (LEVEL_VALUE): a value no rule on `== 0` (normal) or `> 0` (alerting) takes for either.
 */
export function alertLevelValue(p: MapPressure | undefined): number | null {
  return p?.level ? LEVEL_VALUE[p.level] : null;
}

/** Every per-map metric, in the order they are exported. */
export const PER_MAP_SERIES: readonly PerMapSeries[] = [
  { spec: METRICS.entries, value: (m) => m.entries },
  { spec: METRICS.maxEntries, value: (m) => m.maxEntries },
  { spec: METRICS.utilization, value: (m) => m.utilization },
  { spec: METRICS.memory, value: (m) => m.memoryBytes },
  { spec: METRICS.ringbufPending, value: (m) => m.pendingBytes },
  { spec: METRICS.countAge, value: (m) => (m.countAgeMs == null ? null : m.countAgeMs / 1000) },
  { spec: METRICS.alertLevel, value: (_m, p) => alertLevelValue(p) },
  { spec: METRICS.timeToFull, value: (_m, p) => p?.timeToFullS ?? null },
];

/** The readout of this very collection, or null: levels of another would pair with the wrong fills. */
export function readoutFor(c: Collection, pressure: PressureReadout | null | undefined): PressureReadout | null {
  return pressure && pressure.time === c.time ? pressure : null;
}
