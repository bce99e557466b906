// SPDX-License-Identifier: Apache-2.0
/**
 * The console exporter (a debugging aid): the SDK's ConsoleMetricExporter, handed the
 * per-map series as the SDK's own point objects. Only this path builds objects per point:
 * it prints every one of them anyway. The same series as OTLP: the copied owner attributes on
 * every per-map point, then ebpf.map.owner and ebpf.map.owners.omitted.
 */
import { ValueType } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, type GaugeMetricData } from '@opentelemetry/sdk-metrics';
import type { Collection } from '../collector';
import { MetricSelection } from '../metrics/selection';
import { readoutFor } from '../metrics/series';
import { METRICS, type MetricSpec } from '../metrics/table';
import { copiedOwnerAttributes, ownerInfoPoints } from '../owners/series';
import type { PressureReadout } from '../pressure/tracker';
import { MAP_IDENTITY } from './attributes';
import type { OwnerSeriesOptions } from './owner-series';

const NO_OWNERS: OwnerSeriesOptions = { maxPerMap: 10, copyAttributes: [] };

/** The per-map and owner series of `c` as the SDK's metric data; `metrics`: those exported (default: the table's defaults). */
export function perMapMetricData(
  c: Collection,
  pressure: PressureReadout | null,
  startMs: number,
  owners: OwnerSeriesOptions = NO_OWNERS,
  metrics: MetricSelection = new MetricSelection(),
): GaugeMetricData[] {
  const readout = readoutFor(c, pressure)?.maps;
  const startTime = millisToHrTime(Math.min(startMs, c.time));
  const endTime = millisToHrTime(c.time);
  const attrs = c.maps.map((m) => ({ ...Object.fromEntries(MAP_IDENTITY.map((a) => [a.key, a.value(m)])), ...copiedOwnerAttributes(m, owners.copyAttributes) }));
  const out: GaugeMetricData[] = [];
  const push = (spec: MetricSpec, dataPoints: GaugeMetricData['dataPoints']) => {
    if (dataPoints.length === 0) return;
    out.push({
      descriptor: { name: spec.name, description: spec.description, unit: spec.unit, valueType: spec.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints,
    });
  };
  for (const s of metrics.perMap) {
    const dataPoints: GaugeMetricData['dataPoints'] = [];
    c.maps.forEach((m, i) => {
      const value = s.value(m, readout?.get(m.id));
      if (value !== null) dataPoints.push({ attributes: attrs[i]!, startTime, endTime, value });
    });
    push(s.spec, dataPoints);
  }
  if (!metrics.enabled(METRICS.owner) && !metrics.enabled(METRICS.ownersOmitted)) return out;
  const info = ownerInfoPoints(c.maps, owners.maxPerMap);
  if (metrics.enabled(METRICS.owner)) push(METRICS.owner, info.owner.map((p) => ({ attributes: p.attributes, startTime, endTime, value: p.value })));
  if (metrics.enabled(METRICS.ownersOmitted)) push(METRICS.ownersOmitted, info.omitted.map((p) => ({ attributes: p.attributes, startTime, endTime, value: p.value })));
  return out;
}
