// SPDX-License-Identifier: Apache-2.0
// Smoke test of the forecast benchmark (bench/forecast.ts) in its tiny mode, on real maps: it
// runs, scores every trace for both forecasters, the table it prints is the one rendered from
// its results, and what holds whatever the machine's speed: the real maps' traces follow their
// fill plans, and on every trace with collections where the map is not growing our forecast is
// quiet more often than predict_linear.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { BEGIN, END, renderForecastMarkdown, updateForecastMd } from '../bench/forecast-report';
import type { ForecastResults } from '../bench/scenarios/forecast';

const ROOT = path.join(__dirname, '..');

function runTiny(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bench', 'forecast.ts'), '--tiny', '--out', out],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const share = (v: number | null) => v === null || (v >= 0 && v <= 1);

t.test('npm run bench:forecast -- --tiny: every trace, both forecasters, the table from the results', async (t) => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'prs-forecast-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const run = await runTiny(out);
  t.equal(run.code, 0, `exits 0; stderr:\n${run.stderr}`);
  if (run.code !== 0) return;
  const r = JSON.parse(readFileSync(path.join(out, 'forecast-latest.json'), 'utf8')) as ForecastResults;
  t.equal(r.meta.mode, 'tiny');
  t.same(
    r.traces.map((x) => x.name),
    ['linear', 'grow → plateau', 'grow → plateau → grow', 'sawtooth', 'noisy flat', 'accelerating', 'real map, fixed rate', 'real map, changing rate'],
    'every trace of the issue',
  );
  for (const x of r.traces) {
    for (const f of [x.figures.ours, x.figures.predict_linear]) {
      t.ok(share(f.hit) && share(f.quiet), `${x.name}: shares are shares`);
      t.ok(f.medianError === null || (f.worstError !== null && f.worstError >= f.medianError), `${x.name}: worst ≥ median`);
    }
    t.ok(x.figures.ours.growing + x.figures.ours.notGrowing > 0, `${x.name}: collections were scored`);
    if (x.figures.ours.quiet !== null) t.ok(x.figures.ours.quiet > x.figures.predict_linear.quiet!, `${x.name}: ours is quiet when the map is not growing more often (${x.figures.ours.quiet} > ${x.figures.predict_linear.quiet})`);
  }
  for (const name of ['real map, fixed rate', 'real map, changing rate']) {
    const x = r.traces.find((y) => y.name === name)!;
    const steps = x.steps!;
    t.ok(steps.length >= 10, `${name}: ${steps.length} collections`);
    t.ok(steps.every((s, i) => i === 0 || s.v >= steps[i - 1]!.v), `${name}: the fill never went down (the filler only inserts)`);
    t.equal(steps.at(-1)!.v, 500, `${name}: filled to its max_entries`);
  }
  const changing = r.traces.find((y) => y.name === 'real map, changing rate')!;
  t.ok(changing.figures.ours.notGrowing > 0, 'the changing trace has plateaus');

  const md = readFileSync(path.join(out, 'forecast-latest.md'), 'utf8');
  t.equal(run.stdout, md, 'printed what it wrote');
  t.equal(renderForecastMarkdown(r), md, 'the table is rendered from the results');
  const doc = path.join(out, 'doc.md');
  writeFileSync(doc, `# x\n\n${BEGIN}\nold\n${END}\n\nafter\n`);
  updateForecastMd(doc, md);
  t.equal(readFileSync(doc, 'utf8'), `# x\n\n${BEGIN}\n${md}${END}\n\nafter\n`, '--write-md replaces only the generated part');
});
