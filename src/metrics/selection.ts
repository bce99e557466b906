// SPDX-License-Identifier: Apache-2.0
/**
 * Which metrics of the table are exported: metrics.<name>.enabled, the table's `enabled` where
 * the configuration says nothing. Every exporter (OTLP, Prometheus, console) asks this one
 * object: the per-map series it walks, whether it writes the owner series, which of the Meter's
 * metrics it keeps. A disabled per-map or owner metric is never computed; the Meter's metrics
 * (bounded: host and self-telemetry) are dropped from each reader's output. A configuration
 * reload changes it in place (set()), and the next export follows.
 */
import type { MetricData } from '@opentelemetry/sdk-metrics';
import { PER_MAP_SERIES, type PerMapSeries } from './series';
import { ALL_METRICS, type MetricSpec } from './table';

/** Enabled or not, by metric name (every metric of the table). */
export type MetricSwitches = Readonly<Record<string, boolean>>;

/** The table's defaults: every metric with its `enabled`. */
export function defaultSwitches(): Record<string, boolean> {
  return Object.fromEntries(ALL_METRICS.map((m) => [m.name, m.enabled]));
}

export class MetricSelection {
  #disabled: ReadonlySet<string> = new Set();
  #perMap: readonly PerMapSeries[] = PER_MAP_SERIES;

  /** `switches`: metrics.<name>.enabled by name; a name left out takes the table's default. */
  constructor(switches: MetricSwitches = {}) {
    this.set(switches);
  }

  /** Switches metrics on and off from the next export on (a configuration reload). */
  set(switches: MetricSwitches): void {
    const on = { ...defaultSwitches(), ...switches };
    this.#disabled = new Set(ALL_METRICS.filter((m) => !on[m.name]).map((m) => m.name));
    this.#perMap = PER_MAP_SERIES.filter((s) => !this.#disabled.has(s.spec.name));
  }

  enabled(spec: MetricSpec): boolean {
    return !this.#disabled.has(spec.name);
  }

  /** The enabled per-map series, in PER_MAP_SERIES order. */
  get perMap(): readonly PerMapSeries[] {
    return this.#perMap;
  }

  /** The Meter's metrics without the disabled ones (a name not in the table is kept). */
  sdk(metrics: MetricData[]): MetricData[] {
    return this.#disabled.size === 0 ? metrics : metrics.filter((m) => !this.#disabled.has(m.descriptor.name));
  }
}
