// SPDX-License-Identifier: Apache-2.0
/**
 * `npm run bench`: every benchmark of issue 6 in one run, on real maps of this host.
 *
 *   npm run bench                      full run (< 15 min on the 2-core VM); prints the tables
 *   npm run bench -- --write-md        ... and rewrites the generated part of BENCHMARKS.md
 *   npm run bench -- --tiny            every scenario in seconds (the smoke test's mode)
 *   npm run bench -- --out DIR         where results go (default bench/results/)
 *
 * Results: DIR/<date>.json and DIR/latest.json (the figures), DIR/latest.md (the tables).
 * Maps are created in this process and held by fd (never pinned): they vanish with it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MapPool } from './lib/maps';
import { AgentPipeline, retainedHeap } from './lib/pipeline';
import { fullPlan, type Plan, tinyPlan } from './lib/plan';
import type { BenchResults, ExportSizeResult, RunningResult, ScaleResult } from './lib/results';
import { now } from './lib/stats';
import { renderMarkdown, updateBenchmarksMd } from './report';
import { measureCount } from './scenarios/count';
import { measureExportSize, worstCaseExport } from './scenarios/export-size';
import { measureOwners } from './scenarios/owners';
import { measureRunningAgents } from './scenarios/running';
import { closeFloors, measureScale, openFloors } from './scenarios/scale';

const ROOT = path.join(__dirname, '..');

interface Args {
  plan: Plan;
  out: string;
  writeMd: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { plan: fullPlan(), out: path.join(ROOT, 'bench', 'results'), writeMd: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--tiny') args.plan = tinyPlan();
    else if (a === '--write-md') args.writeMd = true;
    else if (a === '--out' && argv[i + 1]) args.out = path.resolve(argv[++i]!);
    else {
      process.stderr.write(`unknown argument ${JSON.stringify(a)}; use --tiny, --write-md, --out DIR\n`);
      process.exit(2);
    }
  }
  return args;
}

const progress = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function hostMaps(): number {
  return (JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show'], { encoding: 'utf8', maxBuffer: 1 << 28 })) as unknown[]).length;
}

async function main(): Promise<void> {
  const { plan, out, writeMd } = parseArgs(process.argv.slice(2));
  mkdirSync(out, { recursive: true });
  const batchFile = path.join(out, `.bpftool-batch-${process.pid}`);
  const started = now();
  const phases: Record<string, number> = {};
  const phase = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    progress(name);
    const t = now();
    try {
      return await f();
    } finally {
      phases[name] = (now() - t) / 1000;
    }
  };

  const meta: BenchResults['meta'] = {
    mode: plan.mode,
    date: new Date().toISOString(),
    command: plan.mode === 'full' ? 'npm run bench' : 'npm run bench -- --tiny',
    seed: plan.seed,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    cpu: `${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} cores)`,
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    bpftool: sh('bpftool', ['version']).split('\n')[0] ?? 'unknown',
    hostMapsAtStart: hostMaps(),
    loadAverage: { start: Math.round(os.loadavg()[0]! * 100) / 100, end: Number.NaN },
    durationS: 0,
    phasesS: phases,
  };

  const pool = new MapPool(plan.seed);
  const pipeline = new AgentPipeline();
  const floors = openFloors();
  const scale: ScaleResult[] = [];
  const running: RunningResult[] = [];
  const exportSize: ExportSizeResult[] = [];
  const countMaps = async () => (await pipeline.collector.collect()).mapsSeen;
  try {
    // No benchmark maps yet: the running agents' baseline, then the count-cost map alone.
    running.push(
      ...(await phase('running agent, no benchmark maps', () => measureRunningAgents(plan.running.intervalsS, plan.running.tunings, plan.running.baselineWindowS, 0, countMaps))),
    );
    const count = await phase('count cost against map size', () => measureCount(plan, pipeline, floors, batchFile));
    const heapBaselineBytes = retainedHeap();

    for (const n of plan.scales) {
      await phase(`create maps up to ${n}`, async () => pool.growTo(n));
      const s = await phase(`agent, floor and peers at ${n} maps`, () => measureScale(plan, pool, pipeline, floors, batchFile));
      s.retainedHeapBytes = retainedHeap();
      scale.push(s);
      if (plan.exportAt.includes(n)) exportSize.push(await phase(`export size at ${n} maps`, () => measureExportSize(pipeline, n)));
      if (plan.running.atMaps.includes(n)) {
        const r = await phase(`running agent at ${n} maps`, () => measureRunningAgents(plan.running.intervalsS, plan.running.tunings, plan.running.windowS, n, countMaps));
        running.push(...r);
        const e = exportSize.find((x) => x.benchMaps === n);
        if (e) e.wireLargestRequestBytes = Math.max(...r.map((x) => x.maxRequestBytes));
      }
    }
    // Scales only the running agent is measured at (the peers would take minutes there).
    for (const n of plan.running.atMaps.filter((x) => x > Math.max(...plan.scales))) {
      await phase(`create maps up to ${n}`, async () => pool.growTo(n));
      running.push(...(await phase(`running agent at ${n} maps`, () => measureRunningAgents(plan.running.intervalsS, plan.running.tunings, plan.running.windowS, n, countMaps))));
    }
    const worst = await phase('worst-case request size', async () => worstCaseExport(await pipeline.collector.collect()));
    const owners = await phase(`owners: ${pool.maps.length} maps held by ${plan.owners.processes} processes of ${plan.owners.fdsPerProcess} fds`, () => measureOwners(pool, plan.owners, out));
    meta.durationS = (now() - started) / 1000;
    meta.loadAverage.end = Math.round(os.loadavg()[0]! * 100) / 100;
    const results: BenchResults = { meta, scale, count, running, heapBaselineBytes, exportSize, worstCaseExport: worst, owners };

    const json = JSON.stringify(results, null, 2);
    const md = renderMarkdown(results);
    writeFileSync(path.join(out, `${meta.date.replace(/[:.]/g, '-')}.json`), json);
    writeFileSync(path.join(out, 'latest.json'), json);
    writeFileSync(path.join(out, 'latest.md'), md);
    process.stdout.write(md);
    if (writeMd) {
      updateBenchmarksMd(path.join(ROOT, 'BENCHMARKS.md'), md);
      progress('BENCHMARKS.md updated');
    }
    progress(`done in ${meta.durationS.toFixed(0)} s; results in ${out}`);
  } finally {
    closeFloors(floors);
    await pipeline.close();
    pool.closeAll();
    rmSync(batchFile, { force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
