// SPDX-License-Identifier: Apache-2.0
/**
 * Per-map series, built fresh from the latest collection on every export.
 *
 * Why a MetricProducer and not observable gauges: the SDK's observable instruments remember
 * every attribute set they ever saw (cumulative temporality exports deleted maps forever;
 * either temporality folds new maps into otel.metric.overflow after 2,000). Map ids change
 * on every reload, so per-map series must not go through that memory. A producer hands the
 * reader ready points for the maps alive now; they flow through the same readers, views of
 * the resource and exporters (OTLP, Prometheus, console) as the Meter's own metrics.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type GaugeMetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';
import type { Collection, MapStats } from '../collector';
import { LEVEL_VALUE } from '../pressure/levels';
import type { PressureReadout } from '../pressure/tracker';
import { ATTR, METRICS, type MetricSpec } from './table';
import { SCOPE } from './scope';

export interface LatestCollection {
  /** The newest successful collection, or null before the first. */
  latest(): Collection | null;
  /** Levels and forecasts of the latest collection, when the pressure layer runs. */
  latestPressure?(): PressureReadout | null;
}

function descriptor(spec: MetricSpec) {
  return {
    name: spec.name,
    description: spec.description,
    unit: spec.unit,
    valueType: spec.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE,
  };
}

type Point = { attributes: Attributes; startTime: HrTime; endTime: HrTime; value: number };

function gauge(spec: MetricSpec, points: Point[]): GaugeMetricData {
  return {
    descriptor: descriptor(spec),
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: points,
  };
}

const NO_TIME: HrTime = [0, 0];

/**
 * The per-map data points of one collection, grouped by metric. Exported for tests and bench.
 * This runs for every map on every export: each point is built once, ready for the SDK, and
 * attribute objects are plain literals (an object spread with these dotted keys costs ~20x).
 */
export function mapPoints(maps: readonly MapStats[], pressure: PressureReadout | null = null, start: HrTime = NO_TIME, end: HrTime = start) {
  const point = (attributes: Attributes, value: number): Point => ({ attributes, startTime: start, endTime: end, value });
  const entries: Point[] = [];
  const maxEntries: Point[] = [];
  const utilization: Point[] = [];
  const memory: Point[] = [];
  const pending: Point[] = [];
  const countAge: Point[] = [];
  const alertLevel: Point[] = [];
  const timeToFull: Point[] = [];
  for (const m of maps) {
    const attributes: Attributes = { [ATTR.id]: m.id, [ATTR.name]: m.name, [ATTR.type]: m.type };
    maxEntries.push(point(attributes, m.maxEntries));
    if (m.memoryBytes !== null) memory.push(point(attributes, m.memoryBytes));
    if (m.entries !== null || m.utilization !== null) {
      const counted: Attributes = { [ATTR.id]: m.id, [ATTR.name]: m.name, [ATTR.type]: m.type, [ATTR.countMethod]: m.countMethod };
      if (m.entries !== null) entries.push(point(counted, m.entries));
      if (m.utilization !== null) utilization.push(point(counted, m.utilization));
    }
    if (m.pendingBytes !== null) pending.push(point(attributes, m.pendingBytes));
    if (m.countAgeMs != null) countAge.push(point(attributes, m.countAgeMs / 1000));
    const p = pressure?.maps.get(m.id);
    if (p?.level) alertLevel.push(point(attributes, LEVEL_VALUE[p.level]));
    if (p?.timeToFullS != null) timeToFull.push(point(attributes, p.timeToFullS));
  }
  return { entries, maxEntries, utilization, memory, pending, countAge, alertLevel, timeToFull };
}

export class MapMetricsProducer implements MetricProducer {
  readonly #source: LatestCollection;
  readonly #staleAfterMs: number;
  readonly #start: HrTime;

  /** @param staleAfterMs collections older than this export no per-map series */
  constructor(source: LatestCollection, staleAfterMs: number) {
    this.#source = source;
    this.#staleAfterMs = staleAfterMs;
    this.#start = millisToHrTime(Date.now());
  }

  async collect(): Promise<CollectionResult> {
    const c = this.#source.latest();
    const fresh = c !== null && Date.now() - c.time <= this.#staleAfterMs;
    const metrics: GaugeMetricData[] = [];
    if (fresh) {
      const end = millisToHrTime(c.time);
      // A readout of another collection would pair levels with the wrong fills: skip it.
      const pressure = this.#source.latestPressure?.() ?? null;
      const p = mapPoints(c.maps, pressure?.time === c.time ? pressure : null, this.#start, end);
      metrics.push(
        gauge(METRICS.entries, p.entries),
        gauge(METRICS.maxEntries, p.maxEntries),
        gauge(METRICS.utilization, p.utilization),
        gauge(METRICS.memory, p.memory),
        gauge(METRICS.ringbufPending, p.pending),
        gauge(METRICS.countAge, p.countAge),
        gauge(METRICS.alertLevel, p.alertLevel),
        gauge(METRICS.timeToFull, p.timeToFull),
      );
    }
    return {
      resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: SCOPE, metrics: metrics.filter((m) => m.dataPoints.length > 0) }] },
      errors: [],
    };
  }
}
