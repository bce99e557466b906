// SPDX-License-Identifier: Apache-2.0
/**
 * Exporters from the configuration: OTLP (gRPC or HTTP/protobuf), Prometheus, console.
 * The OTLP exporter is wrapped so that (1) a large export is split into requests of bounded
 * size and (2) delivery trouble is logged once when it starts and once when it ends, never
 * per interval.
 */
import { readFileSync } from 'node:fs';
import { credentials, Metadata } from '@grpc/grpc-js';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as OTLPGrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as OTLPProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import {
  type CollectionResult,
  type MetricProducer,
  type PushMetricExporter,
  type ResourceMetrics,
  type InstrumentType,
  type AggregationTemporality,
} from '@opentelemetry/sdk-metrics';
import type { AgentConfig } from './config';
import { redactUrl } from './config';
import type { Logger } from './log';
import { ALL_METRICS, prometheusName, prometheusUnit } from './metrics/table';

const TEMPORALITY = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
} as const;

const sameScope = (a: ResourceMetrics['scopeMetrics'][number]['scope'], b: typeof a) =>
  a === b || (a.name === b.name && a.version === b.version && a.schemaUrl === b.schemaUrl);

/**
 * Splits ResourceMetrics into parts of at most maxPoints data points, descriptors kept. Scope
 * blocks of one scope (the Meter's and the per-map producer's are both the agent's) become
 * one block in each part.
 */
export function splitResourceMetrics(rm: ResourceMetrics, maxPoints: number): ResourceMetrics[] {
  const parts: ResourceMetrics[] = [];
  let current: ResourceMetrics = { resource: rm.resource, scopeMetrics: [] };
  let points = 0;
  const flush = () => {
    if (current.scopeMetrics.length) parts.push(current);
    current = { resource: rm.resource, scopeMetrics: [] };
    points = 0;
  };
  for (const sm of rm.scopeMetrics) {
    for (const metric of sm.metrics) {
      let offset = 0;
      const all = metric.dataPoints as unknown[];
      do {
        if (points >= maxPoints) flush();
        const take = Math.min(maxPoints - points, all.length - offset);
        let scope = current.scopeMetrics.find((s) => sameScope(s.scope, sm.scope));
        if (!scope) {
          scope = { scope: sm.scope, metrics: [] };
          current.scopeMetrics.push(scope);
        }
        scope.metrics.push({ ...metric, dataPoints: all.slice(offset, offset + take) } as typeof metric);
        offset += take;
        points += take;
      } while (offset < all.length);
    }
  }
  flush();
  return parts.length ? parts : [rm];
}

export interface ExportOutcome {
  ok: boolean;
  points: number;
  error?: Error;
}

/** Splits, and reports health transitions once. */
export class ObservedExporter implements PushMetricExporter {
  readonly #inner: PushMetricExporter;
  readonly #maxPoints: number;
  readonly #describe: string;
  readonly #log: Logger;
  readonly #onExport: ((o: ExportOutcome) => void) | undefined;
  #failing = false;

  constructor(inner: PushMetricExporter, options: { maxPoints: number; describe: string; log: Logger; onExport?: (o: ExportOutcome) => void }) {
    this.#inner = inner;
    this.#maxPoints = options.maxPoints;
    this.#describe = options.describe;
    this.#log = options.log;
    this.#onExport = options.onExport;
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    void this.#exportAll(metrics).then(resultCallback);
  }

