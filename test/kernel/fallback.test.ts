// SPDX-License-Identifier: Apache-2.0
// Exact counts without bpf_map_sum_elem_count (kernels < 6.6), forced on any kernel with
// useKfunc: false: the kernel's own counter where it keeps one, else an in-kernel element
// walk, bounded per collection, holding nothing between collections.
//
// Two paths, decided by a probe of the kernel (it loads an iter/bpf_map_elem program or not),
// and named in the output: where the kernel runs walks, the walks are asserted; where it
// refuses them (EPERM at load, as hardened kernels do), the documented fallback is: those
// maps report no entries, say why (walk_unsupported), and no walk is attempted. The QEMU
// guests run this same file, so walks stay proven on 5.10, 6.1, 6.12 and 7.2.
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { Collector, type MapStats } from '../../src/collector';
import type { CountMethod } from '../../src/records';
import { startAgent } from '../helpers/agent-process';
import { features, kernelRelease } from '../helpers/features';
import { bpftoolDumpCount, bpftoolShow, collectOnce, createMap, F_NO_PREALLOC, fill, find, mapOps, type TestMap, u32, WALK_EVERY_MAP } from '../helpers/kernel';

const percpuCounter = features.percpuCounter();
const elements = features.walkElements();
const walks = elements === 'loads';
t.comment(
  walks
    ? `path: element walks (${kernelRelease()} loads iter/bpf_map_elem programs)`
    : `path: walk fallback (${kernelRelease()}: iter/bpf_map_elem ${elements}), asserting walk_unsupported`,
);
const REFUSED = elements === 'refused' ? /which this kernel does not run: this kernel refuses iter\/bpf_map_elem programs \(EPERM/ : /which this kernel does not run: this kernel has no iter\/bpf_map_elem/;

/** A map that needs a walk on a kernel that will not run it: uncounted, and says why. */
function assertUnsupported(t: tap.Test, got: MapStats | undefined, label: string): void {
  t.equal(got?.countMethod, 'none', `${label}: not counted`);
  t.equal(got?.entries, null, `${label}: no entries, never a guess`);
  t.equal(got?.utilization, null, `${label}: no utilization`);
  t.equal(got?.notCountedReason, 'walk_unsupported', `${label}: reason walk_unsupported`);
  t.match(got?.notCounted, REFUSED, `${label}: says what the kernel refuses`);
  t.equal(got?.countAgeMs, null, `${label}: no walk age`);
  t.equal(got?.countStale, false, `${label}: not stale`);
}
// Above 2 * 32 * CPUs a non-preallocated hash map counts per CPU (6.1+), not in htab->count.
const BIG = 64 * os.cpus().length + 64;

t.test('without the kfunc, hash maps are counted exactly by the kernel counter or a walk', async (t) => {
  const cases: Array<{ label: string; type: string; max: number; flags: number; fill: number; method: CountMethod }> = [];
  for (const type of ['hash', 'percpu_hash', 'lru_hash', 'lru_percpu_hash'])
    for (const n of [0, 1, 40]) cases.push({ label: `${type} ${n}`, type, max: 64, flags: 0, fill: n, method: 'walk' });
  for (const type of ['hash', 'percpu_hash']) {
    for (const n of [0, 1, 40]) cases.push({ label: `${type} no_prealloc ${n}`, type, max: 64, flags: F_NO_PREALLOC, fill: n, method: 'kernel_counter' });
    cases.push({ label: `${type} no_prealloc, ${BIG} entries max`, type, max: BIG, flags: F_NO_PREALLOC, fill: 50, method: percpuCounter ? 'walk' : 'kernel_counter' });
  }
  const made = cases.map((c) => {
    const m = createMap(t, { type: c.type, keySize: 4, valueSize: 8, maxEntries: c.max, flags: c.flags, name: 'fb_hash' });
    fill(m, 4, 8, c.fill);
    return { ...c, m };
  });
  // Large enough a budget for every map on the host: all are walked in this one collection.
  const col = await collectOnce({ useKfunc: false, walkMaxEntries: 1e12, walkBudgetMs: 60_000 });
  t.equal(col.walkError, null, 'no walk failed');
  if (walks) {
    t.equal(col.walkUnsupported, null, 'the kernel runs every walk program the agent needs here');
  } else {
    t.equal(col.walkUnsupported?.code, 'EMP_WALK_UNSUPPORTED', 'the refusal is reported, with its code');
    t.match(col.walkUnsupported?.message, /iter\/bpf_map_elem.*Hash maps without a kernel counter \(preallocated and LRU ones\) are not counted/, 'naming the program and what it costs');
    t.equal(col.walks, 0, 'and no walk is attempted');
  }
  for (const x of made) {
    const got = find(col, x.m.id);
    const held = bpftoolDumpCount(x.m.id);
    if (!x.type.startsWith('lru')) t.equal(held, x.fill, `${x.label}: the map holds what was inserted`);
    if (x.method === 'walk' && !walks) {
      assertUnsupported(t, got, x.label);
      continue;
    }
    t.equal(got?.countMethod, x.method, `${x.label}: counted by ${x.method}`);
    t.equal(got?.entries, held, `${x.label}: entries`);
    t.equal(got?.utilization, held / x.max, `${x.label}: utilization`);
    t.equal(got?.countStale, false, `${x.label}: current`);
    t.equal(got?.countAgeMs, x.method === 'walk' ? 0 : null, `${x.label}: count age`);
  }
});

t.test('hash_of_maps: the counter when not preallocated, else not countable (no element iterator)', async (t) => {
  const inner = createMap(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
  const maps = [0, F_NO_PREALLOC].map((flags) => {
    const m = createMap(t, { type: 'hash_of_maps', keySize: 4, valueSize: 4, maxEntries: 8, flags, innerMapFd: inner.fd, name: 'fb_hom' });
    for (let k = 0; k < 3; k++) mapOps().update(m.fd, u32(k), u32(inner.fd));
    return { flags, m };
  });
  const col = await collectOnce({ useKfunc: false });
  const [prealloc, counted] = maps.map(({ m }) => find(col, m.id));
  t.equal(prealloc?.countMethod, 'none');
  t.equal(prealloc?.entries, null);
  t.match(prealloc?.notCounted, /no kernel counter and no element iterator/);
  t.equal(counted?.countMethod, 'kernel_counter');
  t.equal(counted?.entries, 3);
});

t.test('walk.enabled false: maps that need a walk are not counted, and say so', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, name: 'fb_nowalk' });
  fill(m, 4, 8, 3);
  const col = await collectOnce({ useKfunc: false, walk: false });
  const got = find(col, m.id);
  t.equal(col.walks, 0, 'no walk made');
  t.equal(got?.countMethod, 'none');
  t.equal(got?.entries, null);
  t.equal(got?.notCountedReason, 'walk_disabled');
  t.match(got?.notCounted, /walk\.enabled is false/);
  t.equal(col.walkUnsupported, null, 'with walks off, no walk program is loaded, so none is refused');
});

