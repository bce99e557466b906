// SPDX-License-Identifier: Apache-2.0
// The built CLI under setpriv with capabilities dropped (root's uid kept, so only the
// capabilities differ). What each call needs, as measured on Linux 6.18:
// - loading the iterator (BPF_PROG_LOAD of a tracing program, its maps and BTF): CAP_BPF and
//   CAP_PERFMON, both (either alone: EPERM), or CAP_SYS_ADMIN, which implies both;
// - creating and reading the iterator (BPF_LINK_CREATE, BPF_ITER_CREATE, read): nothing more;
//   it walks every map on the host from inside the kernel, so every map is listed;
// - bpf_map_sum_elem_count (a kfunc called by the program): nothing more;
// - memory (BPF_MAP_GET_FD_BY_ID, then fdinfo): CAP_SYS_ADMIN;
// - before 6.6, an element walk (BPF_MAP_GET_FD_BY_ID, then an iter/bpf_map_elem link):
//   CAP_SYS_ADMIN. Before 6.4, memory of the types with a formula is estimated from the
//   iterator's record, which needs nothing more.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { ERRORS } from '../../src/errors';
import { bpftoolRaw } from '../helpers/bpftool-names';
import { ROOT, runBuiltCli, STACK_TRACE } from '../helpers/cli';
import { features } from '../helpers/features';
import { bpftoolDumpCount, createMap, F_NO_PREALLOC, fill } from '../helpers/kernel';
import { assertMemory, estimatesMemory } from '../helpers/memory-truth';

/** setpriv keeping uid 0 with only these capabilities (none: []). */
const withCaps = (caps: string[]) => ['setpriv', '--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=-all${caps.map((c) => `,+${c}`).join('')}`, '--reuid=0', '--'];

const SNAPSHOT_JSON = ['snapshot', '--output', 'json', '--pressure.snapshot-interval=0'];

t.test('setpriv drops what it is told to (else these tests would prove nothing)', async (t) => {
  t.equal(process.getuid?.(), 0, 'the suite runs as root');
  const status = (caps: string[]) => execFileSync(withCaps(caps)[0]!, [...withCaps(caps).slice(1), 'grep', '^CapEff', '/proc/self/status'], { encoding: 'utf8' });
  t.match(status([]), /^CapEff:\s+0+$/m, 'no capability at all');
  // CAP_PERFMON is 38, CAP_BPF 39: bits 0xc0 of the high word.
  t.match(status(['bpf', 'perfmon']), /^CapEff:\s+000000c000000000$/m, 'exactly CAP_BPF and CAP_PERFMON');
});

t.test('without CAP_BPF/CAP_PERFMON: exit 1, EMP_PERMISSION and the hint', async (t) => {
  for (const caps of [[], ['bpf'], ['perfmon'], ['net_admin', 'sys_resource']]) {
    const what = caps.length ? `only ${caps.join('+')}` : 'no capabilities';
    const r = await runBuiltCli(SNAPSHOT_JSON, { wrapper: withCaps(caps) });
    t.equal(r.code, 1, `${what}: exit code 1`);
    t.match(r.stderr, /^error EMP_PERMISSION: EPERM: operation not permitted, bpf_prog_load/m, `${what}: the code, errno and call`);
    t.match(r.stderr, /^ {2}hint: .*CAP_BPF.*CAP_PERFMON/m, `${what}: the hint names the capabilities`);
    t.equal(r.stderr, `error EMP_PERMISSION: EPERM: operation not permitted, bpf_prog_load\n  hint: ${ERRORS.EMP_PERMISSION.fix}\n`, `${what}: the error and the README's advice, no libbpf lines`);
    t.notMatch(r.stderr, STACK_TRACE, `${what}: no stack trace`);
    t.equal(r.stdout, '', `${what}: no output`);
  }
});

t.test('the EPERM hint is the README\'s capability advice; libbpf\'s lines only at debug level', async (t) => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  t.match(readme, /^- Root, or CAP_SYS_ADMIN alone \(the measured smallest set with full function\)/m, 'the README: root or CAP_SYS_ADMIN alone');
  t.match(readme, /CAP_SYS_ADMIN alone is the smallest set with full function/, 'the README, Least privilege');
  t.match(ERRORS.EMP_PERMISSION.fix, /^Run as root, or grant CAP_SYS_ADMIN alone \(the smallest set with full function\)\. CAP_BPF \+ CAP_PERFMON .*counting\.memory: false/, 'the hint says the same');
  const r = await runBuiltCli([...SNAPSHOT_JSON, '--log.level=debug'], { wrapper: withCaps([]) });
  t.equal(r.code, 1);
  t.match(r.stderr, /^error EMP_PERMISSION: EPERM: operation not permitted, bpf_prog_load$/m, 'the first line: the code, errno and call');
  t.match(r.stderr, /^\S+ debug libbpf: .* code=EMP_PERMISSION$/m, 'libbpf\'s lines as debug log lines');
  t.notMatch(r.stderr, /^libbpf:/m, 'never bare in the error');
});