  async #exportAll(metrics: ResourceMetrics): Promise<ExportResult> {
    let points = 0;
    for (const part of splitResourceMetrics(metrics, this.#maxPoints)) {
      const n = part.scopeMetrics.reduce((a, s) => a + s.metrics.reduce((b, m) => b + m.dataPoints.length, 0), 0);
      const result = await new Promise<ExportResult>((resolve) => this.#inner.export(part, resolve));
      if (result.code !== ExportResultCode.SUCCESS) {
        this.#failed(result.error);
        this.#onExport?.({ ok: false, points, ...(result.error && { error: result.error }) });
        return result;
      }
      points += n;
    }
    if (this.#failing) {
      this.#failing = false;
      this.#log.info('exporter recovered', { exporter: this.#describe });
    }
    this.#onExport?.({ ok: true, points });
    return { code: ExportResultCode.SUCCESS };
  }

  #failed(error: Error | undefined): void {
    if (this.#failing) {
      // Each further failure only at debug level: one warning per outage, not per interval.
      this.#log.debug('export failed again', { code: 'EMP_EXPORT_FAILED', exporter: this.#describe, error: error?.message?.split('\n')[0] ?? 'unknown' });
      return;
    }
    this.#failing = true;
    this.#log.warn('exporter cannot deliver metrics; collecting goes on, and one line will say when it recovers', {
      code: 'EMP_EXPORT_FAILED',
      exporter: this.#describe,
      error: error?.message?.split('\n')[0] ?? 'unknown',
      hint: 'is the collector running and reachable at that endpoint?',
    });
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.#inner.selectAggregationTemporality!(instrumentType);
  }
}

/** The OTLP exporter for the configuration, unwrapped. */
export function createOtlpExporter(config: AgentConfig): PushMetricExporter {
  const o = config.otlp;
  const common = {
    url: o.endpoint,
    timeoutMillis: o.timeoutMs,
    compression: o.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    temporalityPreference: TEMPORALITY[o.temporality],
  };
  const read = (f: string) => (f ? readFileSync(f) : undefined);
  if (o.protocol === 'grpc') {
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(o.headers)) metadata.set(k, v);
    const plaintext = o.endpoint.startsWith('http://') || o.insecure;
    const creds = plaintext
      ? credentials.createInsecure()
      : credentials.createSsl(read(o.certificate) ?? null, read(o.clientKey) ?? null, read(o.clientCertificate) ?? null);
    return new OTLPGrpcExporter({ ...common, metadata, credentials: creds });
  }
  const ca = read(o.certificate);
  const key = read(o.clientKey);
  const cert = read(o.clientCertificate);
  return new OTLPProtoExporter({
    ...common,
    headers: o.headers,
    ...((ca || key || cert) && { httpAgentOptions: { ...(ca && { ca }), ...(key && { key }), ...(cert && { cert }) } }),
  });
}

export function describeOtlp(config: AgentConfig): string {
  return `otlp ${config.otlp.protocol} ${redactUrl(config.otlp.endpoint)}`;
}

const PROMETHEUS_NAMES = new Map(ALL_METRICS.map((m) => [m.name, { name: prometheusName(m), unit: prometheusUnit(m) }]));

/**
 * The SDK's Prometheus exporter, with metric names as the OpenTelemetry Collector's
 * Prometheus exporter writes them (unit suffixes: _bytes, _ratio, _seconds), so one
 * dashboard serves the agent's endpoint and the collector path alike.
 */
export class AgentPrometheusExporter extends PrometheusExporter {
  /** Told after each scrape's collection: data points served, ok unless a producer failed. */
  onCollect: ((outcome: ExportOutcome) => void) | undefined;

  override async collect(options?: { timeoutMillis?: number }): Promise<CollectionResult> {
    const result = await super.collect(options);
    let points = 0;
    for (const sm of result.resourceMetrics.scopeMetrics) {
      for (const m of sm.metrics) {
        points += m.dataPoints.length;
        // The serializer appends _total to counters and _bucket/_sum/_count to histograms. The
        // unit becomes the name's unit word (its `# UNIT` line must be the name's suffix), or
        // none for annotations such as {entry}.
        const prom = PROMETHEUS_NAMES.get(m.descriptor.name);
        if (prom) (m as { descriptor: typeof m.descriptor }).descriptor = { ...m.descriptor, name: prom.name.replace(/_total$/, ''), unit: prom.unit };
      }
    }
    this.onCollect?.({ ok: result.errors.length === 0, points });
    return result;
  }
}

export function createPrometheusExporter(
  config: AgentConfig,
  producers: MetricProducer[],
  onListening: (error?: Error) => void,
): AgentPrometheusExporter {
  return new AgentPrometheusExporter(
    { host: config.prometheus.host, port: config.prometheus.port, metricProducers: producers },
    (err) => onListening(err as Error | undefined),
  );
}
