// SPDX-License-Identifier: Apache-2.0
// Churn, the requirement as a test: 100,000 real maps created and freed, at most
// 1,000 alive at once; after every round each live map is exported under its own attributes,
// the maps freed before it are gone, no otel.metric.overflow series, and memory stays bounded.
// The export goes through the agent's own pipeline (startTelemetry: MeterProvider, host
// instruments, the OTLP encoder, queue and delivery over gRPC) to a receiver on loopback.
import { spawnSync } from 'node:child_process';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { type Attributes, ValueType } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import t from 'tap';
import { type Collection, Collector } from '../../src/collector';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { ATTR, METRICS } from '../../src/metrics/table';
import { buildResource } from '../../src/resource';
import { startTelemetry } from '../../src/telemetry';
import { features } from '../helpers/features';
import { mapOps, typeId } from '../helpers/kernel';
import { type Received, startGrpcReceiver } from '../helpers/otlp-receiver';

/** Whether the kernel still lists a map id (bpftool exits non-zero once it is freed). */
function kernelStillHas(id: number): boolean {
  return spawnSync('bpftool', ['map', 'show', 'id', String(id)], { stdio: 'ignore' }).status === 0;
}

const ROUNDS = 100;
const PER_ROUND = 1000;
const HASH_MAX = 8;
const OVERFLOW = 'otel.metric.overflow';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** heapUsed + external (Buffers from the addon and the exporters) after full collections. */
function settledMemory(): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

const MiB = 1 << 20;

