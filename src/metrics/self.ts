// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's own telemetry: how long collections take, how many failed and why, how many
 * maps were seen and skipped, bytes read from the iterator, and what each exporter delivered.
 *
 * SelfTelemetry is a plain recorder the agent feeds from its collection loop and exporters;
 * it exists before any Meter does (the first collection runs before telemetry starts).
 * registerSelfInstruments() turns it into instruments on the agent's Meter, so the figures
 * flow through every reader and exporter (OTLP, Prometheus, console) like the host metrics.
 * Every attribute here has a small, fixed set of values (error codes, exporter kinds,
 * skip reasons): these series stay bounded, so they can go through the Meter.
 */
import { type Attributes, type BatchObservableResult, type Histogram, type Meter, ValueType } from '@opentelemetry/api';
import type { Collection } from '../collector';
import { mapTypeByName } from '../map-types';
import { ATTR, METRICS, type MetricSpec } from './table';

/** Bucket bounds of the duration histogram, seconds: 100 µs (a few maps) to 10 s. */
export const DURATION_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Values of the `reason` attribute of maps.skipped. */
export const SKIP_REASONS = ['filtered', 'not_counted', 'memory_unreadable'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** What an exporter reports after each export (ObservedExporter's ExportOutcome fits). */
export interface ExportReport {
  ok: boolean;
  /** Data points delivered by this export (before a failure, those that went through). */
  points: number;
}

/** The recorder's totals, for tests and the benchmark. */
export interface SelfSnapshot {
  collections: number;
  /** Failed collections by error code. */
  errors: Record<string, number>;
  iteratorBytes: number;
  /** Maps seen by the latest successful collection; null before the first. */
  mapsSeen: number | null;
  mapsSkipped: Record<SkipReason, number> | null;
  exports: Record<string, { points: number; failures: number }>;
}

/** What the OTLP delivery loop reports (src/export/delivery.ts fits). */
export interface DeliveryReport {
  readonly counters: {
    readonly retries: number;
    readonly late: number;
    readonly rejectedPoints: number;
    readonly dropped: Readonly<Record<string, number>>;
  };
  stats(): { requests: number; bytes: number; oldestAt: number | null };
}

/** Durations recorded before a Meter is bound are kept (at most this many) and replayed. */
const MAX_PENDING = 64;

export class SelfTelemetry {
  readonly #readMemory: boolean;
  #collections = 0;
  readonly #errors = new Map<string, number>();
  #iteratorBytes = 0;
  #mapsSeen: number | null = null;
  #skipped: Record<SkipReason, number> | null = null;
  readonly #exports = new Map<string, { points: number; failures: number }>();
  #histogram: Histogram | null = null;
  #delivery: DeliveryReport | null = null;
  readonly #pending: Array<[seconds: number, attributes: Attributes]> = [];

  /** @param options.readMemory whether the agent reads map memory (else memory_unreadable is not reported) */
  constructor(options: { readMemory: boolean }) {
    this.#readMemory = options.readMemory;
  }

  get readMemory(): boolean {
    return this.#readMemory;
  }

  /** A successful collection. */
  collected(c: Collection): void {
    this.#collections++;
    this.#iteratorBytes += c.bytesRead;
    this.#mapsSeen = c.mapsSeen;
    let notCounted = 0;
    let noMemory = 0;
    for (const m of c.maps) {
      // A countable type left without a figure: the kernel could not count it here.
      if (m.entries === null && m.pendingBytes === null && (mapTypeByName(m.type)?.fill ?? 'none') !== 'none') notCounted++;
      if (m.memoryBytes === null) noMemory++;
    }
    this.#skipped = { filtered: c.mapsSeen - c.maps.length, not_counted: notCounted, memory_unreadable: this.#readMemory ? noMemory : 0 };
    this.#duration(c.durationMs, {});
  }

  /** A failed collection, with its error code and how long the attempt took. */
  failed(code: string, durationMs: number): void {
    this.#collections++;
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
    this.#duration(durationMs, { [ATTR.errorType]: code });
  }

  /** One export (or scrape) by the named exporter. */
  exported(exporter: string, report: ExportReport): void {
    let e = this.#exports.get(exporter);
    if (!e) this.#exports.set(exporter, (e = { points: 0, failures: 0 }));
    e.points += report.points;
    if (!report.ok) e.failures++;
  }

  /** The OTLP delivery whose queue and counters are reported from now on. */
  bindDelivery(d: DeliveryReport | null): void {
    this.#delivery = d;
  }

  snapshot(): SelfSnapshot {
    return {
      collections: this.#collections,
      errors: Object.fromEntries(this.#errors),
      iteratorBytes: this.#iteratorBytes,
      mapsSeen: this.#mapsSeen,
      mapsSkipped: this.#skipped && { ...this.#skipped },
      exports: Object.fromEntries([...this.#exports].map(([k, v]) => [k, { ...v }])),
    };
  }

  /** Observes the counters and gauges (called from the Meter's batch callback). */
  observe(observer: BatchObservableResult, instruments: ObservableInstruments): void {
    observer.observe(instruments.collections, this.#collections);
    for (const [code, n] of this.#errors) observer.observe(instruments.collectionErrors, n, { [ATTR.errorType]: code });
    observer.observe(instruments.iteratorRead, this.#iteratorBytes);
    if (this.#mapsSeen !== null) observer.observe(instruments.mapsSeen, this.#mapsSeen);
    if (this.#skipped) {
      for (const reason of SKIP_REASONS) {
        if (reason === 'memory_unreadable' && !this.#readMemory) continue;
        observer.observe(instruments.mapsSkipped, this.#skipped[reason], { [ATTR.reason]: reason });
      }
    }
    for (const [exporter, e] of this.#exports) {
      observer.observe(instruments.exportDataPoints, e.points, { [ATTR.exporter]: exporter });
      observer.observe(instruments.exportFailures, e.failures, { [ATTR.exporter]: exporter });
    }
    const d = this.#delivery;
    if (d) {
      const q = d.stats();
      observer.observe(instruments.queueRequests, q.requests);
      observer.observe(instruments.queueSize, q.bytes);
      observer.observe(instruments.queueOldestAge, q.oldestAt === null ? 0 : Math.max(0, Date.now() - q.oldestAt) / 1000);
      observer.observe(instruments.retries, d.counters.retries);
      observer.observe(instruments.late, d.counters.late);
      observer.observe(instruments.rejectedPoints, d.counters.rejectedPoints);
      for (const [reason, n] of Object.entries(d.counters.dropped)) observer.observe(instruments.dropped, n, { [ATTR.reason]: reason });
    }
  }

  /** Records into the histogram from now on, after replaying what came before. */
  bind(histogram: Histogram | null): void {
    this.#histogram = histogram;
    if (!histogram) return;
    for (const [s, attributes] of this.#pending.splice(0)) histogram.record(s, attributes);
  }

  #duration(ms: number, attributes: Attributes): void {
    const s = ms / 1000;
    if (this.#histogram) this.#histogram.record(s, attributes);
    else if (this.#pending.length < MAX_PENDING) this.#pending.push([s, attributes]);
  }
}

type ObservableInstruments = ReturnType<typeof createObservables>;

function options(spec: MetricSpec) {
  return { description: spec.description, unit: spec.unit, valueType: spec.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE };
}

function createObservables(meter: Meter) {
  return {
    collections: meter.createObservableCounter(METRICS.collections.name, options(METRICS.collections)),
    collectionErrors: meter.createObservableCounter(METRICS.collectionErrors.name, options(METRICS.collectionErrors)),
    iteratorRead: meter.createObservableCounter(METRICS.iteratorRead.name, options(METRICS.iteratorRead)),
    mapsSeen: meter.createObservableGauge(METRICS.mapsSeen.name, options(METRICS.mapsSeen)),
    mapsSkipped: meter.createObservableGauge(METRICS.mapsSkipped.name, options(METRICS.mapsSkipped)),
    exportDataPoints: meter.createObservableCounter(METRICS.exportDataPoints.name, options(METRICS.exportDataPoints)),
    exportFailures: meter.createObservableCounter(METRICS.exportFailures.name, options(METRICS.exportFailures)),
    queueRequests: meter.createObservableGauge(METRICS.exportQueueRequests.name, options(METRICS.exportQueueRequests)),
    queueSize: meter.createObservableGauge(METRICS.exportQueueSize.name, options(METRICS.exportQueueSize)),
    queueOldestAge: meter.createObservableGauge(METRICS.exportQueueOldestAge.name, options(METRICS.exportQueueOldestAge)),
    retries: meter.createObservableCounter(METRICS.exportRetries.name, options(METRICS.exportRetries)),
    dropped: meter.createObservableCounter(METRICS.exportDropped.name, options(METRICS.exportDropped)),
    late: meter.createObservableCounter(METRICS.exportLate.name, options(METRICS.exportLate)),
    rejectedPoints: meter.createObservableCounter(METRICS.exportRejectedPoints.name, options(METRICS.exportRejectedPoints)),
  };
}

/** Registers the self-telemetry instruments on the Meter; returns the matching unregister. */
export function registerSelfInstruments(meter: Meter, self: SelfTelemetry): () => void {
  const histogram = meter.createHistogram(METRICS.collectionDuration.name, {
    ...options(METRICS.collectionDuration),
    advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
  });
  self.bind(histogram);
  const instruments = createObservables(meter);
  const all = Object.values(instruments);
  const callback = (observer: BatchObservableResult) => self.observe(observer, instruments);
  meter.addBatchObservableCallback(callback, all);
  return () => {
    meter.removeBatchObservableCallback(callback, all);
    self.bind(null);
  };
}