t.test('the walk budget: one map a collection, the others stale or deferred, each counted in turn', async (t) => {
  // A budget of 1 entry: each collection walks the one map counted longest ago (at least one
  // map is always walked), so every map comes round, whatever else is on the host.
  const maps: TestMap[] = [];
  for (const n of [5, 6, 7]) {
    const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'fb_budget' });
    fill(m, 4, 8, n);
    maps.push(m);
  }
  const collector = new Collector({ reader: { useKfunc: false, walkMaxEntries: 1, readMemory: false } });
  t.teardown(() => collector.close());
  if (!walks) {
    // Nothing to schedule: every collection reports the maps uncounted, none stale or deferred.
    for (let i = 0; i < 3; i++) {
      const col = await collector.collect();
      t.equal(col.walks, 0, `collection ${i}: no walk`);
      for (const m of maps) assertUnsupported(t, find(col, m.id), `collection ${i}, map ${m.id}`);
    }
    return;
  }
  const lastWalk = new Map<number, number>(); // id -> entries its last walk found
  let stale = 0;
  let deferred = 0;
  let changedAt = -1; // collection after which the first map got 10 more entries
  let seenChange = false;
  for (let i = 0; i < 2000 && (lastWalk.size < maps.length || !seenChange); i++) {
    const col = await collector.collect();
    t.equal(col.walks, 1, `collection ${i}: exactly one walk`);
    for (const m of maps) {
      const got = find(col, m.id)!;
      t.equal(got.countMethod, 'walk', 'counted by walks');
      if (got.countAgeMs === 0) {
        t.equal(got.countStale, false, 'a fresh walk is not stale');
        t.equal(got.entries, bpftoolDumpCount(m.id), 'a fresh walk is exact');
        if (m === maps[0] && changedAt >= 0) seenChange = true;
        lastWalk.set(m.id, got.entries!);
      } else if (got.countStale) {
        stale++;
        t.ok(got.countAgeMs! > 0, 'a stale count has an age');
        t.equal(got.entries, lastWalk.get(m.id), "a stale count is the last walk's");
        t.equal(got.notCounted, null);
      } else {
        deferred++;
        t.notOk(lastWalk.has(m.id), 'deferred only until first counted');
        t.equal(got.entries, null);
        t.match(got.notCounted, /deferred by the walk budget/);
      }
    }
    // Once the first map has a count, change it: stale counts keep the old figure until
    // its next walk, which must see the change.
    if (changedAt < 0 && lastWalk.has(maps[0]!.id)) {
      fill(maps[0]!, 4, 8, 10, 1000);
      changedAt = i;
    }
  }
  t.equal(lastWalk.size, maps.length, 'every map was walked');
  t.ok(seenChange, 'a later walk saw the change');
  t.equal(lastWalk.get(maps[0]!.id), 15, 'with its new count');
  t.ok(stale > 0, `stale counts were reported (${stale})`);
  t.comment(`deferred reports: ${deferred}`);
});