t.test(`churn: ${ROUNDS * PER_ROUND} maps come and go, ${PER_ROUND} alive at most`, async (t) => {
  const ops = mapOps();
  const kfunc = features.kfunc();
  const HASH = typeId('hash');
  const ARRAY = typeId('array');
  const rx = await startGrpcReceiver(t);
  const { config } = loadConfig({ args: ['--interval=1h', `--otlp.endpoint=${rx.endpoint}`], env: {} });
  const collector = new Collector();
  t.teardown(() => collector.close());
  let latest: Collection | null = null;
  const telemetry = await startTelemetry({
    config,
    resource: buildResource({ machineIdFile: config.paths.machineId }),
    log: createLogger('warn', (l) => t.comment(l)),
  });
  t.teardown(() => telemetry.shutdown());

  // Every fd still open is closed if the test stops early.
  let open: number[] = [];
  t.teardown(() => {
    for (const fd of open) ops.close(fd);
  });

  /** A collection, then an export; resolves with what reached the receiver (parts merged). */
  const collectAndExport = async (): Promise<Received> => {
    latest = await collector.collect();
    const before = rx.requests.length;
    await telemetry.export(latest, null);
    await telemetry.flush();
    const parts = rx.requests.splice(before); // dropped as read: the receiver must not grow
    if (!parts.length) throw new Error('nothing reached the receiver');
    return { ...parts[0]!, points: parts.flatMap((p) => p.points) };
  };

  // A map closed here can outlive our close for a moment: another process (bpftool, another
  // test's agent reading memory by id) may hold it, and then the kernel still has it, the
  // collection sees it, and exporting it is right. So: a freed map may appear in the first
  // collection after its close only while the kernel still lists it (it is in the collection),
  // and must be gone by the second — the "within two collections".
  let freed = new Set<number>(); // closed before this round's collection
  let lingering = new Set<number>(); // closed, and still seen by the previous collection
  let lingered = 0;
  let failures = 0;
  const fail = (msg: string) => {
    failures++;
    if (failures <= 20) t.fail(msg); // the first few say what is wrong; the count says how much
  };
  /**
   * Every per-map point is of a map in the collection exported (no series outlives its map in
   * the kernel); maps freed before the previous collection are gone; returns the maps freed
   * just before this one that the kernel still listed.
   */
  const checkFreed = (got: Received, collected: ReadonlyMap<number, unknown>, round: number, goneBefore: ReadonlySet<number>): Set<number> => {
    const still = new Set<number>();
    for (const p of got.points) {
      const id = p.attributes[ATTR.id];
      if (typeof id !== 'number') continue;
      if (!collected.has(id)) fail(`round ${round}: map ${id} exported but not in the collection (${p.metric})`);
      // Still listed two collections after its close: only right while the kernel still had
      // it when this collection ran (its free is deferred work, late on a loaded machine) —
      // bpftool is the judge, asked before the collection: asked after it, a map freed in
      // between would be blamed on a collection that saw it rightly.
      if (goneBefore.has(id)) fail(`round ${round}: map ${id} exported after the kernel freed it (${p.metric})`);
      if (freed.has(id)) still.add(id);
    }
    lingered += still.size;
    return still;
  };
  // The smallest of WINDOW samples at each end: a sample can only be inflated (by something
  // not yet collected, compiled code, a pooled buffer), never deflated below what is retained.
  const WINDOW = 5;
  let baseline = Infinity;
  let end = Infinity;
  const WARMUP = 10;
  let maxPoints = 0;

  /** One round: 1,000 maps made, collected, exported and checked, then closed. */
  const runRound = async (round: number): Promise<void> => {
    // Create this round's maps: half hash (filled 0..4 of 8), half array.
    const made: Array<{ fd: number; id: number; name: string; hash: boolean; filled: number }> = [];
    for (let i = 0; i < PER_ROUND; i++) {
      const hash = i % 2 === 0;
      const name = `ch${round}_${i}`;
      const fd = ops.createMap({ type: hash ? HASH : ARRAY, keySize: 4, valueSize: 8, maxEntries: HASH_MAX, name });
      open.push(fd);
      const filled = hash ? (i >> 1) % 5 : 0;
      if (filled) ops.fill(fd, 4, 8, 0, filled);
      made.push({ fd, id: ops.mapId(fd), name, hash, filled });
    }

    const goneBefore = new Set([...lingering].filter((id) => !kernelStillHas(id)));
    const got = await collectAndExport();
    maxPoints = Math.max(maxPoints, got.points.length);
    const collected = new Map(latest!.maps.map((s) => [s.id, s]));
    lingering = checkFreed(got, collected, round, goneBefore);
    // Index the export by metric and map id, counting duplicates.
    const byKey = new Map<string, Received['points']>();
    for (const p of got.points) {
      if (OVERFLOW in p.attributes) fail(`round ${round}: ${p.metric} has an ${OVERFLOW} series`);
      const id = p.attributes[ATTR.id];
      if (typeof id !== 'number') continue;
      const k = `${p.metric}/${id}`;
      byKey.set(k, [...(byKey.get(k) ?? []), p]);
    }
    for (const m of made) {
      const stats = collected.get(m.id);
      if (!stats) {
        fail(`round ${round}: map ${m.id} (${m.name}) is not in the collection`);
        continue;
      }
      // Counted where the kernel can count the hash family (the kfunc, 6.6+); else no series.
      const counted = m.hash && stats.entries !== null;
      if (m.hash && kfunc && stats.countMethod !== 'kfunc') fail(`round ${round}: map ${m.id} counted by ${stats.countMethod}`);
      // Every per-map series carries the same identity, count_method included.
      const attrs = { [ATTR.id]: m.id, [ATTR.name]: m.name, [ATTR.type]: m.hash ? 'hash' : 'array', [ATTR.countMethod]: stats.countMethod };
      const expect: Array<[string, number | undefined, Record<string, unknown>]> = [
        [METRICS.maxEntries.name, HASH_MAX, attrs],
        [METRICS.memory.name, stats.memoryBytes ?? undefined, attrs],
        [METRICS.entries.name, m.filled, attrs],
        [METRICS.utilization.name, m.filled / HASH_MAX, attrs],
      ];
      for (const [metric, value, attributes] of expect) {
        const ps = byKey.get(`${metric}/${m.id}`) ?? [];
        const wanted = counted || metric === METRICS.maxEntries.name || (metric === METRICS.memory.name && stats.memoryBytes !== null);
        if (!wanted) {
          if (ps.length) fail(`round ${round}: ${m.hash ? 'uncounted hash' : 'array'} ${m.id} has ${metric}`);
          continue;
        }
        if (ps.length !== 1) {
          fail(`round ${round}: map ${m.id} (${m.name}) has ${ps.length} ${metric} series`);
          continue;
        }
        const p = ps[0]!;
        if (JSON.stringify(p.attributes) !== JSON.stringify(attributes))
          fail(`round ${round}: map ${m.id} ${metric} attributes ${JSON.stringify(p.attributes)}, want ${JSON.stringify(attributes)}`);
        if (value !== undefined && p.value !== value) fail(`round ${round}: map ${m.id} ${metric} = ${p.value}, want ${value}`);
        if (metric === METRICS.memory.name && !(p.value > 0)) fail(`round ${round}: map ${m.id} memory ${p.value}`);
      }
    }

    // Free them; the next round's collection must not export them any more.
    for (const m of made) ops.close(m.fd);
    open = [];
    freed = new Set(made.map((m) => m.id));
  };

  for (let round = 0; round < ROUNDS; round++) {
    await runRound(round);
    // Measured between rounds: our maps closed, the round's collection, export and checks
    // out of scope, and the collection handed to the pipeline dropped (the next round makes
    // its own). What is left is what the pipeline keeps, whatever other tests on the host
    // are doing to the size of a collection.
    latest = null;
    if (round >= WARMUP && round < WARMUP + WINDOW) baseline = Math.min(baseline, settledMemory());
    if (round >= ROUNDS - WINDOW) end = Math.min(end, settledMemory());
  }

  // The last round's maps, freed: gone within two collections.
  for (const n of [1, 2]) {
    const goneBefore = new Set([...lingering].filter((id) => !kernelStillHas(id)));
    const after = await collectAndExport();
    lingering = checkFreed(after, new Map(latest!.maps.map((s) => [s.id, s])), ROUNDS + n, goneBefore);
    freed = new Set();
  }
  t.comment(`maps still held by another process at the first collection after their close: ${lingered} of ${ROUNDS * PER_ROUND}`);
  t.equal(failures, 0, `every round: each live map exported once under its own attributes, nothing exported that the collection lacks, freed maps gone within two collections, no overflow (${failures} failures)`);

  // Memory, bounded without timing anything. Between the baseline window (after rounds
  // 10-14) and the last 5 rounds, 85,000 maps come and go; every sample is taken between
  // rounds with nothing of a round held, so whatever grows is what the churn left behind in
  // the pipeline. The SDK's observable-gauge storage keeps, per attribute set, an attributes
  // object, its hashed string key (~90 characters here) and an accumulation: >= 200 B for
  // each of 4 per-map metrics, i.e. >= 65 MiB over 85,000 maps. Even one number per map kept
  // in a Set (~30 B) adds ~2.5 MiB and fails the 2 MiB bound (tried: a deliberate Set<id> in
  // producer.ts gave +2.47 MiB); without a leak the figure, the smallest of 5 samples after
  // full GCs at each end, came out between -1.5 and +0.4 MiB, alone or beside other tests.
  const growth = end - baseline;
  t.comment(`memory (heapUsed + external) at rounds ${WARMUP}-${WARMUP + WINDOW - 1}: ${(baseline / MiB).toFixed(1)} MiB, in the last ${WINDOW} rounds: ${(end / MiB).toFixed(1)} MiB; largest export: ${maxPoints} points`);
  t.ok(growth < 2 * MiB, `memory stays bounded over ${(ROUNDS - WARMUP - WINDOW) * PER_ROUND} more maps: grew ${(growth / MiB).toFixed(2)} MiB`);
});

