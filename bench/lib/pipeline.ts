// SPDX-License-Identifier: Apache-2.0
/**
 * The agent's collection cycle, in process, built from the agent's own parts the way
 * src/agent.ts and src/telemetry.ts wire them, with the default configuration: the Collector
 * (iterator read, record parsing, memory), self-telemetry and the pressure layer (the
 * agent's collection listeners), a MeterProvider with the host resource whose reader the
 * cycle drives (host and self-telemetry), and the OTLP encoder (src/export/encode.ts) writing
 * the collection and the Meter's metrics as the agent's requests. One cycle = what the
 * running agent does every interval, minus the network.
 */
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { createCollector } from '../../src/collector-setup';
import type { Collection, Collector } from '../../src/collector';
import { loadConfig } from '../../src/config';
import { type EncodedRequest, OtlpEncoder } from '../../src/export/encode';
import { createLogger } from '../../src/log';
import { registerHostInstruments } from '../../src/metrics/instruments';
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

export const countPoints = (requests: readonly EncodedRequest[]) => requests.reduce((n, r) => n + r.points, 0);
export const countBytes = (requests: readonly EncodedRequest[]) => requests.reduce((n, r) => n + r.bytes.length, 0);

export class AgentPipeline {
  readonly collector: Collector;
  readonly self: SelfTelemetry;
  readonly pressure: PressureMonitor;
  readonly encoder: OtlpEncoder;
  readonly #provider: MeterProvider;
  readonly #reader: BenchReader;
  readonly #start = Date.now();
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
    const resource = buildResource({ machineIdFile: config.paths.machineId });
    this.encoder = new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: config.otlp.maxRequestBytes, maxPointsPerRequest: config.otlp.maxPointsPerRequest });
    this.#reader = new BenchReader();
    this.#provider = new MeterProvider({ resource, readers: [this.#reader] });
    const meter = this.#provider.getMeter(SCOPE.name, SCOPE.version);
    registerHostInstruments(meter, { latest: () => this.#latest });
    registerSelfInstruments(meter, this.self);
  }

  async #meterMetrics(): Promise<MetricData[]> {
    return (await this.#reader.collect()).resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
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
    const metrics = await this.#meterMetrics();
    const t3 = now();
    const requests = this.encoder.encode(c, this.pressure.latest(), metrics, this.#start);
    const t4 = now();
    this.self.exported('otlp', { ok: true, points: countPoints(requests) });
    return {
      total: t4 - t0,
      collect: t1 - t0,
      listeners: t2 - t1,
      metrics: t3 - t2,
      encode: t4 - t3,
      maps: c.mapsSeen,
      points: countPoints(requests),
      bytes: countBytes(requests),
    };
  }

  /** A collection now and what the encoder makes of it with `encoder` (for export-size figures). */
  async requests(encoder: OtlpEncoder): Promise<EncodedRequest[]> {
    this.#latest = await this.collector.collect();
    this.pressure.update(this.#latest);
    return encoder.encode(this.#latest, this.pressure.latest(), await this.#meterMetrics(), this.#start);
  }

  async close(): Promise<void> {
    await this.#provider.shutdown();
    await this.pressure.close(0);
    await this.collector.close();
  }
}
