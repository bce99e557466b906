// SPDX-License-Identifier: Apache-2.0
/**
 * What people use today, on the same maps: `bpftool -j map show` (lists maps, counts
 * nothing), a get-next-key walk from user space over every hash map (how exporters that
 * count entries do it), and `bpftool map dump` of every hash map (one bpftool process in
 * batch mode, so process start-up is paid once, not per map). Each returns its duration in
 * ms and what it found, so the harness can check the peers counted what the agent counted.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadAddon } from '../../src/native';
import type { BenchMap } from './maps';
import { now } from './stats';

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

/** `bpftool -j map show`: ms, and how many maps it listed. */
export async function bpftoolShow(): Promise<{ ms: number; maps: number }> {
  const t = now();
  const out = await run('bpftool', ['-j', 'map', 'show']);
  const ms = now() - t;
  return { ms, maps: (JSON.parse(out) as unknown[]).length };
}

/** A get-next-key walk over each map (fds already open; a peer would also open each by id). */
export async function walkCount(maps: readonly BenchMap[]): Promise<{ ms: number; entries: number }> {
  const ops = loadAddon().mapOps;
  const t = now();
  let entries = 0;
  for (const m of maps) entries += ops.countKeys(m.fd, m.keySize);
  return { ms: now() - t, entries };
}

/** `bpftool -j batch file F` with one `map dump id N` per map: ms, and entries dumped. */
export async function bpftoolDump(maps: readonly BenchMap[], batchFile: string): Promise<{ ms: number; entries: number }> {
  if (maps.length === 0) return { ms: 0, entries: 0 };
  writeFileSync(batchFile, maps.map((m) => `map dump id ${m.id}\n`).join(''));
  const t = now();
  const out = await run('bpftool', ['-j', 'batch', 'file', batchFile]);
  const ms = now() - t;
  let entries = 0;
  for (const cmd of JSON.parse(out) as Array<{ output: unknown[] }>) entries += cmd.output.length;
  return { ms, entries };
}
