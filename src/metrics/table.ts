// SPDX-License-Identifier: Apache-2.0
/**
 * The one table of every metric the agent exports: OpenTelemetry name, UCUM unit,
 * description, instrument, attributes, and whether it is on by default. Code, docs
 * (docs/metrics.md is generated from it), the configuration's metrics.<name>.enabled keys and
 * tests import it; nothing else spells a metric name.
 */

export type Instrument = 'gauge' | 'counter' | 'histogram';

interface MetricFields {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly instrument: Instrument;
  readonly valueType: 'int' | 'double';
  /** Attribute keys on its series. */
  readonly attributes: readonly string[];
}

/**
 * Whether the metric is exported when the configuration does not say (metrics.<name>.enabled,
 * src/config/schema.ts, generated from this table). A metric off by default says why: the docs show it.
 */
export type MetricDefault = { readonly enabled: true } | { readonly enabled: false; readonly offBecause: string };

export type MetricSpec = MetricFields & MetricDefault;

/** Attributes on per-map series. */
export const ATTR = {
  id: 'ebpf.map.id',
  name: 'ebpf.map.name',
  type: 'ebpf.map.type',
  countMethod: 'ebpf.map.count_method',
  /** OpenTelemetry's attribute for the class of an error; the values are EMP_ codes. */
  errorType: 'error.type',
  exporter: 'exporter',
  /** Why maps.skipped counts a map (filtered, not_counted, memory_unreadable), why export.dropped drops a request. */
  reason: 'reason',
} as const;

/** The identifying attributes of every per-map series (src/export/attributes.ts encodes them). */
export const PER_MAP = [ATTR.id, ATTR.name, ATTR.type, ATTR.countMethod] as const;

/**
 * The map on the owner series (ebpf.map.owner, ebpf.map.owners.omitted): no count method, which
 * is no part of who owns the map (a map switching to a walk would start new owner series).
 * Join them to per-map series on ebpf.map.id.
 */
export const MAP_REF = [ATTR.id, ATTR.name, ATTR.type] as const;

/**
 * Attributes of ebpf.map.owner: one series per (map, owner) — a process, a program or a pin.
 * OpenTelemetry's semantic conventions where they exist (process.*, container.id, k8s.*).
 */
export const OWNER_ATTRIBUTES = [
  'process.pid',
  'process.executable.name',
  'process.command',
  'container.id',
  'k8s.pod.uid',
  'k8s.pod.name',
  'k8s.namespace.name',
  'k8s.container.name',
  'ebpf.owner.via',
  'ebpf.program.id',
  'ebpf.program.name',
  'ebpf.program.type',
  'ebpf.pin.path',
] as const;