t.test('with CAP_BPF+CAP_PERFMON, without CAP_SYS_ADMIN: every map listed; what needs a map fd is said to', async (t) => {
  // Counting needs nothing more where the kfunc or a kernel counter does it (6.6+, or a
  // non-preallocated hash map on any kernel); before 6.6 a preallocated hash map needs an
  // element walk, which needs a map fd: CAP_SYS_ADMIN. Memory from fdinfo needs a map fd too;
  // before 6.4 the types with a formula are estimated from the iterator's record instead.
  const full = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 20, name: 'priv_full' });
  fill(full, 4, 8, 20);
  const some = createMap(t, { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'priv_some' });
  fill(some, 4, 8, 10);
  const counter = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 32, flags: F_NO_PREALLOC, name: 'priv_counter' });
  fill(counter, 4, 8, 7);
  const arr = createMap(t, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, name: 'priv_arr' });
  // No memory formula on any kernel: its memory is fdinfo's or nothing.
  createMap(t, { type: 'devmap', keySize: 4, valueSize: 4, maxEntries: 4, name: 'priv_dev' });

  const before = bpftoolRaw();
  const r = await runBuiltCli(SNAPSHOT_JSON, { wrapper: withCaps(['bpf', 'perfmon']) });
  const after = bpftoolRaw();
  t.equal(r.code, 0, `works; stderr: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as {
    memory_error: { code: string; hint: string } | null;
    walk_error: { code: string; hint: string } | null;
    walk_unsupported: { code: string; message: string } | null;
    maps: Array<{ id: number; name: string; type: string; entries: number | null; count_method: string; not_counted: string | null; not_counted_reason: string | null; memory_bytes: number | null; memory_estimated: boolean }>;
  };
  const ours = new Map(out.maps.map((m) => [m.id, m]));
  const missing = [...before.keys()].filter((id) => after.has(id) && !ours.has(id));
  t.same(missing, [], 'every map bpftool (as root) listed before and after is listed without CAP_SYS_ADMIN');
  t.equal(ours.get(arr.id)?.name, 'priv_arr');

  // Memory: never a made-up figure.
  t.equal(out.memory_error?.code, 'EMP_MEMORY_UNREADABLE', 'the output says memory is not readable, with its code');
  t.match(out.memory_error?.hint, /CAP_SYS_ADMIN/, 'and what would make it readable');
  const wrong = out.maps.filter((m) => (m.memory_bytes !== null) !== (m.memory_estimated && estimatesMemory(m.type)));
  t.same(wrong.map((m) => `${m.id} ${m.type}`), [], `memory only where estimated (${features.memUsage() ? 'none: 6.4+' : 'types with a formula: < 6.4'}), null elsewhere`);

  // Entries.
  t.equal(ours.get(counter.id)?.entries, 7, `non-preallocated hash counted (${ours.get(counter.id)?.count_method})`);
  // The walk programs load with CAP_BPF + CAP_PERFMON where the kernel runs them at all; a
  // kernel that refuses them refuses them to root too (walk_unsupported, not a failure).
  const walkPrograms = features.walkElements() === 'loads' && features.walkSockets() === 'loads';
  t.comment(`path: element-walk programs ${walkPrograms ? 'load' : `refused or absent (iter/bpf_map_elem ${features.walkElements()}, iter/sockmap ${features.walkSockets()})`}`);
  t.equal(out.walk_unsupported?.code ?? null, walkPrograms ? null : 'EMP_WALK_UNSUPPORTED', 'walk_unsupported says whether the kernel refuses a walk program');
  if (features.kfunc()) {
    // Other tests' sockmaps (which always need a walk) may be on the host meanwhile: only
    // those may be left to a walk.
    const walked = out.maps.filter((m) => m.not_counted_reason === 'walk_failed' || m.not_counted_reason === 'walk_unsupported');
    t.same(walked.filter((m) => m.type !== 'sockmap').map((m) => `${m.id} ${m.type}`), [], 'no hash map needs an element walk (6.6+)');
    if (!walked.some((m) => m.not_counted_reason === 'walk_failed')) t.equal(out.walk_error, null, 'and no walk failed');
    t.equal(ours.get(full.id)?.entries, 20, 'entries still counted (the kfunc needs no more)');
    t.equal(ours.get(some.id)?.entries, bpftoolDumpCount(some.id));
  } else if (!walkPrograms) {
    for (const m of [full, some]) {
      const got = ours.get(m.id);
      t.equal(got?.entries, null, `${got?.name}: not counted (< 6.6: needs a walk the kernel refuses)`);
      t.equal(got?.not_counted_reason, 'walk_unsupported', `${got?.name}: and says why`);
    }
  } else {
    t.equal(out.walk_error?.code, 'EMP_WALK_FAILED', 'the output says the walks failed, with its code');
    t.match(out.walk_error?.hint, /CAP_SYS_ADMIN/, 'and what would make them work');
    for (const m of [full, some]) {
      const got = ours.get(m.id);
      t.equal(got?.entries, null, `${got?.name}: not counted (< 6.6: needs a walk), never a guess`);
      t.match(got?.not_counted, /element walk.*failed.*CAP_SYS_ADMIN/, `${got?.name}: and says why`);
    }
  }

  const table = await runBuiltCli(['snapshot', '--pressure.snapshot-interval=0'], { wrapper: withCaps(['bpf', 'perfmon']) });
  t.equal(table.code, 0);
  t.match(table.stdout, /^memory not readable \(EMP_MEMORY_UNREADABLE\): .*CAP_SYS_ADMIN/m, 'the table says so too');
  if (!features.kfunc() && walkPrograms) t.match(table.stdout, /^\d+ maps? not counted \(EMP_WALK_FAILED\): .*CAP_SYS_ADMIN/m, 'and that maps were not counted');
});

t.test('CAP_SYS_ADMIN alone implies the rest: works, memory read', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8, name: 'priv_admin' });
  fill(m, 4, 8, 2);
  const r = await runBuiltCli(SNAPSHOT_JSON, { wrapper: withCaps(['sys_admin']) });
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { memory_error: unknown; walk_error: unknown; maps: Array<{ id: number; type: string; entries: number | null; memory_bytes: number | null; memory_estimated: boolean }> };
  t.equal(out.memory_error, null);
  t.equal(out.walk_error, null);
  const got = out.maps.find((x) => x.id === m.id);
  t.equal(got?.entries, 2, 'counted, by walk where the kernel has no kfunc');
  assertMemory(t, got && { type: got.type, memoryBytes: got.memory_bytes, memoryEstimated: got.memory_estimated }, bpftoolRaw().get(m.id)?.bytes_memlock, 'priv_admin');
});
