// SPDX-License-Identifier: Apache-2.0
/**
 * The console exporter (a debugging aid): the SDK's ConsoleMetricExporter, handed the
 * per-map series as the SDK's own point objects. Only this path builds objects per point:
 * it prints every one of them anyway.
 */
import { ValueType } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, type GaugeMetricData } from '@opentelemetry/sdk-metrics';
import type { Collection } from '../collector';
import { PER_MAP_SERIES, readoutFor } from '../metrics/series';
import type { PressureReadout } from '../pressure/tracker';
import { MAP_IDENTITY } from './attributes';

export function perMapMetricData(c: Collection, pressure: PressureReadout | null, startMs: number): GaugeMetricData[] {
  const readout = readoutFor(c, pressure)?.maps;
  const startTime = millisToHrTime(Math.min(startMs, c.time));
  const endTime = millisToHrTime(c.time);
  const attrs = c.maps.map((m) => Object.fromEntries(MAP_IDENTITY.map((a) => [a.key, a.value(m)])));
  const out: GaugeMetricData[] = [];
  for (const s of PER_MAP_SERIES) {
    const dataPoints: GaugeMetricData['dataPoints'] = [];
    c.maps.forEach((m, i) => {
      const value = s.value(m, readout?.get(m.id));
      if (value !== null) dataPoints.push({ attributes: attrs[i]!, startTime, endTime, value });
    });
    if (dataPoints.length === 0) continue;
    out.push({
      descriptor: { name: s.spec.name, description: s.spec.description, unit: s.spec.unit, valueType: s.spec.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints,
    });
  }
  return out;
}
