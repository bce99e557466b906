// SPDX-License-Identifier: Apache-2.0
/**
 * Metrics with a bounded set of attributes go through the Meter as observable instruments:
 * one batch callback per export reads the collection being exported (never the kernel) and
 * feeds them all. Per-map series are written straight from the collection instead (see
 * series.ts for why).
 */
import { type Meter, ValueType } from '@opentelemetry/api';
import type { Collection } from '../collector';
import type { MetricSelection } from './selection';
import { ATTR, METRICS } from './table';

/** Where the host instruments read the collection being exported (null: none this time). */
export interface LatestCollection {
  latest(): Collection | null;
}

/** Registers the host-level instruments; returns the matching unregister. A disabled one is not counted (`metrics`). */
export function registerHostInstruments(meter: Meter, source: LatestCollection, metrics?: MetricSelection): () => void {
  const count = meter.createObservableGauge(METRICS.count.name, {
    description: METRICS.count.description,
    unit: METRICS.count.unit,
    valueType: ValueType.INT,
  });
  const callback = (observer: import('@opentelemetry/api').BatchObservableResult) => {
    const c = source.latest();
    if (!c || metrics?.enabled(METRICS.count) === false) return;
    const byType = new Map<string, number>();
    for (const m of c.maps) byType.set(m.type, (byType.get(m.type) ?? 0) + 1);
    for (const [type, n] of byType) observer.observe(count, n, { [ATTR.type]: type });
  };
  meter.addBatchObservableCallback(callback, [count]);
  return () => meter.removeBatchObservableCallback(callback, [count]);
}
