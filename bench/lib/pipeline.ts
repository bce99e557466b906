// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's collection cycle, in process, built from the agent's own parts the way
 * src/agent.ts and src/telemetry.ts wire them, with the default configuration: the Collector
 * (iterator read, record parsing, memory), self-telemetry and the pressure layer (the
 * agent's collection listeners), a MeterProvider with the host resource whose reader carries
 * the per-map producer and the Meter's instruments (host and self-telemetry), and the OTLP
 * protobuf encoding of what the reader collected. One cycle = what the running agent does
 * every interval, minus the network.
 */
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { createCollector } from '../../src/agent';
import type { Collection, Collector } from '../../src/collector';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { registerHostInstruments } from '../../src/metrics/instruments';
import { MapMetricsProducer } from '../../src/metrics/producer';
import { SCOPE } from '../../src/metrics/scope';
import { registerSelfInstruments, SelfTelemetry } from '../../src/metrics/self';
import { PressureMonitor } from '../../src/pressure/monitor';
import { buildResource } from '../../src/resource';
import { now } from './stats';

/** A reader the benchmark drives itself: collect() when asked, no timer, no exporter. */
class BenchReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** Milliseconds spent in each stage of one cycle, and what it produced. */
export interface CycleTiming {
  total: number;
  collect: number;
  /** Self-telemetry and the pressure layer (levels, forecasts). */
  listeners: number;
  metrics: number;
  encode: number;
  maps: number;
  points: number;
  bytes: number;
}

/**
 * Heap the process keeps after full garbage collections, bytes; null unless node runs with
 * --expose-gc (npm run bench does). The difference between two scales is what the agent's
 * state (latest collection, pressure history, caches) costs per map.
 */
export function retainedHeap(): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export function countPoints(rm: ResourceMetrics): number {
  let n = 0;
  for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.dataPoints.length;
  return n;
}

export function encodeOtlp(rm: ResourceMetrics): Uint8Array {
  const bytes = ProtobufMetricsSerializer.serializeRequest(rm);
  if (!bytes) throw new Error('the OTLP serializer returned nothing');
  return bytes;
}

export class AgentPipeline {
  readonly collector: Collector;
  readonly self: SelfTelemetry;
  readonly pressure: PressureMonitor;
  readonly #provider: MeterProvider;
  readonly #reader: BenchReader;
  #latest: Collection | null = null;

  /** @param args configuration flags over the defaults (e.g. to turn owners off) */
  constructor(args: string[] = []) {
    // The agent's defaults (kfunc, kernel state and memory on; pressure levels and owners on);
    // no logs. Owner passes run beside the cycles, as in the agent (not timed here: see
    // bench/scenarios/owners.ts).
    const { config } = loadConfig({ args, env: {} });
    this.collector = createCollector(config, createLogger('none', () => {}));
    this.self = new SelfTelemetry({ readMemory: config.counting.memory });
    this.pressure = new PressureMonitor(config, createLogger('none', () => {}));
    // The running agent's pressure layer is live (it logs and sends transitions) once started.
    this.pressure.begin();
    const source = { latest: () => this.#latest, latestPressure: () => this.pressure.latest() };
    const producer = new MapMetricsProducer(source, 60_000);
    this.#reader = new BenchReader({ metricProducers: [producer] });
    this.#provider = new MeterProvider({ resource: buildResource({ machineIdFile: config.paths.machineId }), readers: [this.#reader] });
    const meter = this.#provider.getMeter(SCOPE.name, SCOPE.version);
    registerHostInstruments(meter, source);
    registerSelfInstruments(meter, this.self);
  }

  /** One full cycle, timed stage by stage. */
  async cycle(): Promise<CycleTiming> {
    const t0 = now();
    const c = await this.collector.collect();
    const t1 = now();
    this.#latest = c;
    this.self.collected(c);
    this.pressure.update(c);
    const t2 = now();
    const { resourceMetrics } = await this.#reader.collect();
    const t3 = now();
    const bytes = encodeOtlp(resourceMetrics);
    const t4 = now();
    this.self.exported('otlp', { ok: true, points: countPoints(resourceMetrics) });
    return {
      total: t4 - t0,
      collect: t1 - t0,
      listeners: t2 - t1,
      metrics: t3 - t2,
      encode: t4 - t3,
      maps: c.mapsSeen,
      points: countPoints(resourceMetrics),
      bytes: bytes.length,
    };
  }

  /** What the reader would hand an exporter now (for export-size figures). */
  async resourceMetrics(): Promise<ResourceMetrics> {
    this.#latest = await this.collector.collect();
    this.pressure.update(this.#latest);
    return (await this.#reader.collect()).resourceMetrics;
  }

  async close(): Promise<void> {
    await this.#provider.shutdown();
    await this.pressure.close(0);
    await this.collector.close();
  }
}
