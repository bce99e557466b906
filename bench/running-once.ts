// SPDX-License-Identifier: Apache-2.0
/**
 * Scenario 5 alone, once: the real agent at a 10 s interval over 1,000 benchmark maps for a
 * 60 s window (defaults), printed as JSON. For re-measuring one row when the full run's was
 * spoiled (another process's maps on the host):
 *   node --import tsx bench/running-once.ts
 */
import * as os from 'node:os';
import { MapPool } from './lib/maps';
import { DEFAULTS } from './lib/agent-process';
import { measureRunningAgents } from './scenarios/running';
import { execFileSync } from 'node:child_process';
async function main() {
  const pool = new MapPool(20240601);
  pool.growTo(1000);
  const count = async () => (JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show'], { maxBuffer: 1 << 28, encoding: 'utf8' })) as unknown[]).length;
  const load0 = os.loadavg()[0];
  const r = await measureRunningAgents([10], [DEFAULTS], 60, 1000, count);
  console.log(JSON.stringify({ load: [load0, os.loadavg()[0]], ...r[0], tuning: r[0]!.tuning.label }));
  pool.closeAll();
}
void main();
