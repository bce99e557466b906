#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * guest-lockup-repro.js - the kernel suite's soft lockup in a few minutes instead of a
 * whole suite: one process flips what the tests flip (a static key: the syscall tracepoint
 * the ring-buffer fixture attaches) while another creates and reads iterators as the
 * collector does (test/kernel/leak.test.ts: thousands of collections in a row).
 *
 * usage (as root, after `npm run build`), in a guest:
 *   scripts/vmrun.sh -k 6.1 -- node scripts/guest-lockup-repro.js [MODE] [SECONDS]
 *
 *   MODE  what the toggler flips, each round on then off:
 *         ringbuf    (default) load and attach test/fixtures' ring-buffer writer
 *                    (tp/syscalls/sys_enter_getppid), fire it once, destroy it: what
 *                    test/kernel/{memory,types}.test.ts do
 *         tracefs    enable and disable events/syscalls/sys_enter_getppid in tracefs: the same
 *                    static key and syscall work flag, without BPF
 *         schedstats write 1 and 0 to /proc/sys/kernel/sched_schedstats: a static key that
 *                    has nothing to do with system calls
 *         none       no toggling: the iterator load alone
 *   SECONDS  how long (default 180)
 *
 * Prints a progress line every 15 s (rounds and collections so far, the slowest of each) and a
 * last line "repro: MODE: N toggles, M collections in S s (slowest toggle X ms, slowest
 * collection Y ms)". A guest that locks up panics instead (vmrun.sh boots it with
 * softlockup_panic=1), with "soft lockup" and both CPUs' backtraces in the output.
 */
'use strict';
const { spawn } = require('node:child_process');
const { writeFileSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const MODES = ['ringbuf', 'tracefs', 'schedstats', 'none'];
const [role, ...rest] = process.argv[2] === '--reader' ? ['reader', ...process.argv.slice(3)] : ['main', ...process.argv.slice(2)];
const mode = rest[0] ?? 'ringbuf';
const seconds = Number(rest[1] ?? 180);
if (!MODES.includes(mode) || !(seconds > 0)) {
  console.error(`usage: guest-lockup-repro.js [${MODES.join('|')}] [SECONDS]`);
  process.exit(2);
}
const now = () => Number(process.hrtime.bigint() / 1000n) / 1000; // ms

/** One round of flipping on and off; returns nothing, throws on failure. */
function toggler() {
  switch (mode) {
    case 'ringbuf': {
      const { RingbufWriter } = require(path.join(ROOT, 'test/fixtures/build/Release/emp_fixtures.node'));
      return () => {
        const w = new RingbufWriter({ ringSize: 4096, recordSize: 8 });
        w.fire(1);
        w.close();
      };
    }
    case 'tracefs': {
      const f = '/sys/kernel/tracing/events/syscalls/sys_enter_getppid/enable';
      return () => {
        writeFileSync(f, '1');
        writeFileSync(f, '0');
      };
    }
    case 'schedstats': {
      const f = '/proc/sys/kernel/sched_schedstats';
      return () => {
        writeFileSync(f, '1');
        writeFileSync(f, '0');
      };
    }
    default:
      return () => new Promise((r) => setTimeout(r, 100));
  }
}

async function loop(label, once, report) {
  const end = now() + seconds * 1000;
  let n = 0;
  let slowest = 0;
  let next = now() + 15000;
  while (now() < end) {
    const t0 = now();
    await once();
    slowest = Math.max(slowest, now() - t0);
    n++;
    if (now() >= next) {
      console.log(`repro: ${label}: ${n} so far, slowest ${slowest.toFixed(0)} ms`);
      next += 15000;
    }
  }
  report(n, slowest);
}

async function main() {
  if (role === 'reader') {
    const { MapStatsReader } = require(path.join(ROOT, 'dist/native.js'));
    const reader = new MapStatsReader({});
    await loop('collections', () => reader.collect(), (n, slowest) => {
      reader.close();
      process.stdout.write(`${JSON.stringify({ n, slowest })}\n`);
    });
    return;
  }
  const start = now();
  const child = spawn(process.execPath, [__filename, '--reader', mode, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => {
    for (const line of d.toString().split('\n')) {
      if (line.startsWith('repro:')) console.log(line);
      else out += line;
    }
  });
  const readerDone = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const once = toggler();
  let toggles = 0;
  let slowestToggle = 0;
  await loop(`${mode} toggles`, once, (n, slowest) => {
    toggles = n;
    slowestToggle = slowest;
  });
  const code = await readerDone;
  if (code !== 0) throw new Error(`the reader exited with ${code}`);
  const r = JSON.parse(out);
  const secs = ((now() - start) / 1000).toFixed(0);
  console.log(`repro: ${mode}: ${toggles} toggles, ${r.n} collections in ${secs} s (slowest toggle ${slowestToggle.toFixed(0)} ms, slowest collection ${r.slowest.toFixed(0)} ms)`);
}

main().catch((e) => {
  console.error(`repro: ${e.stack ?? e}`);
  process.exit(1);
});
