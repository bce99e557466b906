// SPDX-License-Identifier: Apache-2.0
// Who owns each map, on the real kernel, against the truth: the fds of every process through
// /proc (as lsof finds them, independently of the agent's iter/task_file), `bpftool prog show`'s
// map_ids, and the pins and cgroups the tests make. The QEMU guests run the same file;
// Kubernetes and privileges are in owners-kubernetes.test.ts.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { MapStats } from '../../src/collector';
import { runBuiltCli } from '../helpers/cli';
import { fixtures } from '../helpers/fixtures';
import { createMap, find, holdMapInChild, mapOps } from '../helpers/kernel';
import { bpftoolProgMaps, cgroupDir, holdMapById, ownersCollector, pinDir, procMapHolders } from '../helpers/owners';

// One collector with owners for the whole file: loading the iterators (and parsing the
// kernel's BTF for each) is what costs most in an emulated guest, not a collection.
const shared = ownersCollector();
t.teardown(() => shared.close());
const collectOwners = async () => shared.withFreshOwners(await shared.collect());
// Minutes in an emulated guest (each child and CLI run starts node there).
t.setTimeout(1_800_000);

const pids = (m: MapStats | undefined) => (m?.owners?.processes ?? []).map((p) => p.pid).sort((a, b) => a - b);

t.test('a child in its own cgroup holds a map: its pid, comm, executable, and no container', async (t) => {
  const cg = cgroupDir(t, 'plain');
  const held = await holdMapInChild(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, name: 'own_child' });
  cg.move(held.child.pid!);
  const c = await collectOwners();
  const m = find(c, held.id);
  t.ok(m, 'the map is seen');
  t.same(pids(m), [...(procMapHolders().get(held.id) ?? [])].sort(), 'the holders are those /proc lists');
  const o = m?.owners?.processes?.[0];
  t.equal(o?.pid, held.child.pid, 'the child');
  t.equal(o?.via, 'map', 'which holds the map itself');
  t.equal(o?.executable, path.basename(process.execPath), 'executable: the base name of node');
  t.equal(o?.comm, readComm(held.child.pid!), 'comm as /proc/<pid>/comm says');
  t.equal(o?.containerId, null, 'a cgroup that no runtime named: no container');
  t.equal(o?.podUid, null, 'and no pod');
  t.same(m?.owners?.pins, [], 'not pinned');
  t.equal(m?.owners?.unknown ?? null, null, 'every part known');
});

function readComm(pid: number): string {
  return execFileSync('cat', [`/proc/${pid}/comm`], { encoding: 'utf8' }).trim();
}

t.test('the map passed to a second process and the first exiting: owners follow within one collection', async (t) => {
  const first = await holdMapInChild(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 4, name: 'own_passed' });
  const collector = shared;
  await collector.collect(); // starts a pass
  await collector.owners!.settled();
  const second = await holdMapById(t, first.id);
  await first.kill();
  t.same([...(procMapHolders().get(first.id) ?? [])], [second.child.pid], 'truth: only the second holds it now');
  // The next collection starts the pass that sees the change; the one after carries it.
  await sleep(150);
  const during = await collector.collect();
  t.ok(find(during, first.id), 'the map lives on');
  await collector.owners!.settled();
  await sleep(150);
  const after = await collector.collect();
  t.same(pids(find(after, first.id)), [second.child.pid], 'owners: the second process, not the first');
});

t.test('a program attached with a pinned link whose loader exited: the map is attributed to the program and the pin', async (t) => {
  const dir = pinDir(t, 'link');
  const pin = path.join(dir, 'own_link');
  const made = fixtures().pinnedIterLink(pin);
  const truth = procMapHolders().get(made.mapId);
  t.equal(truth, undefined, 'truth: no process holds the map');
  t.ok(bpftoolProgMaps().get(made.progId)?.mapIds.includes(made.mapId), 'truth: bpftool prog show lists the map under the program');
  const c = await collectOwners();
  const m = find(c, made.mapId);
  t.same(m?.owners?.programs?.map((p) => [p.id, p.name, p.type]), [[made.progId, 'own_link_prog', 'tracing']], 'its program');
  t.same(m?.owners?.pins, [pin], "and the link's pin");
  t.same(m?.owners?.processes, [], 'no process: the pin holds it');
  t.equal(m?.owners?.unknown ?? null, null, 'and that is known, not "unknown"');
});

