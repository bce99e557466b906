// SPDX-License-Identifier: Apache-2.0
/**
 * `npm run bench:forecast`: the time-to-full forecast against Prometheus's predict_linear on
 * fill traces — synthetic ones from fixed seeds and real maps filled while the Collector reads
 * them — and the accuracy table of BENCHMARKS.md.
 *
 *   npm run bench:forecast                   full run (~1.5 min: the real maps fill in real time)
 *   npm run bench:forecast -- --write-md     ... and rewrites the table in BENCHMARKS.md
 *   npm run bench:forecast -- --tiny         the same in seconds (what the smoke test runs)
 *   npm run bench:forecast -- --seeds 51-100 synthetic traces from other seeds (held out: the
 *                                            table's are 1-50), to check a change is no fit to those
 *   npm run bench:forecast -- --synthetic    the synthetic traces only (no maps, no root, seconds)
 *   npm run bench:forecast -- --out DIR      where results go (default bench/results/)
 *
 * Results: DIR/forecast-latest.json and DIR/forecast-latest.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderForecastMarkdown, updateForecastMd } from './forecast-report';
import { forecastPlan, type ForecastResults, measureReal, measureSynthetic } from './scenarios/forecast';

const ROOT = path.join(__dirname, '..');

async function main(): Promise<void> {
  let mode: 'full' | 'tiny' = 'full';
  let writeMd = false;
  let seeds: { seed: number; seeds: number } | undefined;
  let real = true;
  let out = path.join(ROOT, 'bench', 'results');
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--tiny') mode = 'tiny';
    else if (a === '--write-md') writeMd = true;
    else if (a === '--synthetic') real = false;
    else if (a === '--seeds' && argv[i + 1]) seeds = seedRange(argv[++i]!);
    else if (a === '--out' && argv[i + 1]) out = path.resolve(argv[++i]!);
    else {
      process.stderr.write(`unknown argument ${JSON.stringify(a)}; use --tiny, --write-md, --seeds FIRST-LAST, --synthetic, --out DIR\n`);
      process.exit(2);
    }
  }
  if (writeMd && (seeds || !real)) {
    // The table in BENCHMARKS.md is the one of seeds 1-50 and the real maps.
    process.stderr.write('--write-md takes neither --seeds nor --synthetic\n');
    process.exit(2);
  }
  mkdirSync(out, { recursive: true });
  const plan = { ...forecastPlan(mode), ...seeds };
  // The command as the table names it: what shaped the figures, not where they were written.
  const flags = [...(mode === 'tiny' ? ['--tiny'] : []), ...(seeds ? ['--seeds', `${plan.seed}-${plan.seed + plan.seeds - 1}`] : []), ...(real ? [] : ['--synthetic'])];
  const started = Date.now();
  process.stderr.write(`[forecast] synthetic traces, seeds ${plan.seed}..${plan.seed + plan.seeds - 1}\n`);
  const synthetic = measureSynthetic(plan);
  if (real) process.stderr.write('[forecast] real maps filling\n');
  const maps = real ? await measureReal(plan) : [];
  const results: ForecastResults = {
    meta: {
      mode,
      date: new Date().toISOString(),
      command: ['npm run bench:forecast', ...(flags.length ? ['--', ...flags] : [])].join(' '),
      seeds: `seeds ${plan.seed}–${plan.seed + plan.seeds - 1}`,
      node: process.version,
      kernel: `${os.type()} ${os.release()}`,
      durationS: (Date.now() - started) / 1000,
    },
    traces: [...synthetic, ...maps],
  };
  const md = renderForecastMarkdown(results);
  writeFileSync(path.join(out, 'forecast-latest.json'), JSON.stringify(results, null, 2));
  writeFileSync(path.join(out, 'forecast-latest.md'), md);
  process.stdout.write(md);
  if (writeMd) updateForecastMd(path.join(ROOT, 'BENCHMARKS.md'), md);
}

/** "51-100": seeds 51 to 100. */
function seedRange(arg: string): { seed: number; seeds: number } {
  const m = /^(\d+)-(\d+)$/.exec(arg);
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (!m || !(first >= 1) || !(last >= first)) {
    process.stderr.write(`--seeds ${JSON.stringify(arg)}: want FIRST-LAST, 1 <= FIRST <= LAST\n`);
    process.exit(2);
  }
  return { seed: first, seeds: last - first + 1 };
}

main().catch((e: Error) => {
  process.stderr.write(`bench:forecast failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
