// SPDX-License-Identifier: Apache-2.0
/**
 * The one table of every metric the agent exports: OpenTelemetry name, UCUM unit,
 * description, instrument, attributes. Code, docs (docs/metrics.md is generated from it) and
 * tests import it; nothing else spells a metric name.
 */

export type Instrument = 'gauge' | 'counter' | 'histogram';

export interface MetricSpec {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly instrument: Instrument;
  readonly valueType: 'int' | 'double';
  /** Attribute keys on its series. */
  readonly attributes: readonly string[];
}

/** Attributes on per-map series. */
export const ATTR = {
  id: 'ebpf.map.id',
  name: 'ebpf.map.name',
  type: 'ebpf.map.type',
  countMethod: 'ebpf.map.count_method',
  errorCode: 'error.code',
  exporter: 'exporter',
} as const;

const PER_MAP = [ATTR.id, ATTR.name, ATTR.type] as const;

export const METRICS = {
  entries: {
    name: 'ebpf.map.entries',
    unit: '{entry}',
    description: 'Entries in the map, where the kernel lets them be counted.',
    instrument: 'gauge',
    valueType: 'int',
    attributes: [...PER_MAP, ATTR.countMethod],
  },
  maxEntries: {
    name: 'ebpf.map.max_entries',
    unit: '{entry}',
    description: "The map's capacity (max_entries; bytes of data for ring buffers).",
    instrument: 'gauge',
    valueType: 'int',
    attributes: PER_MAP,
  },
  utilization: {
    name: 'ebpf.map.utilization',
    unit: '1',
    description: 'Entries / max_entries (pending bytes / size for ring buffers), 0..1, where meaningful.',
    instrument: 'gauge',
    valueType: 'double',
    attributes: [...PER_MAP, ATTR.countMethod],
  },
  memory: {
    name: 'ebpf.map.memory',
    unit: 'By',
    description: 'Kernel-accounted memory of the map (fdinfo memlock, as bpftool shows it).',
    instrument: 'gauge',
    valueType: 'int',
    attributes: PER_MAP,
  },
  countAge: {
    name: 'ebpf.map.count_age',
    unit: 's',
    description: 'Maps counted by an element walk (kernels < 6.6): age of the count; 0 when walked in this collection, more when the walk budget deferred it (a stale count).',
    instrument: 'gauge',
    valueType: 'double',
    attributes: PER_MAP,
  },
  ringbufPending: {
    name: 'ebpf.map.ringbuf.pending',
    unit: 'By',
    description: 'Ring buffers: bytes written by producers and not yet consumed.',
    instrument: 'gauge',
    valueType: 'int',
    attributes: PER_MAP,
  },
  alertLevel: {
    name: 'ebpf.map.alert_level',
    // `{level}`, not `1`: a level is not a ratio, and `1` would make the Prometheus name
    // ebpf_map_alert_level_ratio (the collector suffixes unit-1 gauges with _ratio).
    unit: '{level}',
    description: 'Pressure level of the map: 0 normal, 1 warning, 2 critical (with hysteresis); only maps with a utilization.',
    instrument: 'gauge',
    valueType: 'int',
    attributes: PER_MAP,
  },
  timeToFull: {
    name: 'ebpf.map.time_to_full',
    unit: 's',
    description: 'Forecast seconds until the map is full at its recent growth rate; only while it is clearly growing.',
    instrument: 'gauge',
    valueType: 'double',
    attributes: PER_MAP,
  },
  count: {
    name: 'ebpf.map.count',
    unit: '{map}',
    description: 'Maps on the host, by type.',
    instrument: 'gauge',
    valueType: 'int',
    attributes: [ATTR.type],
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof METRICS;

const UNIT_SUFFIX: Record<string, string> = { By: 'bytes', '1': 'ratio', s: 'seconds', ms: 'milliseconds' };

/**
 * The name the OpenTelemetry Collector's Prometheus exporter gives a metric (dots to
 * underscores, a unit suffix, `_total` on counters; `{annotation}` units add nothing). The
 * agent's own Prometheus endpoint uses the same names, so one dashboard serves both paths.
 */
export function prometheusName(spec: MetricSpec): string {
  let name = spec.name.replace(/[^a-zA-Z0-9_:]/g, '_');
  const suffix = UNIT_SUFFIX[spec.unit];
  if (suffix && !name.endsWith(`_${suffix}`)) name += `_${suffix}`;
  if (spec.instrument === 'counter') name += '_total';
  return name;
}

export const ALL_METRICS: readonly MetricSpec[] = Object.values(METRICS);
