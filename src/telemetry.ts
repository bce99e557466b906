// SPDX-License-Identifier: Apache-2.0
/**
 * The OpenTelemetry pipeline wired from the configuration: one MeterProvider with the host
 * resource, a reader per exporter, the per-map producer attached to every reader, and the
 * Meter's instruments. Shutdown flushes every reader.
 */
import { DiagLogLevel, diag } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import {
  ConsoleMetricExporter,
  type IMetricReader,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { AgentConfig } from './config';
import { AgentError } from './errors';
import { createOtlpExporter, createPrometheusExporter, describeOtlp, type ExportOutcome, ObservedExporter } from './exporters';
import type { Logger } from './log';
import { registerHostInstruments } from './metrics/instruments';
import { registerSelfInstruments, type SelfTelemetry } from './metrics/self';
import { type LatestCollection, MapMetricsProducer } from './metrics/producer';
import { SCOPE } from './metrics/scope';

export interface Telemetry {
  readonly meterProvider: MeterProvider | null;
  /** Exporters in use, e.g. ["otlp grpc http://localhost:4317", "prometheus 127.0.0.1:9464"]. */
  readonly describe: string[];
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  config: AgentConfig;
  resource: Resource;
  source: LatestCollection;
  log: Logger;
  onExport?: (exporter: string, outcome: ExportOutcome) => void;
  /** The agent's own telemetry: registered on the Meter, fed by every exporter's outcome. */
  self?: SelfTelemetry;
}

/** The longest the final flush at shutdown may take (the CLI gives a whole stop 10 s). */
export const FINAL_FLUSH_MS = 5000;

export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const { config, log } = options;
  const exporters = config.sdkDisabled ? [] : config.exporters.filter((e) => e !== 'none');
  if (config.logLevel === 'debug') {
    diag.setLogger(
      { verbose: () => {}, debug: (m) => log.debug(`otel: ${m}`), info: (m) => log.debug(`otel: ${m}`), warn: (m) => log.debug(`otel: ${m}`), error: (m) => log.debug(`otel: ${m}`) },
      { logLevel: DiagLogLevel.DEBUG, suppressOverrideMessage: true },
    );
  }
  if (exporters.length === 0) {
    return { meterProvider: null, describe: [], forceFlush: async () => {}, shutdown: async () => {} };
  }

  // A collection older than this is not exported: better no series than a stale one.
  const producer = new MapMetricsProducer(options.source, Math.max(config.intervalMs * 2.5, config.intervalMs + 5000));
  const exportTimeout = Math.min(config.exportTimeoutMs, config.intervalMs);
  const readers: IMetricReader[] = [];
  const describe: string[] = [];
  const onExport = (exporter: string, o: ExportOutcome) => {
    options.self?.exported(exporter, o);
    options.onExport?.(exporter, o);
  };

  for (const kind of new Set(exporters)) {
    if (kind === 'otlp') {
      const name = describeOtlp(config);
      const exporter = new ObservedExporter(createOtlpExporter(config), {
        maxPoints: config.otlp.maxPointsPerRequest,
        describe: name,
        log,
        onExport: (o) => onExport('otlp', o),
      });
      readers.push(new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: config.intervalMs, exportTimeoutMillis: exportTimeout, metricProducers: [producer] }));
      describe.push(name);
    } else if (kind === 'console') {
      // Wrapped (never split) only so that its exports are counted like the others'.
      const exporter = new ObservedExporter(new ConsoleMetricExporter(), { maxPoints: Number.MAX_SAFE_INTEGER, describe: 'console', log, onExport: (o) => onExport('console', o) });
      readers.push(new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: config.intervalMs, exportTimeoutMillis: exportTimeout, metricProducers: [producer] }));
      describe.push('console');
    } else if (kind === 'prometheus') {
      let listening!: (e?: Error) => void;
      const ready = new Promise<Error | undefined>((resolve) => (listening = resolve));
      const prom = createPrometheusExporter(config, [producer], listening);
      const err = await ready;
      if (err) {
        await prom.shutdown().catch(() => {});
        for (const r of readers) await r.shutdown().catch(() => {});
        throw new AgentError('EMP_PORT_IN_USE', `prometheus endpoint cannot listen on ${config.prometheus.host}:${config.prometheus.port}: ${err.message}`);
      }
      prom.onCollect = (o) => onExport('prometheus', o);
      readers.push(prom);
      describe.push(`prometheus http://${config.prometheus.host}:${config.prometheus.port}/metrics`);
    }
  }

  const meterProvider = new MeterProvider({ resource: options.resource, readers });
  const meter = meterProvider.getMeter(SCOPE.name, SCOPE.version);
  const unregisterHost = registerHostInstruments(meter, options.source);
  const unregisterSelf = options.self ? registerSelfInstruments(meter, options.self) : () => {};
  return {
    meterProvider,
    describe,
    forceFlush: () => meterProvider.forceFlush(),
    async shutdown() {
      try {
        // The final flush is bounded: a collector that accepts and never answers must not
        // hold the agent past its stop deadline. The Meter's callbacks stay registered
        // until the flush is done, so the final export carries their metrics too.
        await meterProvider.shutdown({ timeoutMillis: Math.min(config.exportTimeoutMs, FINAL_FLUSH_MS) });
      } finally {
        unregisterHost();
        unregisterSelf();
      }
    },
  };
}
