// SPDX-License-Identifier: Apache-2.0
/**
 * Scenario 4: what a map's entry count costs the agent. One preallocated hash map (4-byte
 * keys, 8-byte values) is filled to each size and back down; at each, the agent's full cycle
 * and the floor are timed (interleaved), and the peers' ways of counting the same map (a
 * get-next-key walk, a bpftool dump) for contrast: theirs grow with the entries, ours must not.
 */
import { mapTypeByName } from '../../src/map-types';
import { loadAddon } from '../../src/native';
import { bpftoolDump, walkCount } from '../lib/peers';
import type { AgentPipeline } from '../lib/pipeline';
import type { Plan } from '../lib/plan';
import type { CountResult } from '../lib/results';
import { interleave, latency } from '../lib/stats';
import { type Floors, timeFloor } from './scale';

export async function measureCount(plan: Plan, pipeline: AgentPipeline, floors: Floors, batchFile: string): Promise<CountResult[]> {
  const ops = loadAddon().mapOps;
  const fd = ops.createMap({ type: mapTypeByName('hash')!.id, keySize: 4, valueSize: 8, maxEntries: plan.count.maxEntries, name: 'emp_bench_big' });
  const map = { fd, id: ops.mapId(fd), type: 'hash', keySize: 4, maxEntries: plan.count.maxEntries, inserted: 0 };
  const key = Buffer.alloc(4);
  /** Keys 0..size-1, exactly: fills up, or deletes the keys above. */
  const resize = (size: number) => {
    if (size > map.inserted) {
      const r = ops.fill(fd, 4, 8, map.inserted, size - map.inserted);
      if (r.errno) throw new Error(`filling the benchmark map to ${size} entries failed: errno ${r.errno}`);
      map.inserted += r.inserted;
    }
    for (; map.inserted > size; map.inserted--) {
      key.writeUInt32LE(map.inserted - 1);
      ops.delete(fd, key);
    }
  };
  const sizes = plan.count.sizes;
  const agent = new Map<number, number[]>(sizes.map((n) => [n, []]));
  const floor = new Map<number, number[]>(sizes.map((n) => [n, []]));
  const walk = new Map<number, number[]>(sizes.map((n) => [n, []]));
  const dump = new Map<number, number[]>(sizes.map((n) => [n, []]));
  const reported = new Map<number, number | null>();
  try {
    // The pipeline is cold here (the first scenario to run it): warm the JIT first, or the
    // empty map, measured first, would carry the warm-up and flatter every ratio against it.
    for (let i = 0; i < plan.count.warmupCycles; i++) {
      await pipeline.cycle();
      await timeFloor(floors.bare);
    }
    // Up and back down (0, 10k, 1M, 10k, 0): a drift of the machine's load over the scenario
    // lands on every size alike instead of on the largest, measured last.
    const order = [...sizes, ...sizes.slice(0, -1).reverse()];
    for (const [visit, size] of order.entries()) {
      resize(size);
      const s = await interleave({ agent: async () => (await pipeline.cycle()).total, floor: () => timeFloor(floors.bare) }, plan.count.reps, plan.warmup);
      agent.get(size)!.push(...s.agent);
      floor.get(size)!.push(...s.floor);
      if (visit >= sizes.length) continue; // the peers' cost is plain enough from one visit
      for (let i = 0; i < plan.count.walkReps(size); i++) {
        const w = await walkCount([map]);
        if (w.entries !== size) throw new Error(`the walk counted ${w.entries} entries, the map holds ${size}`);
        walk.get(size)!.push(w.ms);
      }
      if (size <= plan.count.dumpUpTo) for (let i = 0; i < plan.count.walkReps(size); i++) dump.get(size)!.push((await bpftoolDump([map], batchFile)).ms);
      reported.set(size, (await pipeline.collector.collect()).maps.find((m) => m.id === map.id)?.entries ?? null);
    }
  } finally {
    ops.close(fd);
  }
  const empty = { agent: latency(agent.get(sizes[0]!)!), floor: latency(floor.get(sizes[0]!)!) };
  return sizes.map((size) => {
    const a = latency(agent.get(size)!);
    const f = latency(floor.get(size)!);
    return {
      entries: size,
      reported: reported.get(size) ?? null,
      reps: a.n,
      agent: a,
      floor: f,
      agentOverEmpty: a.median / empty.agent.median,
      floorOverEmpty: f.median / empty.floor.median,
      walk: latency(walk.get(size)!),
      dump: dump.get(size)!.length ? latency(dump.get(size)!) : null,
    };
  });
}
