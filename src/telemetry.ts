// SPDX-License-Identifier: Apache-2.0
/**
 * The export side wired from the configuration. Each collection the agent makes drives one
 * export of that collection (export()): no timer of its own, so no collection is skipped or
 * sent twice. The Meter (host and self-telemetry) is collected by a reader this drives, once
 * per collection and exporter; the per-map series are written from the collection itself.
 *
 *   OTLP        encode (src/export/encode.ts) -> queue (queue.ts, disk-queue.ts) -> delivery.ts -> transport.ts
 *   Prometheus  rendered once per collection (prometheus.ts), served to every scrape
 *   console     the SDK's ConsoleMetricExporter
 */
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { CumulativeTemporalitySelector, DeltaTemporalitySelector, LowMemoryTemporalitySelector } from '@opentelemetry/exporter-metrics-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import { type AggregationTemporalitySelector, ConsoleMetricExporter, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Collection } from './collector';
import type { AgentConfig } from './config';
import { listenError } from './listen';
import { perMapMetricData } from './export/console';
import { Delivery } from './export/delivery';
import { openDiskQueue } from './export/disk-queue';
import { OtlpEncoder } from './export/encode';
import { PrometheusExposition, type PrometheusServer, startPrometheusServer } from './export/prometheus';
import { DeliveryQueue } from './export/queue';
import { createTransport, describeOtlp } from './export/transport';
import type { Logger } from './log';
import { registerHostInstruments } from './metrics/instruments';
import { SCOPE } from './metrics/scope';
import { MetricSelection } from './metrics/selection';
import { registerSelfInstruments, type SelfTelemetry } from './metrics/self';
import type { PressureReadout } from './pressure/tracker';

export interface Telemetry {
  /** Exporters in use, e.g. ["otlp grpc http://localhost:4317", "prometheus 127.0.0.1:9464"]. */
  readonly describe: string[];
  /** The OTLP delivery loop (queue, counters), when OTLP is on. */
  readonly delivery: Delivery | null;
  /** Exports one collection attempt; null when it failed (the Meter's metrics still go). */
  export(c: Collection | null, pressure: PressureReadout | null): Promise<void>;
  /** Resolves once every queued OTLP request is delivered or dropped (true), or after timeoutMs (false). */
  flush(timeoutMs?: number): Promise<boolean>;
  /** A bounded final delivery, then everything closed. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  config: AgentConfig;
  resource: Resource;
  log: Logger;
  /** The agent's own telemetry: registered on the Meter, fed by every exporter's outcome. */
  self?: SelfTelemetry;
  /** Start time of every per-map point, ms since the epoch (the agent's start). */
  startMs?: number;
  /** The metrics exported, changed in place by a reload; default: config.metrics. */
  metrics?: MetricSelection;
}

/** The longest the final flush at shutdown may take (the CLI gives a whole stop 10 s). */
export const FINAL_FLUSH_MS = 5000;

const TEMPORALITY: Record<AgentConfig['otlp']['temporality'], AggregationTemporalitySelector> = {
  cumulative: CumulativeTemporalitySelector,
  delta: DeltaTemporalitySelector,
  lowmemory: LowMemoryTemporalitySelector,
};

/** The temporality each instrument gets over OTLP (the SDK's selectors for each preference). */
export function otlpTemporality(config: AgentConfig): AggregationTemporalitySelector {
  return TEMPORALITY[config.otlp.temporality];
}

/**
 * A reader with no timer and no exporter: the agent's collection loop drives it. The Meter's
 * metrics of every exporter come through here, so this is where disabled ones are dropped.
 */
class DrivenReader extends MetricReader {
  readonly #selection: MetricSelection;

  constructor(selection: MetricSelection, options?: ConstructorParameters<typeof MetricReader>[0]) {
    super(options);
    this.#selection = selection;
  }

  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}

  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics } = await this.collect();
    return this.#selection.sdk(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics));
  }
}

