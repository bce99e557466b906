// SPDX-License-Identifier: Apache-2.0
/**
 * Scenario 4: what a map's entry count costs the agent. One preallocated hash map (4-byte
 * keys, 8-byte values) is filled to each size in turn; at each, the agent's full cycle and
 * the floor are timed (interleaved), and the peers' ways of counting the same map (a
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
  const out: CountResult[] = [];
  try {
    // The pipeline is cold here (the first scenario to run it): warm the JIT first, or the
    // empty map, measured first, would carry the warm-up and flatter every ratio against it.
    for (let i = 0; i < plan.count.warmupCycles; i++) {
      await pipeline.cycle();
      await timeFloor(floors.bare);
    }
    for (const size of plan.count.sizes) {
      const r = ops.fill(fd, 4, 8, map.inserted, size - map.inserted);
      if (r.errno) throw new Error(`filling the benchmark map to ${size} entries failed: errno ${r.errno}`);
      map.inserted += r.inserted;
      const s = await interleave({ agent: async () => (await pipeline.cycle()).total, floor: () => timeFloor(floors.bare) }, plan.count.reps, plan.warmup);
      const walk: number[] = [];
      for (let i = 0; i < plan.count.walkReps(size); i++) {
        const w = await walkCount([map]);
        if (w.entries !== size) throw new Error(`the walk counted ${w.entries} entries, the map holds ${size}`);
        walk.push(w.ms);
      }
      let dump: number[] | null = null;
      if (size <= plan.count.dumpUpTo) {
        dump = [];
        for (let i = 0; i < plan.count.walkReps(size); i++) dump.push((await bpftoolDump([map], batchFile)).ms);
      }
      const c = await pipeline.collector.collect();
      const agent = latency(s.agent);
      const floor = latency(s.floor);
      const empty = out[0];
      out.push({
        entries: size,
        reported: c.maps.find((m) => m.id === map.id)?.entries ?? null,
        reps: plan.count.reps,
        agent,
        floor,
        agentOverEmpty: empty ? agent.median / empty.agent.median : 1,
        floorOverEmpty: empty ? floor.median / empty.floor.median : 1,
        walk: latency(walk),
        dump: dump && latency(dump),
      });
    }
  } finally {
    ops.close(fd);
  }
  return out;
}
