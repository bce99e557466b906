// SPDX-License-Identifier: Apache-2.0
/**
 * Scenarios 1-3 at one scale: the agent's full cycle against the floor (the addon's iterator
 * read alone), interleaved so both see the same machine; then the peers against the agent,
 * interleaved the same way, with a check that the peers counted what the agent reported.
 */
import { MapStatsReader } from '../../src/native';
import type { MapPool } from '../lib/maps';
import { bpftoolDump, bpftoolShow, walkCount } from '../lib/peers';
import type { AgentPipeline, CycleTiming } from '../lib/pipeline';
import type { Plan } from '../lib/plan';
import type { PeerResult, ScaleResult } from '../lib/results';
import { interleave, latency, median, now, quantile } from '../lib/stats';

export interface Floors {
  /** The iterator alone: no memory (what the kernel and the addon cost). */
  bare: MapStatsReader;
  /** The iterator with memory on, its fdinfo cache warm (what the agent's read costs). */
  memory: MapStatsReader;
}

export function openFloors(): Floors {
  return { bare: new MapStatsReader({ readMemory: false }), memory: new MapStatsReader({ readMemory: true }) };
}

export function closeFloors(f: Floors): void {
  f.bare.close();
  f.memory.close();
}

/** The floor reader's collect, timed. */
export async function timeFloor(reader: MapStatsReader): Promise<number> {
  const t = now();
  await reader.collect();
  return now() - t;
}

export async function measureScale(plan: Plan, pool: MapPool, pipeline: AgentPipeline, floors: Floors, batchFile: string): Promise<ScaleResult> {
  const reps = plan.reps(pool.maps.length);
  const cycles: CycleTiming[] = [];
  const s = await interleave(
    {
      floor: () => timeFloor(floors.bare),
      floorMemory: () => timeFloor(floors.memory),
      agent: async () => {
        const c = await pipeline.cycle();
        cycles.push(c);
        return c.total;
      },
    },
    reps,
    plan.warmup,
  );
  const measured = cycles.slice(plan.warmup);
  const stage = (k: keyof CycleTiming) => latency(measured.map((c) => c[k]));
  const perMap = measured.map((c) => (c.total / c.maps) * 1000);
  const total = stage('total');
  const floor = latency(s.floor);
  const floorMemory = latency(s.floorMemory);
  return {
    benchMaps: pool.maps.length,
    mapsSeen: median(measured.map((c) => c.maps)),
    reps,
    agent: { total, collect: stage('collect'), listeners: stage('listeners'), metrics: stage('metrics'), encode: stage('encode') },
    perMapUs: { median: median(perMap), p99: quantile(perMap, 0.99) },
    floor,
    floorMemory,
    agentOverFloor: total.median / floor.median,
    agentOverFloorMemory: total.median / floorMemory.median,
    points: median(measured.map((c) => c.points)),
    requestBytes: median(measured.map((c) => c.bytes)),
    retainedHeapBytes: null,
    peers: await measurePeers(plan, pool, pipeline, batchFile),
  };
}

async function measurePeers(plan: Plan, pool: MapPool, pipeline: AgentPipeline, batchFile: string): Promise<PeerResult> {
  const hash = pool.hashMaps();
  const reps = plan.peerReps(pool.maps.length);
  let listed = 0;
  let walked = 0;
  let dumped = 0;
  const collect: number[] = [];
  const s = await interleave(
    {
      agent: async () => {
        const c = await pipeline.cycle();
        collect.push(c.collect);
        return c.total;
      },
      bpftoolShow: async () => {
        const r = await bpftoolShow();
        listed = r.maps;
        return r.ms;
      },
      walk: async () => {
        const r = await walkCount(hash);
        walked = r.entries;
        return r.ms;
      },
      dump: async () => {
        const r = await bpftoolDump(hash, batchFile);
        dumped = r.entries;
        return r.ms;
      },
    },
    reps,
    1,
  );
  // What the agent reported for the same maps, from its latest collection.
  const ids = new Set(hash.map((m) => m.id));
  const latest = await pipeline.collector.collect();
  let agentEntries = 0;
  for (const m of latest.maps) if (ids.has(m.id)) agentEntries += m.entries ?? 0;
  const agent = latency(s.agent);
  const agentCollect = latency(collect.slice(1));
  const over = (samples: number[]) => median(samples) / agent.median;
  const overCollect = (samples: number[]) => median(samples) / agentCollect.median;
  return {
    reps,
    hashMaps: hash.length,
    agent,
    agentCollect,
    bpftoolShow: { ...latency(s.bpftoolShow), maps: listed, overAgent: over(s.bpftoolShow), overCollect: overCollect(s.bpftoolShow) },
    walk: { ...latency(s.walk), entries: walked, overAgent: over(s.walk), overCollect: overCollect(s.walk) },
    dump: { ...latency(s.dump), entries: dumped, overAgent: over(s.dump), overCollect: overCollect(s.dump) },
    agentEntries,
    consistent: walked === dumped && dumped === agentEntries,
  };
}