export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const { config, log, self } = options;
  const exporters = new Set(config.sdkDisabled ? [] : config.exporters.filter((e) => e !== 'none'));
  if (config.logLevel === 'debug') {
    diag.setLogger(
      { verbose: () => {}, debug: (m) => log.debug(`otel: ${m}`), info: (m) => log.debug(`otel: ${m}`), warn: (m) => log.debug(`otel: ${m}`), error: (m) => log.debug(`otel: ${m}`) },
      { logLevel: DiagLogLevel.DEBUG, suppressOverrideMessage: true },
    );
  }
  if (exporters.size === 0) {
    return { describe: [], delivery: null, export: async () => {}, flush: async () => true, shutdown: async () => {} };
  }
  const startMs = options.startMs ?? Date.now();
  // Per-map series of a collection older than this are not served to scrapes after a failed one.
  const staleAfterMs = Math.max(config.intervalMs * 2.5, config.intervalMs + 5000);
  const describe: string[] = [];
  const ownerSeries = { maxPerMap: config.owners.maxPerMap, copyAttributes: config.owners.copyAttributes };
  const selection = options.metrics ?? new MetricSelection(config.metrics);
  const closers: Array<() => Promise<void>> = [];

  let prometheus: { reader: DrivenReader; exposition: PrometheusExposition; server: PrometheusServer } | null = null;
  if (exporters.has('prometheus')) {
    const exposition = new PrometheusExposition({ resource: options.resource, scope: SCOPE, owners: ownerSeries, metrics: selection });
    let server: PrometheusServer;
    try {
      server = await startPrometheusServer(exposition, {
        host: config.prometheus.host,
        port: config.prometheus.port,
        onScrape: (points) => self?.exported('prometheus', { ok: true, points }),
      });
    } catch (e) {
      const where = { what: 'prometheus endpoint', section: 'prometheus', host: config.prometheus.host, port: config.prometheus.port };
      throw listenError(e as NodeJS.ErrnoException, { ...where, hostEnv: 'OTEL_EXPORTER_PROMETHEUS_HOST', otherwise: 'EMP_PORT_IN_USE' });
    }
    prometheus = { reader: new DrivenReader(selection), exposition, server };
    closers.push(() => server.close());
    describe.push(`prometheus http://${config.prometheus.host}:${server.port}/metrics`);
  }

  let otlp: { reader: DrivenReader; encoder: OtlpEncoder; delivery: Delivery } | null = null;
  if (exporters.has('otlp')) {
    let disk: Awaited<ReturnType<typeof openDiskQueue>> | null = null;
    try {
      disk = config.export.queue.dir ? await openDiskQueue({ dir: config.export.queue.dir, maxBytes: config.export.queue.dirMaxBytes, log }) : null;
    } catch (e) {
      await Promise.all(closers.map((c) => c()));
      throw e;
    }
    const encoder = new OtlpEncoder({
      resource: options.resource,
      scope: SCOPE,
      maxRequestBytes: config.otlp.maxRequestBytes,
      maxPointsPerRequest: config.otlp.maxPointsPerRequest,
      owners: ownerSeries,
      metrics: selection,
    });
    const queue = new DeliveryQueue({
      maxMemoryBytes: config.export.queue.maxBytes,
      store: disk?.store ?? null,
      recovered: disk?.recovered ?? [],
      nextSeq: disk?.nextSeq ?? 0,
      recycle: (r) => encoder.pool.recycle(r),
    });
    const transport = createTransport(config, config.export.maxInFlight);
    const delivery = new Delivery({
      transport,
      queue,
      maxInFlight: config.export.maxInFlight,
      initialBackoffMs: config.export.retry.initialBackoffMs,
      maxBackoffMs: config.export.retry.maxBackoffMs,
      maxAgeMs: config.export.queue.maxAgeMs,
      log,
      onSend: (o, e) => self?.exported('otlp', { ok: o.kind === 'delivered', points: o.kind === 'delivered' ? e.points : 0 }),
    });
    otlp = { reader: new DrivenReader(selection, { aggregationTemporalitySelector: otlpTemporality(config) }), encoder, delivery };
    self?.bindDelivery(delivery);
    if (disk?.recovered.length) log.info('export queue recovered from disk', { requests: disk.recovered.length, dir: config.export.queue.dir });
    describe.push(describeOtlp(config));
  }

  let console: { reader: DrivenReader; exporter: ConsoleMetricExporter } | null = null;
  if (exporters.has('console')) {
    console = { reader: new DrivenReader(selection), exporter: new ConsoleMetricExporter() };
    describe.push('console');
  }

  const readers = [otlp?.reader, prometheus?.reader, console?.reader].filter((r): r is DrivenReader => r !== undefined);
  const meterProvider = new MeterProvider({ resource: options.resource, readers });
  const meter = meterProvider.getMeter(SCOPE.name, SCOPE.version);
  // The collection being exported, for the host instruments' callback.
  let current: Collection | null = null;
  let lastGood: Collection | null = null;
  let lastPressure: PressureReadout | null = null;
  const unregisterHost = registerHostInstruments(meter, { latest: () => current }, selection);
  const unregisterSelf = self ? registerSelfInstruments(meter, self) : () => {};

  const telemetry: Telemetry = {
    describe,
    delivery: otlp?.delivery ?? null,
    async export(c, pressure) {
      if (c) {
        lastGood = c;
        lastPressure = pressure;
      }
      current = c;
      try {
        if (otlp) {
          const metrics = await otlp.reader.metrics();
          const requests = otlp.encoder.encode(c, pressure, metrics, startMs);
          otlp.delivery.enqueue(c?.time ?? Date.now(), requests);
        }
        if (prometheus) {
          // A failed collection keeps the last good one's series while it is fresh.
          const shown = c ?? (lastGood && Date.now() - lastGood.time <= staleAfterMs ? lastGood : null);
          current = shown;
          prometheus.exposition.render(shown, c ? pressure : lastPressure, await prometheus.reader.metrics());
        }
        if (console) {
          current = c;
          const metrics = await console.reader.metrics();
          const perMap = c ? perMapMetricData(c, pressure, startMs, ownerSeries, selection) : [];
          const points = [...metrics, ...perMap].reduce((n, m) => n + m.dataPoints.length, 0);
          await new Promise<void>((resolve) =>
            console!.exporter.export({ resource: options.resource, scopeMetrics: [{ scope: SCOPE, metrics: [...metrics, ...perMap] }] }, (r) => {
              self?.exported('console', { ok: r.code === ExportResultCode.SUCCESS, points: r.code === ExportResultCode.SUCCESS ? points : 0 });
              resolve();
            }),
          );
        }
      } finally {
        current = null;
      }
    },
    flush: (timeoutMs = config.exportTimeoutMs) => otlp?.delivery.flush(timeoutMs) ?? Promise.resolve(true),
    async shutdown() {
      try {
        if (otlp) {
          // Bounded: a collector that accepts and never answers must not hold the stop.
          await otlp.delivery.flush(Math.min(config.exportTimeoutMs, FINAL_FLUSH_MS));
          await otlp.delivery.stop();
          otlp.delivery.close();
        }
      } finally {
        unregisterHost();
        unregisterSelf();
        self?.bindDelivery(null);
        await meterProvider.shutdown().catch(() => {});
        await Promise.all(closers.map((c) => c()));
      }
    },
  };
  return telemetry;
}