t.test('a program using 40 maps (more than one read of its map pointers): every map lists it, read by iter/bpf_prog where the kernel has it', async (t) => {
  // The truth about the kernel: a minimal iter/bpf_prog program loads (5.9+) or not.
  const iterator = fixtures().probeIterator('bpf_prog') === 0;
  if (iterator) t.equal(shared.owners!.support.programs, null, "the agent's iter/bpf_prog loads wherever a minimal one does");
  t.comment(`path: programs read by ${iterator ? 'iter/bpf_prog' : 'BPF_PROG_GET_NEXT_ID (no iter/bpf_prog here)'}`);
  const made = fixtures().programUsingMaps(40);
  t.teardown(() => {
    for (const fd of [made.progFd, ...made.mapFds]) mapOps().close(fd);
  });
  t.same([...(bpftoolProgMaps().get(made.progId)?.mapIds ?? [])].sort((a, b) => a - b), [...made.mapIds].sort((a, b) => a - b), 'truth: bpftool lists all 40 under the program');
  const c = await collectOwners();
  const missing = made.mapIds.filter((id) => !find(c, id)?.owners?.programs?.some((p) => p.id === made.progId));
  t.same(missing, [], 'each of the 40 maps names the program');
});

t.test('a pinned map with no holder: its pin, and no process', async (t) => {
  const dir = pinDir(t, 'map');
  const pin = path.join(dir, 'own_pinned');
  const m0 = createMap(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4, name: 'own_pinned' });
  mapOps().pin(m0.fd, pin);
  m0.close();
  t.equal(procMapHolders().get(m0.id), undefined, 'truth: nobody holds it');
  const c = await collectOwners();
  const m = find(c, m0.id);
  t.same(m?.owners?.pins, [pin], 'the pin path');
  t.same(m?.owners?.processes, [], 'no process');
  t.same(m?.owners?.programs, [], 'no program');
});

t.test("bpftrace's maps: attributed to bpftrace and its programs", async (t) => {
  t.ok(existsSync('/usr/bin/bpftrace') || existsSync('/usr/sbin/bpftrace'), 'bpftrace is installed (scripts/test.sh installs it)');
  const bt = spawn('bpftrace', ['-e', 'tracepoint:syscalls:sys_enter_getppid { @own_calls[comm] = count(); }'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void bt.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    bt.stdout!.on('data', (d: Buffer) => d.toString().includes('Attaching') && resolve());
    bt.once('exit', (code) => reject(new Error(`bpftrace exited with ${code}`)));
  });
  await sleep(500);
  const truth = procMapHolders();
  const ours = [...truth].filter(([, pids]) => pids.has(bt.pid!)).map(([id]) => id);
  t.ok(ours.length > 0, `truth: bpftrace holds ${ours.length} maps`);
  const c = await collectOwners();
  const progs = bpftoolProgMaps();
  for (const id of ours) {
    const m = find(c, id);
    t.ok(m?.owners?.processes?.some((p) => p.pid === bt.pid && p.comm === 'bpftrace'), `map ${id} (${m?.name}): owned by bpftrace[${bt.pid}]`);
    const using = [...progs].filter(([, p]) => p.mapIds.includes(id)).map(([pid]) => pid).sort();
    t.same(m?.owners?.programs?.map((p) => p.id).sort(), using, `map ${id}: the programs bpftool prog show lists`);
  }
});

t.test('snapshot names the owner of every map /proc names one for, and the programs bpftool lists', async (t) => {
  await holdMapInChild(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, name: 'own_every' });
  const before = procMapHolders();
  const progsBefore = bpftoolProgMaps();
  const r = await runBuiltCli(['snapshot', '--output', 'json', '--pressure.snapshot-interval=0']);
  const after = procMapHolders();
  const progsAfter = bpftoolProgMaps();
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { maps: Array<{ id: number; owners: Array<{ pid: number }> | null; programs: Array<{ id: number }> | null }> };
  let compared = 0;
  for (const m of out.maps) {
    // Only what stood still while the snapshot ran (other tests come and go).
    const b = [...(before.get(m.id) ?? [])].sort().join();
    if (b !== [...(after.get(m.id) ?? [])].sort().join() || !b) continue;
    compared++;
    const direct = (m.owners ?? []).map((o) => o.pid).sort().join();
    t.equal(direct, b, `map ${m.id}: the holders /proc lists`);
  }
  t.ok(compared > 0, `${compared} held maps compared`);
  // Programs loaded for the whole time (the snapshot's own come and go with it).
  const steady = [...progsBefore.keys()].filter((id) => progsAfter.has(id));
  const wrong: string[] = [];
  for (const m of out.maps) {
    const want = steady.filter((id) => progsBefore.get(id)!.mapIds.includes(m.id) && progsAfter.get(id)!.mapIds.includes(m.id)).sort().join();
    const got = (m.programs ?? []).map((p) => p.id).filter((id) => steady.includes(id)).sort().join();
    if (got !== want) wrong.push(`map ${m.id}: ${got} != ${want}`);
  }
  t.same(wrong, [], "every map's programs are those bpftool prog show lists");
});
