// SPDX-License-Identifier: Apache-2.0
/**
 * One collection as OTLP ExportMetricsServiceRequests, written straight into Buffers and
 * split into requests of at most `maxRequestBytes`. Each request carries the resource and one
 * scope block (the agent's scope) holding the per-map metrics and, in the first request, the
 * Meter's metrics (host and self-telemetry) — what a backend sees is what the SDK's own
 * serializer made of the same data.
 *
 * The per-map hot path builds no object per point: each map's attribute bytes come from the
 * identity cache (encoded once per map, owners.copy_attributes included) with room after them
 * for the start and time fields, written there once per collection; a point is that prefix
 * copied into the request and an 8-byte value. The owner series (ebpf.map.owner,
 * ebpf.map.owners.omitted) follow the per-map ones in the same scope block and are written the
 * same way, their prefixes cached per map and owner list (owner-series.ts).
 */
import { type HrTime, ValueType } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Collection } from '../collector';
import { MetricSelection } from '../metrics/selection';
import { readoutFor } from '../metrics/series';
import { METRICS, type MetricSpec } from '../metrics/table';
import type { PressureReadout } from '../pressure/tracker';
import { keyValues, otlpIdentityCache, otlpPointPrefix, TIMES_BYTES } from './attributes';
import { OwnerSeriesCache, type OwnerSeriesOptions } from './owner-series';
import { fieldSize, MessageBuilder, ProtoWriter, varintSize, writeInt64 } from './proto';

/** One encoded request: the bytes and how many data points they carry. */
export interface EncodedRequest {
  readonly bytes: Buffer;
  readonly points: number;
  /** The pooled buffer under `bytes`, for RequestPool.recycle() once nobody reads them. */
  readonly slab?: Buffer;
}

/**
 * Buffers for requests, reused: an agent at 10,000 maps writes ~5 MB of requests per
 * collection, and fresh ArrayBuffers of that size each time drive the garbage collector
 * (external memory) and keep freed ones around until it runs. Size classes are powers of
 * two; a few buffers of each are kept.
 */
export class RequestPool {
  static readonly MIN = 16 * 1024;
  static readonly KEEP = 8;
  readonly #free = new Map<number, Buffer[]>();

  /** A Buffer of exactly `size` bytes, and the slab to recycle (undefined: too small to pool). */
  take(size: number): { bytes: Buffer; slab?: Buffer } {
    if (size < RequestPool.MIN) return { bytes: Buffer.allocUnsafe(size) };
    const cls = 2 ** Math.ceil(Math.log2(size));
    const slab = this.#free.get(cls)?.pop() ?? Buffer.allocUnsafeSlow(cls);
    return { bytes: slab.subarray(0, size), slab };
  }

  /** The request's bytes will not be read again. */
  recycle(r: EncodedRequest): void {
    const slab = r.slab;
    if (!slab) return;
    let list = this.#free.get(slab.length);
    if (!list) this.#free.set(slab.length, (list = []));
    if (list.length < RequestPool.KEEP && !list.includes(slab)) list.push(slab);
  }