t.test('a walk holds nothing: no map fd stays open, and a walked map is freed when its owner closes it', async (t) => {
  const mapFds = () => readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(path.join('/proc/self/fd', fd)) === 'anon_inode:bpf-map';
    } catch {
      return false;
    }
  }).length;
  const collector = new Collector({ reader: { ...WALK_EVERY_MAP, useKfunc: false } });
  t.teardown(() => collector.close());
  const m = createMap(t, { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 32, name: 'fb_freed' });
  fill(m, 4, 8, 9);
  // The walk programs are loaded with the reader: its own maps are open from there on.
  const first = find(await collector.collect(), m.id);
  if (walks) t.equal(first?.countMethod, 'walk', 'walked');
  else assertUnsupported(t, first, 'refused walk');
  const before = mapFds();
  for (let i = 0; i < 3; i++) {
    const got = find(await collector.collect(), m.id);
    if (walks) t.equal(got?.countAgeMs, 0, 'walked again');
    else t.equal(got?.notCountedReason, 'walk_unsupported', 'still not walked');
  }
  t.equal(mapFds(), before, walks ? 'walks leave no map fd open' : 'collections leave no map fd open');
  m.close();
  let gone = false;
  for (let i = 0; i < 200 && !gone; i++) {
    gone = !bpftoolShow().some((x) => x.id === m.id);
    if (!gone) await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(gone, 'the kernel freed the map');
  t.equal(find(await collector.collect(), m.id), undefined, 'and it is no longer reported');
});

t.test('without CAP_SYS_ADMIN a walk fails with EMP_WALK_FAILED, and the map says why', async (t) => {
  // The child runs the built agent (dist/, as `npm run build` leaves it): plain node starts
  // in seconds in an emulated guest, node with a TypeScript loader in a minute and more.
  const child = path.join(__dirname, '..', 'helpers', 'walk-child.js');
  const out = execFileSync('capsh', ['--drop=cap_sys_admin', '--', '-c', `exec "${process.execPath}" "${child}"`], {
    encoding: 'utf8',
  });
  const got = JSON.parse(out) as {
    walkError: { code: string; errno: number } | null;
    walkUnsupported: { code: string } | null;
    countMethod: string;
    entries: number | null;
    notCounted: string;
    notCountedReason: string;
  };
  t.equal(got.countMethod, 'none');
  t.equal(got.entries, null);
  if (walks) {
    t.equal(got.walkError?.code, 'EMP_WALK_FAILED');
    t.equal(got.walkError?.errno, -1, 'EPERM');
    t.equal(got.notCountedReason, 'walk_failed');
    t.match(got.notCounted, /CAP_SYS_ADMIN/);
  } else {
    // The kernel refuses the program before any map is opened: a missing feature, not a failure.
    t.equal(got.walkError, null, 'no walk failed: none was possible');
    t.equal(got.walkUnsupported?.code, 'EMP_WALK_UNSUPPORTED');
    t.equal(got.notCountedReason, 'walk_unsupported');
    t.match(got.notCounted, REFUSED);
  }
});

t.test('the agent says once, at start, what the kernel refuses and what it costs', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, name: 'fb_agent' });
  fill(m, 4, 8, 4);
  const { agent, lines } = await startAgent(t, ['--exporters=none', '--interval=100ms', '--counting.kfunc=false', '--filter.include-names=fb_agent']);
  let collections = 0;
  agent.onCollection(() => collections++);
  while (collections < 5) await new Promise((r) => setTimeout(r, 20));
  const warned = lines.filter((l) => l.includes('code=EMP_WALK_UNSUPPORTED'));
  const got = find(agent.latest()!, m.id);
  if (walks) {
    t.same(warned, [], 'nothing to warn about where the kernel runs walks');
    t.equal(got?.entries, 4, 'and the map is walked');
  } else {
    t.equal(warned.length, 1, `one warning over ${collections + 1} collections`);
    t.match(warned[0], /^\S+ warn /, 'at warn level');
    t.match(warned[0], /iter\/bpf_map_elem/, 'naming what was refused');
    t.match(warned[0], /are not counted/, 'and what it costs');
    t.ok(lines.indexOf(warned[0]!) < lines.findIndex((l) => l.includes('agent started')), 'before "agent started"');
    assertUnsupported(t, got, 'the map');
  }
});