export const METRICS = {
  entries: {
    name: 'ebpf.map.entries',
    unit: '{entry}',
    description: 'Entries in the map, where the kernel lets them be counted.',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: PER_MAP,
  },
  maxEntries: {
    name: 'ebpf.map.max_entries',
    unit: '{entry}',
    description: "The map's capacity (max_entries; bytes of data for ring buffers).",
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: PER_MAP,
  },
  utilization: {
    name: 'ebpf.map.utilization',
    unit: '1',
    description: 'Entries / max_entries (pending bytes / size for ring buffers), 0..1, where meaningful.',
    instrument: 'gauge',
    valueType: 'double',
    enabled: true,
    attributes: PER_MAP,
  },
  memory: {
    name: 'ebpf.map.memory',
    unit: 'By',
    description: 'Kernel-accounted memory of the map (fdinfo memlock, as bpftool shows it).',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: PER_MAP,
  },
  countAge: {
    name: 'ebpf.map.count_age',
    unit: 's',
    description: 'Maps counted by an element walk (kernels < 6.6): age of the count; 0 when walked in this collection, more when the walk budget deferred it (a stale count).',
    instrument: 'gauge',
    valueType: 'double',
    enabled: true,
    attributes: PER_MAP,
  },
  ringbufPending: {
    name: 'ebpf.map.ringbuf.pending',
    unit: 'By',
    description: 'Ring buffers: bytes written by producers and not yet consumed.',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: PER_MAP,
  },
  alertLevel: {
    name: 'ebpf.map.alert_level',
    // `{level}`, not `1`: a level is not a ratio, and `1` would make the Prometheus name
    // ebpf_map_alert_level_ratio (the collector suffixes unit-1 gauges with _ratio).
    unit: '{level}',
    description: 'Pressure level of the map: 0 normal, 1 warning, 2 critical (with hysteresis), -1 when both its levels are off (LRU hashes by default); only maps with a utilization.',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: PER_MAP,
  },
  timeToFull: {
    name: 'ebpf.map.time_to_full',
    unit: 's',
    description: 'Forecast seconds until the map is full at its recent growth rate; only while it is clearly growing.',
    instrument: 'gauge',
    valueType: 'double',
    enabled: true,
    attributes: PER_MAP,
  },
  owner: {
    name: 'ebpf.map.owner',
    // `{owner}`, not `1`: an info series is no ratio (see alertLevel).
    unit: '{owner}',
    description:
      'Who owns the map, value 1: one series per owning process (process.*, container.id, k8s.*; ebpf.owner.via says how it holds the map), per program using it (ebpf.program.*) and per pin (ebpf.pin.path), at most owners.max_per_map of each.',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: [...MAP_REF, ...OWNER_ATTRIBUTES],
  },
  ownersOmitted: {
    name: 'ebpf.map.owners.omitted',
    unit: '{owner}',
    description: 'Owners of the map (processes, programs and pins) beyond owners.max_per_map of each kind, not exported as ebpf.map.owner series; only maps with some.',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: MAP_REF,
  },
  count: {
    name: 'ebpf.map.count',
    unit: '{map}',
    description: 'Maps on the host, by type.',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: [ATTR.type],
  },
  // ---- the agent's own telemetry (src/metrics/self.ts) ----
  collectionDuration: {
    name: 'ebpf_map_pressure.collection.duration',
    unit: 's',
    description: 'Time one collection took (iterator read, record parsing, memory); failed ones carry error.type.',
    instrument: 'histogram',
    valueType: 'double',
    enabled: true,
    attributes: [ATTR.errorType],
  },
  collections: {
    name: 'ebpf_map_pressure.collections',
    unit: '{collection}',
    description: 'Collections attempted, successful or not.',
    instrument: 'counter',
    valueType: 'int',
    enabled: true,
    attributes: [],
  },
  collectionErrors: {
    name: 'ebpf_map_pressure.collection.errors',
    unit: '{collection}',
    description: 'Failed collections, by error code (see docs/errors.md).',
    instrument: 'counter',
    valueType: 'int',
    enabled: true,
    attributes: [ATTR.errorType],
  },
  mapsSeen: {
    name: 'ebpf_map_pressure.maps.seen',
    unit: '{map}',
    description: 'Maps on the host in the latest collection, filtered out or not.',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: [],
  },
  mapsSkipped: {
    name: 'ebpf_map_pressure.maps.skipped',
    unit: '{map}',
    description:
      'Maps of the latest collection with series missing: filtered (no series), not_counted (a countable type without a count on this kernel), memory_unreadable (no ebpf.map.memory).',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: [ATTR.reason],
  },
  iteratorRead: {
    name: 'ebpf_map_pressure.iterator.read',
    unit: 'By',
    description: 'Bytes read from the bpf_map iterator.',
    instrument: 'counter',
    valueType: 'int',
    enabled: true,
    attributes: [],
  },
  exportFailures: {
    name: 'ebpf_map_pressure.export.failures',
    unit: '{export}',
    description: 'Exports that failed, by exporter (otlp, console; prometheus: scrapes with a producer error).',
    instrument: 'counter',
    valueType: 'int',
    enabled: true,
    attributes: [ATTR.exporter],
  },
  exportDataPoints: {
    name: 'ebpf_map_pressure.export.data_points',
    unit: '{data_point}',
    description: 'Data points delivered, by exporter (prometheus: served to scrapes).',
    instrument: 'counter',
    valueType: 'int',
    enabled: true,
    attributes: [ATTR.exporter],
  },
  exportQueueRequests: {
    name: 'ebpf_map_pressure.export.queue.requests',
    unit: '{request}',
    description: 'OTLP requests waiting for delivery (in memory or on disk), in flight included.',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: [],
  },
  exportQueueSize: {
    name: 'ebpf_map_pressure.export.queue.size',
    unit: 'By',
    description: 'Bytes of the OTLP requests waiting for delivery (export.queue.max_bytes, dir_max_bytes bound it).',
    instrument: 'gauge',
    valueType: 'int',
    enabled: true,
    attributes: [],
  },
  exportQueueOldestAge: {
    name: 'ebpf_map_pressure.export.queue.oldest_age',
    unit: 's',
    description: 'Age of the oldest collection waiting for delivery; 0 when the queue is empty.',
    instrument: 'gauge',
    valueType: 'double',
    enabled: true,
    attributes: [],
  },
  exportRetries: {
    name: 'ebpf_map_pressure.export.retries',
    unit: '{request}',
    description: 'OTLP sends that failed with a retryable error and wait to be sent again.',
    instrument: 'counter',
    valueType: 'int',
    enabled: true,
    attributes: [],
  },
  exportDropped: {
    name: 'ebpf_map_pressure.export.dropped',
    unit: '{request}',
    description: 'OTLP requests never delivered, by reason: queue_full (the oldest made room), max_age, rejected (the endpoint refused them for good), shutdown (in memory at stop).',
    instrument: 'counter',
    valueType: 'int',
    enabled: true,
    attributes: [ATTR.reason],
  },
  exportLate: {
    name: 'ebpf_map_pressure.export.late',
    unit: '{request}',
    description: 'OTLP requests delivered after waiting behind a failure (retried, or queued during an outage).',
    instrument: 'counter',
    valueType: 'int',
    enabled: true,
    attributes: [],
  },
  exportRejectedPoints: {
    name: 'ebpf_map_pressure.export.rejected_points',
    unit: '{data_point}',
    description: 'Data points the endpoint accepted the request of but rejected (OTLP partial_success).',
    instrument: 'counter',
    valueType: 'int',
    enabled: true,
    attributes: [],
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof METRICS;

const UNIT_SUFFIX: Record<string, string> = { By: 'bytes', s: 'seconds', ms: 'milliseconds' };

/**
 * The unit as the Prometheus name spells it (`bytes`, `seconds`, `ratio`), for the
 * exposition's `# UNIT` line; '' where the name has none (`{entry}` and other annotations).
 */
export function prometheusUnit(spec: MetricSpec): string {
  return (spec.unit === '1' ? (spec.instrument === 'gauge' ? 'ratio' : undefined) : UNIT_SUFFIX[spec.unit]) ?? '';
}

/**
 * The name the OpenTelemetry Collector's Prometheus exporter gives a metric: the name's
 * words joined by `_`, the unit's word unless the name already has it (`{annotation}` units
 * add nothing), `_ratio` for unit-`1` gauges only, `_total` last on counters. Histograms keep
 * this base name; the exposition adds `_bucket`, `_sum` and `_count`. The agent's own
 * Prometheus endpoint uses the same names, so one dashboard serves both paths.
 */
export function prometheusName(spec: MetricSpec): string {
  const words = spec.name.split(/[^a-zA-Z0-9:]+/).filter((w) => w !== '');
  const suffix = prometheusUnit(spec);
  if (suffix && !words.includes(suffix)) words.push(suffix);
  if (spec.instrument === 'counter') {
    const i = words.indexOf('total');
    if (i >= 0) words.splice(i, 1);
    words.push('total');
  }
  return words.join('_');
}

export const ALL_METRICS: readonly MetricSpec[] = Object.values(METRICS);