  /** Bytes the pool holds. */
  get bytes(): number {
    let n = 0;
    for (const [cls, list] of this.#free) n += cls * list.length;
    return n;
  }
}

export interface EncoderOptions {
  resource: Resource;
  scope: { name: string; version?: string };
  /** Upper bound of one request's bytes. */
  maxRequestBytes: number;
  /** Upper bound of one request's data points (0: none). */
  maxPointsPerRequest?: number;
  /** The owner series and copied attributes (owners.max_per_map, owners.copy_attributes); default: 10, none copied. */
  owners?: OwnerSeriesOptions;
  /** The metrics exported (metrics.<name>.enabled); default: the table's defaults. */
  metrics?: MetricSelection;
}


// Field numbers of opentelemetry/proto/metrics/v1/metrics.proto.
const F = {
  request: { resourceMetrics: 1 },
  resourceMetrics: { resource: 1, scopeMetrics: 2, schemaUrl: 3 },
  resource: { attributes: 1 },
  scopeMetrics: { scope: 1, metrics: 2 },
  scope: { name: 1, version: 2 },
  metric: { name: 1, description: 2, unit: 3, gauge: 5, sum: 7, histogram: 9 },
  gauge: { dataPoints: 1 },
  sum: { dataPoints: 1, temporality: 2, monotonic: 3 },
  histogram: { dataPoints: 1, temporality: 2 },
  number: { start: 2, time: 3, asDouble: 4, asInt: 6, attributes: 7 },
  hist: { start: 2, time: 3, count: 4, sum: 5, bucketCounts: 6, bounds: 7, attributes: 9, min: 11, max: 12 },
} as const;

const TAG_START = (F.number.start << 3) | 1; // fixed64
const TAG_TIME = (F.number.time << 3) | 1;
const TAG_AS_DOUBLE = (F.number.asDouble << 3) | 1;
const TAG_AS_INT = (F.number.asInt << 3) | 1; // sfixed64
/** Per point after its prefix (attributes, start, time): the value, a tag byte and 8 bytes. */
const POINT_VALUE = 9;
/** Tag plus the widest length varint we ever write (a request < 4 GiB). */
const LEN_OVERHEAD = 6;

const OTLP_TEMPORALITY: Record<AggregationTemporality, number> = {
  [AggregationTemporality.DELTA]: 1,
  [AggregationTemporality.CUMULATIVE]: 2,
};

export function msToNanos(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

function hrToNanos(t: HrTime): bigint {
  return BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
}

/** Metric name, description and unit: the fields before the data. */
function metricHeader(name: string, description: string, unit: string): Buffer {
  const b = new MessageBuilder().string(F.metric.name, name);
  if (description) b.string(F.metric.description, description);
  if (unit) b.string(F.metric.unit, unit);
  return b.finish();
}

/** One of the SDK's metrics (the Meter's: host and self-telemetry) as an OTLP Metric. */
export function encodeSdkMetric(m: MetricData): Buffer {
  const d = m.descriptor;
  const metric = new MessageBuilder().raw(metricHeader(d.name, d.description, d.unit));
  const isInt = d.valueType === ValueType.INT;
  if (m.dataPointType === DataPointType.HISTOGRAM) {
    const h = new MessageBuilder();
    for (const p of m.dataPoints) {
      const v = p.value;
      const dp = new MessageBuilder()
        .raw(keyValues(F.hist.attributes, Object.entries(p.attributes)))
        .fixed64(F.hist.start, hrToNanos(p.startTime))
        .fixed64(F.hist.time, hrToNanos(p.endTime))
        .int64(F.hist.count, v.count);
      if (v.sum !== undefined) dp.double(F.hist.sum, v.sum);
      dp.packed(F.hist.bucketCounts, v.buckets.counts, 'fixed64').packed(F.hist.bounds, v.buckets.boundaries, 'double');
      if (v.min !== undefined) dp.double(F.hist.min, v.min);
      if (v.max !== undefined) dp.double(F.hist.max, v.max);
      h.message(F.histogram.dataPoints, dp);
    }
    h.varintField(F.histogram.temporality, OTLP_TEMPORALITY[m.aggregationTemporality]);
    return metric.message(F.metric.histogram, h).finish();
  }
  if (m.dataPointType !== DataPointType.GAUGE && m.dataPointType !== DataPointType.SUM) return metric.finish();
  const data = new MessageBuilder();
  for (const p of m.dataPoints) {
    const dp = new MessageBuilder()
      .raw(keyValues(F.number.attributes, Object.entries(p.attributes)))
      .fixed64(F.number.start, hrToNanos(p.startTime))
      .fixed64(F.number.time, hrToNanos(p.endTime));
    if (isInt) dp.int64(F.number.asInt, p.value as number);
    else dp.double(F.number.asDouble, p.value as number);
    data.message(F.gauge.dataPoints, dp);
  }
  if (m.dataPointType === DataPointType.SUM) {
    data.varintField(F.sum.temporality, OTLP_TEMPORALITY[m.aggregationTemporality]);
    if (m.isMonotonic) data.varintField(F.sum.monotonic, 1);
    return metric.message(F.metric.sum, data).finish();
  }
  return metric.message(F.metric.gauge, data).finish();
}

/**
 * The points of one metric in the collection being encoded: point i is prefixes[i] (its
 * attributes, start and time) and values[i]; NaN: no point.
 */
interface Run {
  readonly spec: MetricSpec;
  readonly prefixes: readonly Buffer[];
  readonly values: Float64Array;
}

/** A run of one metric's points ([from, to) of its Run) inside one request. */
interface Chunk {
  run: number;
  from: number;
  to: number;
  points: number;
  gaugeBytes: number;
}

interface Plan {
  sdk: Array<{ bytes: Buffer; points: number }>;
  chunks: Chunk[];
  points: number;
}

export class OtlpEncoder {
  readonly #resourceField: Buffer;
  readonly #schemaUrl: string;
  readonly #scopeField: Buffer;
  /** Name, description and unit of each series, encoded once. */
  readonly #headers: Map<MetricSpec, Buffer>;
  readonly #selection: MetricSelection;
  readonly #maxBytes: number;
  readonly #maxPoints: number;
  readonly #ids: ReturnType<typeof otlpIdentityCache>;
  readonly #owners: OwnerSeriesCache<Buffer>;
  /** Where request buffers come from; give them back with recycle(). */
  readonly pool = new RequestPool();
  #values = new Float64Array(0);
  #attrs: Buffer[] = [];
  #ownerPrefixes: Buffer[] = [];
  #ownerValues = new Float64Array(0);
  #omittedPrefixes: Buffer[] = [];
  #omittedValues = new Float64Array(0);
  /** The metrics of the collection being encoded, in the order they are written. */
  #runs: Run[] = [];

  constructor(o: EncoderOptions) {
    const resource = new MessageBuilder().raw(keyValues(F.resource.attributes, Object.entries(o.resource.attributes)));
    this.#resourceField = new MessageBuilder().message(F.resourceMetrics.resource, resource).finish();
    this.#schemaUrl = o.resource.schemaUrl ?? '';
    const scope = new MessageBuilder().string(F.scope.name, o.scope.name);
    if (o.scope.version) scope.string(F.scope.version, o.scope.version);
    this.#scopeField = new MessageBuilder().message(F.scopeMetrics.scope, scope).finish();
    this.#selection = o.metrics ?? new MetricSelection();
    this.#headers = new Map();
    this.#maxBytes = o.maxRequestBytes;
    this.#maxPoints = o.maxPointsPerRequest || Number.MAX_SAFE_INTEGER;
    this.#ids = otlpIdentityCache(o.owners?.copyAttributes ?? []);
    this.#owners = new OwnerSeriesCache((a) => otlpPointPrefix(Object.entries(a)), o.owners?.maxPerMap ?? 10);
  }

  /** Maps whose attribute bytes are cached (for tests). */
  get cachedMaps(): number {
    return this.#ids.size;
  }

  /** Attribute encodings made so far (for tests: once per map, not per collection). */
  get attributeEncodings(): number {
    return this.#ids.encodings;
  }

  /** Maps whose owner points were encoded so far (for tests: again only when they change). */
  get ownerEncodings(): number {
    return this.#owners.encodings;
  }

  /**
   * The requests for one export: the per-map points of `c` (none when null: a failed
   * collection still exports the Meter's metrics), stamped with its time, and the Meter's
   * metrics. `startMs` is the start time of every per-map point (never after its time).
   */
  encode(c: Collection | null, pressure: PressureReadout | null, sdkMetrics: readonly MetricData[], startMs: number): EncodedRequest[] {
    const sdk = sdkMetrics.filter((m) => m.dataPoints.length > 0).map((m) => ({ bytes: encodeSdkMetric(m), points: m.dataPoints.length }));
    this.#runs = [];
    if (c) {
      // start and time of every per-map point: one block per collection, put in each prefix.
      const times = Buffer.allocUnsafe(TIMES_BYTES);
      times[0] = TAG_START;
      times.writeBigUInt64LE(msToNanos(Math.min(startMs, c.time)), 1);
      times[9] = TAG_TIME;
      times.writeBigUInt64LE(msToNanos(c.time), 10);
      this.#fill(c, pressure, times);
    }
    return this.#plan(sdk).map((p) => this.#write(p));
  }

  /** Values (NaN: no point) and point prefixes of every map and owner, as this.#runs. */
  #fill(c: Collection, pressure: PressureReadout | null, times: Buffer): void {
    const maps = c.maps;
    const n = maps.length;
    // Only the enabled series: a disabled one is not even computed.
    const series = this.#selection.perMap;
    const k = series.length;
    if (this.#values.length < n * k) this.#values = new Float64Array(Math.max(n * k, this.#values.length * 2));
    if (this.#attrs.length < n) this.#attrs = new Array<Buffer>(n);
    const readout = readoutFor(c, pressure)?.maps;
    const values = this.#values;
    for (let i = 0; i < n; i++) {
      const m = maps[i]!;
      const prefix = this.#ids.get(m);
      prefix.set(times, prefix.length - TIMES_BYTES);
      this.#attrs[i] = prefix;
      const p = readout?.get(m.id);
      for (let s = 0; s < k; s++) values[s * n + i] = series[s]!.value(m, p) ?? NaN;
    }
    this.#ids.endCollection();
    const runs: Run[] = [];
    for (let s = 0; s < k; s++) runs.push({ spec: series[s]!.spec, prefixes: this.#attrs, values: values.subarray(s * n, (s + 1) * n) });
    const owner = this.#selection.enabled(METRICS.owner);
    const omitted = this.#selection.enabled(METRICS.ownersOmitted);
    if (owner || omitted) {
      this.#fillOwners(maps, times);
      if (owner) runs.push({ spec: METRICS.owner, prefixes: this.#ownerPrefixes, values: this.#ownerValues.subarray(0, this.#ownerPrefixes.length) });
      if (omitted) runs.push({ spec: METRICS.ownersOmitted, prefixes: this.#omittedPrefixes, values: this.#omittedValues.subarray(0, this.#omittedPrefixes.length) });
    }
    this.#runs = runs;
  }

  /** The prefixes of every ebpf.map.owner point (value 1) and ebpf.map.owners.omitted point. */
  #fillOwners(maps: Collection['maps'], times: Buffer): void {
    const owner: Buffer[] = [];
    const omitted: Buffer[] = [];
    const omittedValues: number[] = [];
    for (const m of maps) {
      const o = this.#owners.get(m);
      for (const prefix of o.owner) {
        prefix.set(times, prefix.length - TIMES_BYTES);
        owner.push(prefix);
      }
      if (o.omitted) {
        const prefix = o.omitted.attributes;
        prefix.set(times, prefix.length - TIMES_BYTES);
        omitted.push(prefix);
        omittedValues.push(o.omitted.value);
      }
    }
    this.#owners.endCollection();
    if (this.#ownerValues.length < owner.length) this.#ownerValues = new Float64Array(Math.max(owner.length, this.#ownerValues.length * 2)).fill(1);
    if (this.#omittedValues.length < omitted.length) this.#omittedValues = new Float64Array(Math.max(omitted.length, this.#omittedValues.length * 2));
    this.#omittedValues.set(omittedValues);
    this.#ownerPrefixes = owner;
    this.#omittedPrefixes = omitted;
  }

  #header(spec: MetricSpec): Buffer {
    let h = this.#headers.get(spec);
    if (!h) this.#headers.set(spec, (h = metricHeader(spec.name, spec.description, spec.unit)));
    return h;
  }

  #plan(sdk: Plan['sdk']): Plan[] {
    const fixed = LEN_OVERHEAD * 3 + this.#resourceField.length + this.#scopeField.length + (this.#schemaUrl ? fieldSize(3, Buffer.byteLength(this.#schemaUrl)) : 0);
    const plans: Plan[] = [];
    let cur: Plan = { sdk: [], chunks: [], points: 0 };
    let used = fixed;
    const close = () => {
      plans.push(cur);
      cur = { sdk: [], chunks: [], points: 0 };
      used = fixed;
    };
    const empty = () => cur.sdk.length === 0 && cur.chunks.length === 0;
    for (const m of sdk) {
      const f = LEN_OVERHEAD + m.bytes.length;
      if (!empty() && used + f > this.#maxBytes) close();
      cur.sdk.push(m);
      used += f;
    }
    this.#runs.forEach((run, r) => {
      const chunkOverhead = LEN_OVERHEAD * 2 + this.#header(run.spec).length;
      const { values, prefixes } = run;
      const n = values.length;
      let chunk: Chunk | null = null;
      for (let i = 0; i < n; i++) {
        if (Number.isNaN(values[i]!)) continue;
        const len = prefixes[i]!.length + POINT_VALUE;
        const f = 1 + varintSize(len) + len;
        if (chunk && (used + f > this.#maxBytes || cur.points >= this.#maxPoints)) {
          close();
          chunk = null;
        }
        if (!chunk) {
          if (!empty() && (used + chunkOverhead + f > this.#maxBytes || cur.points >= this.#maxPoints)) close();
          chunk = { run: r, from: i, to: i, points: 0, gaugeBytes: 0 };
          cur.chunks.push(chunk);
          used += chunkOverhead;
        }
        chunk.to = i + 1;
        chunk.points++;
        chunk.gaugeBytes += f;
        cur.points++;
        used += f;
      }
    });
    if (!empty()) plans.push(cur);
    return plans;
  }

  #write(plan: Plan): EncodedRequest {
    const metricLens = plan.chunks.map((c) => this.#header(this.#runs[c.run]!.spec).length + fieldSize(F.metric.gauge, c.gaugeBytes));
    let sm = this.#scopeField.length;
    for (const m of plan.sdk) sm += fieldSize(F.scopeMetrics.metrics, m.bytes.length);
    for (const l of metricLens) sm += fieldSize(F.scopeMetrics.metrics, l);
    const schema = this.#schemaUrl ? fieldSize(F.resourceMetrics.schemaUrl, Buffer.byteLength(this.#schemaUrl)) : 0;
    const rm = this.#resourceField.length + fieldSize(F.resourceMetrics.scopeMetrics, sm) + schema;
    const { bytes, slab } = this.pool.take(fieldSize(F.request.resourceMetrics, rm));
    const w = new ProtoWriter(bytes);
    w.header(F.request.resourceMetrics, rm);
    w.raw(this.#resourceField);
    w.header(F.resourceMetrics.scopeMetrics, sm);
    w.raw(this.#scopeField);
    let points = 0;
    for (const m of plan.sdk) {
      w.bytes(F.scopeMetrics.metrics, m.bytes);
      points += m.points;
    }
    const buf = w.buf;
    plan.chunks.forEach((c, j) => {
      const { spec, values, prefixes } = this.#runs[c.run]!;
      w.header(F.scopeMetrics.metrics, metricLens[j]!);
      w.raw(this.#header(spec));
      w.header(F.metric.gauge, c.gaugeBytes);
      const isInt = spec.valueType === 'int';
      for (let i = c.from; i < c.to; i++) {
        const v = values[i]!;
        if (Number.isNaN(v)) continue;
        const a = prefixes[i]!;
        w.header(F.gauge.dataPoints, a.length + POINT_VALUE);
        w.raw(a);
        if (isInt) {
          buf[w.pos++] = TAG_AS_INT;
          writeInt64(buf, w.pos, v);
        } else {
          buf[w.pos++] = TAG_AS_DOUBLE;
          buf.writeDoubleLE(v, w.pos);
        }
        w.pos += 8;
      }
      points += c.points;
    });
    if (this.#schemaUrl) w.string(F.resourceMetrics.schemaUrl, this.#schemaUrl);
    if (w.pos !== buf.length) throw new Error(`OTLP encoder: wrote ${w.pos} of ${buf.length} bytes`);
    return slab ? { bytes: buf, points, slab } : { bytes: buf, points };
  }
}
