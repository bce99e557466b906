// SPDX-License-Identifier: Apache-2.0
// Smoke test of the benchmark harness (bench/): the whole run in its tiny mode, on real maps,
// then the shape of what it wrote. No figure is asserted (speed is the harness's business);
// what is asserted is what must hold however fast the machine is: every scenario ran, the
// peers counted what the agent reported, the agent reported what the maps hold, and the
// tables printed are the ones rendered from the results file.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import type { BenchResults } from '../bench/lib/results';
import { BEGIN, END, renderMarkdown, targets, updateBenchmarksMd } from '../bench/report';

const ROOT = path.join(__dirname, '..');

function runTiny(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', path.join(ROOT, 'bench', 'main.ts'), '--tiny', '--out', out],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const positive = (v: number) => Number.isFinite(v) && v > 0;

t.test('npm run bench -- --tiny: every scenario, and results of the right shape', async (t) => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'emp-bench-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const run = await runTiny(out);
  t.equal(run.code, 0, `the harness exits 0; stderr:\n${run.stderr}`);
  if (run.code !== 0) return;

  const r = JSON.parse(readFileSync(path.join(out, 'latest.json'), 'utf8')) as BenchResults;
  t.equal(r.meta.mode, 'tiny');
  t.match(r.meta, { kernel: /^Linux /, node: process.version, seed: Number, cores: Number });
  t.ok(r.meta.hostMapsAtStart >= 0);

  t.same(r.scale.map((s) => s.benchMaps), [20, 60], 'both tiny scales');
  for (const s of r.scale) {
    t.ok(s.mapsSeen >= s.benchMaps, `${s.benchMaps} maps: the agent saw at least the benchmark's maps`);
    for (const [name, l] of Object.entries({ ...s.agent, floor: s.floor, floorMemory: s.floorMemory })) {
      t.ok(positive(l.median) && l.p99 >= l.median && l.n === s.reps, `${s.benchMaps} maps: ${name} has a median, a p99 and n`);
    }
    t.ok(positive(s.perMapUs.median) && positive(s.agentOverFloor) && positive(s.agentOverFloorMemory), 'per-map figure and ratios');
    t.ok(s.points > s.benchMaps && s.requestBytes > 0, 'points and request bytes');
    const p = s.peers;
    t.ok(p.hashMaps > 0 && p.hashMaps < s.benchMaps, 'some of the maps are hash maps');
    t.equal(p.walk.entries, p.agentEntries, `${s.benchMaps} maps: the get-next-key walk counted what the agent reported`);
    t.equal(p.dump.entries, p.agentEntries, `${s.benchMaps} maps: bpftool's dump counted what the agent reported`);
    t.ok(p.consistent);
    t.ok(p.bpftoolShow.maps >= s.benchMaps, 'bpftool listed the maps');
    t.ok(positive(p.agentCollect.median) && p.agentCollect.median <= p.agent.median, 'the collect stage is part of the cycle');
    for (const peer of [p.bpftoolShow, p.walk, p.dump]) t.ok(positive(peer.median) && positive(peer.overAgent) && peer.overCollect >= peer.overAgent, 'peer figure and ratios');
  }

  t.same(r.count.map((c) => c.entries), [0, 1000], 'the count scenario at each size');
  for (const c of r.count) {
    t.equal(c.reported, c.entries, `the agent reported ${c.entries} entries for the map holding ${c.entries}`);
    t.ok(positive(c.agent.median) && positive(c.floor.median) && positive(c.agentOverEmpty), 'count figures');
  }
  t.equal(r.count[0]!.agentOverEmpty, 1, 'the empty map is its own reference');

  t.same(r.running.map((x) => [x.benchMaps, x.intervalS, x.tuning.label]), [[0, 1, 'defaults'], [0, 1, 'scraped'], [60, 1, 'defaults'], [60, 1, 'scraped'], [80, 1, 'defaults'], [80, 1, 'scraped']], 'the running agent with no benchmark maps, at 60, and at 80 past the last scale (tiny: one interval), plain and scraped');
  for (const x of r.running) {
    t.ok(x.cpuPct >= 0 && x.cpuPctSchedstat > 0, 'CPU figures');
    t.ok(x.rssMedianBytes > 0 && x.rssMaxBytes >= x.rssMedianBytes && x.rssSamples >= 1, 'RSS figures');
    t.ok(x.requests >= 1 && x.maxRequestBytes > 0, 'the agent exported to the sink during the window');
    t.ok(x.mapsSeenMin <= x.mapsSeen && x.mapsSeen <= x.mapsSeenMax && x.mapsSeenMin >= x.benchMaps, 'maps seen during the window');
  }
  t.ok(positive(r.heapBaselineBytes ?? 0) && r.scale.every((s) => positive(s.retainedHeapBytes ?? 0)), 'retained heap figures (with --expose-gc)');

  t.equal(r.exportSize.length, 1);
  const e = r.exportSize[0]!;
  t.ok(e.requests >= 1 && e.largestRequestBytes <= e.unsplitBytes && positive(e.bytesPerPoint), 'export size figures');
  t.ok((e.wireLargestRequestBytes ?? 0) > 0, 'the sink saw the running agent\'s requests');
  t.ok(r.worstCaseExport.requestBytes > 0 && r.worstCaseExport.bytesPerPoint > e.bytesPerPoint, 'the worst case is heavier than the real maps');

  const o = r.owners;
  t.equal(o.attributed, o.maps, 'owners: every map names the process that holds it');
  t.equal(o.fds, 6 * 20, 'owners: the tiny plan\'s processes and fds');
  t.ok(o.firstPass.cgroupReads >= o.processes, 'owners: the first pass read each holder\'s cgroup');
  t.ok(positive(o.pass.changed.median) && positive(o.cycleCpu.on.median) && positive(o.cycleCpu.off.median), 'owners: pass and cycle figures');

  const md = readFileSync(path.join(out, 'latest.md'), 'utf8');
  t.equal(md, renderMarkdown(r), 'latest.md is rendered from latest.json');
  t.equal(run.stdout, md, 'what the harness printed is latest.md');
  for (const h of ['### 1–2.', '### 3.', '### 4.', '### 5.', '### 6.', '### 7.', '### Targets']) t.ok(md.includes(h), `section ${h}`);
  t.equal(targets(r).length, 7, 'every target has a row');
});

t.test('--write-md replaces only the generated part of BENCHMARKS.md', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'emp-bench-md-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'BENCHMARKS.md');
  writeFileSync(file, `# head\n\n${BEGIN}\nold tables\n${END}\n\n## reading\n`);
  updateBenchmarksMd(file, 'new tables\n');
  t.equal(readFileSync(file, 'utf8'), `# head\n\n${BEGIN}\nnew tables\n${END}\n\n## reading\n`);
  writeFileSync(file, '# no markers\n');
  t.throws(() => updateBenchmarksMd(file, 'x'), /no .* section/);
});

t.test('the committed BENCHMARKS.md has the generated section', async (t) => {
  const text = readFileSync(path.join(ROOT, 'BENCHMARKS.md'), 'utf8');
  t.ok(text.indexOf(BEGIN) >= 0 && text.indexOf(END) > text.indexOf(BEGIN), 'markers in order');
});
