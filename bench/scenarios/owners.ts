// SPDX-License-Identifier: Apache-2.0
/**
 * Owner resolution at scale: the benchmark's maps (10,000 in the full run) each held by one of
 * 1,000 small processes that hold 50 fds apiece (10 maps and 40 other files: 50,000 open fds),
 * on top of the benchmark process itself, which holds every map. Measured:
 *
 * - one owner pass (OwnerResolver, as the agent runs it): wall time and the process's CPU
 *   (every thread: the addon's worker does the kernel reads), split into the task_file and
 *   bpf_prog iterators and the pin walk; the first pass (which reads each process's cgroup),
 *   passes after one process came or went (the join rebuilt), and passes over an unchanged
 *   host (the records compared, the last table kept);
 * - its effect on the agent's whole-process CPU per collection: the agent's full cycle
 *   (bench/lib/pipeline.ts) with an owner pass per collection (the default cadence) against
 *   the same cycle with owners off, interleaved.
 *
 * The owners found are checked: every map must list the process that holds it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { createOwnerResolver } from '../../src/collector-setup';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import type { MapPool } from '../lib/maps';
import { AgentPipeline } from '../lib/pipeline';
import { latency, type Latency, now } from '../lib/stats';

export interface OwnersResult {
  maps: number;
  processes: number;
  fds: number;
  reps: number;
  /** Wall ms of one pass, and the process's CPU ms during it (all threads). */
  firstPass: { wallMs: number; cpuMs: number; cgroupReads: number };
  /** Passes after one process came or went (the join rebuilt), and passes over an unchanged host (the last table kept). */
  pass: { changed: Latency; unchanged: Latency };
  passCpu: { changed: Latency; unchanged: Latency };
  parts: { fdsMs: Latency; progsMs: Latency; pinsMs: Latency };
  /** The agent's full cycle, CPU ms (all threads), without owners and with one pass per cycle. */
  cycleCpu: { off: Latency; on: Latency };
  budgetMs: number;
  /** Maps whose holder the pass named (must be all). */
  attributed: number;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function buildHolder(dir: string): string {
  const bin = path.join(dir, '.fd-holder');
  execFileSync('cc', ['-O2', '-o', bin, path.join(__dirname, '..', 'lib', 'fd-holder.c')]);
  return bin;
}

async function startHolders(bin: string, ids: number[], processes: number, otherFds: number): Promise<ChildProcess[]> {
  const per = Math.ceil(ids.length / processes);
  const children: ChildProcess[] = [];
  for (let i = 0; i < processes; i++) {
    const mine = ids.slice(i * per, (i + 1) * per);
    const child = spawn(bin, [String(otherFds + per - mine.length), ...mine.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`fd-holder exited with ${code}`)));
    });
  }
  return children;
}

export async function measureOwners(
  pool: MapPool,
  o: { processes: number; fdsPerProcess: number; reps: number },
  out: string,
): Promise<OwnersResult> {
  mkdirSync(out, { recursive: true });
  const bin = buildHolder(out);
  const ids = pool.maps.map((m) => m.id);
  const mapFds = Math.ceil(ids.length / o.processes);
  const children = await startHolders(bin, ids, o.processes, o.fdsPerProcess - mapFds);
  const holder = new Map<number, number>();
  children.forEach((c, i) => ids.slice(i * mapFds, (i + 1) * mapFds).forEach((id) => holder.set(id, c.pid!)));
  const { config } = loadConfig({ args: ['--paths.pod-logs', '', '--paths.container-logs', ''], env: {} });
  const resolver = createOwnerResolver(config, createLogger('none', () => {}))!;
  const off = new AgentPipeline(['--owners.enabled', 'false']);
  const on = new AgentPipeline();
  try {
    const all = new Set(ids);
    let c0 = cpuMs();
    let t0 = now();
    const first = await resolver.refresh(all);
    const firstPass = { wallMs: now() - t0, cpuMs: cpuMs() - c0, cgroupReads: first.parts.cgroupReads };
    let attributed = 0;
    for (const [id, pid] of holder) if (resolver.owners(id).processes?.some((p) => p.pid === pid)) attributed++;

    const wall = { changed: [] as number[], unchanged: [] as number[] };
    const cpu = { changed: [] as number[], unchanged: [] as number[] };
    const fdsMs: number[] = [];
    const progsMs: number[] = [];
    const pinsMs: number[] = [];
    let extra: ChildProcess | null = null;
    for (let i = 0; i < 2 * o.reps; i++) {
      // Every other pass, one more holder comes or goes: the records change and the join runs.
      const kind = i % 2 === 0 ? 'changed' : 'unchanged';
      if (kind === 'changed') {
        if (extra) {
          const gone = extra;
          await new Promise((r) => {
            gone.once('exit', r);
            gone.kill('SIGKILL');
          });
          extra = null;
        } else [extra] = await startHolders(bin, ids.slice(0, 1), 1, 0);
      }
      c0 = cpuMs();
      t0 = now();
      const tbl = await resolver.refresh(all);
      wall[kind].push(now() - t0);
      cpu[kind].push(cpuMs() - c0);
      fdsMs.push(tbl.parts.fdsMs);
      progsMs.push(tbl.parts.progsMs);
      pinsMs.push(tbl.parts.pinsMs);
    }
    extra?.kill('SIGKILL');

    // The agent's cycle with and without a pass per collection, interleaved.
    const cycOff: number[] = [];
    const cycOn: number[] = [];
    for (let i = 0; i < 2; i++) {
      await off.cycle();
      await on.cycle();
      await on.collector.owners!.settled();
    }
    for (let i = 0; i < o.reps; i++) {
      c0 = cpuMs();
      await off.cycle();
      cycOff.push(cpuMs() - c0);
      c0 = cpuMs();
      await on.cycle();
      await on.collector.owners!.refresh();
      cycOn.push(cpuMs() - c0);
    }
    return {
      maps: ids.length,
      processes: o.processes,
      fds: o.processes * o.fdsPerProcess,
      reps: o.reps,
      firstPass,
      pass: { changed: latency(wall.changed), unchanged: latency(wall.unchanged) },
      passCpu: { changed: latency(cpu.changed), unchanged: latency(cpu.unchanged) },
      parts: { fdsMs: latency(fdsMs), progsMs: latency(progsMs), pinsMs: latency(pinsMs) },
      cycleCpu: { off: latency(cycOff), on: latency(cycOn) },
      budgetMs: config.owners.budgetMs,
      attributed,
    };
  } finally {
    resolver.close();
    await off.close();
    await on.close();
    for (const c of children) c.kill('SIGKILL');
  }
}