/** A reader the test drives by hand. */
class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

// The control: the same checks catch the SDK's observable gauges as shipped. If this ever
// stops failing, the SDK changed and series.ts's reason for existing should be revisited.
t.test('control: observable gauges as shipped fail the churn checks', async (t) => {
  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    const reader = new ManualReader({ aggregationTemporalitySelector: () => temporality });
    const provider = new MeterProvider({ readers: [reader] });
    const gauge = provider.getMeter('control').createObservableGauge(METRICS.maxEntries.name, { valueType: ValueType.INT });
    let live: number[] = [];
    gauge.addCallback((r) => {
      for (const id of live) r.observe(HASH_MAX, { [ATTR.id]: id, [ATTR.name]: `m${id}`, [ATTR.type]: 'hash' });
    });
    const exported = async () => {
      const { resourceMetrics } = await reader.collect();
      return (resourceMetrics as ResourceMetrics).scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.dataPoints as Array<{ attributes: Attributes }>));
    };
    const name = temporality === AggregationTemporality.CUMULATIVE ? 'cumulative' : 'delta';
    let sawStale = false;
    let sawOverflow = false;
    for (let round = 0; round < 3; round++) {
      const freed = new Set(live);
      live = Array.from({ length: PER_ROUND }, (_, i) => round * PER_ROUND + i + 1);
      const points = await exported();
      sawStale ||= points.some((p) => freed.has(p.attributes[ATTR.id] as number));
      sawOverflow ||= points.some((p) => OVERFLOW in p.attributes);
    }
    t.ok(sawStale || sawOverflow, `${name}: freed maps stay exported (${sawStale}) or new maps overflow (${sawOverflow})`);
    await provider.shutdown();
  }
});
