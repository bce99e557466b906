// SPDX-License-Identifier: Apache-2.0
// The built CLI under setpriv with capabilities dropped (root's uid kept, so only the
// capabilities differ). What each call needs, as measured on Linux 6.18:
// - loading the iterator (BPF_PROG_LOAD of a tracing program, its maps and BTF): CAP_BPF and
//   CAP_PERFMON, both (either alone: EPERM), or CAP_SYS_ADMIN, which implies both;
// - creating and reading the iterator (BPF_LINK_CREATE, BPF_ITER_CREATE, read): nothing more;
//   it walks every map on the host from inside the kernel, so every map is listed;
// - bpf_map_sum_elem_count (a kfunc called by the program): nothing more;
// - memory (BPF_MAP_GET_FD_BY_ID, then fdinfo): CAP_SYS_ADMIN.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { bpftoolRaw } from '../helpers/bpftool-names';
import { runBuiltCli, STACK_TRACE } from '../helpers/cli';
import { bpftoolDumpCount, createMap, fill } from '../helpers/kernel';

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
    t.notMatch(r.stderr, STACK_TRACE, `${what}: no stack trace`);
    t.equal(r.stdout, '', `${what}: no output`);
  }
});

t.test('with CAP_BPF+CAP_PERFMON, without CAP_SYS_ADMIN: every map, counted, memory said to be unreadable', async (t) => {
  const full = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 20, name: 'priv_full' });
  fill(full, 4, 8, 20);
  const some = createMap(t, { type: 'lru_hash', keySize: 4, valueSize: 8, maxEntries: 64, name: 'priv_some' });
  fill(some, 4, 8, 10);
  const arr = createMap(t, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, name: 'priv_arr' });

  const before = bpftoolRaw();
  const r = await runBuiltCli(SNAPSHOT_JSON, { wrapper: withCaps(['bpf', 'perfmon']) });
  const after = bpftoolRaw();
  t.equal(r.code, 0, `works; stderr: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as {
    memory_error: { code: string; hint: string } | null;
    maps: Array<{ id: number; name: string; entries: number | null; memory_bytes: number | null }>;
  };
  t.equal(out.memory_error?.code, 'EMP_MEMORY_UNREADABLE', 'the output says memory is not readable, with its code');
  t.match(out.memory_error?.hint, /CAP_SYS_ADMIN/, 'and what would make it readable');
  t.same(out.maps.filter((m) => m.memory_bytes !== null).map((m) => m.id), [], 'memory null for every map, never a made-up figure');

  const ours = new Map(out.maps.map((m) => [m.id, m]));
  const missing = [...before.keys()].filter((id) => after.has(id) && !ours.has(id));
  t.same(missing, [], 'every map bpftool (as root) listed before and after is listed without CAP_SYS_ADMIN');
  t.equal(ours.get(full.id)?.entries, 20, 'entries still counted (the kfunc needs no more)');
  t.equal(ours.get(some.id)?.entries, bpftoolDumpCount(some.id));
  t.equal(ours.get(arr.id)?.name, 'priv_arr');

  const table = await runBuiltCli(['snapshot', '--pressure.snapshot-interval=0'], { wrapper: withCaps(['bpf', 'perfmon']) });
  t.equal(table.code, 0);
  t.match(table.stdout, /^memory not readable \(EMP_MEMORY_UNREADABLE\): .*CAP_SYS_ADMIN/m, 'the table says so too');
});

t.test('CAP_SYS_ADMIN alone implies the rest: works, memory read', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8, name: 'priv_admin' });
  fill(m, 4, 8, 2);
  const r = await runBuiltCli(SNAPSHOT_JSON, { wrapper: withCaps(['sys_admin']) });
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { memory_error: unknown; maps: Array<{ id: number; entries: number | null; memory_bytes: number | null }> };
  t.equal(out.memory_error, null);
  const got = out.maps.find((x) => x.id === m.id);
  t.equal(got?.entries, 2);
  t.equal(got?.memory_bytes, bpftoolRaw().get(m.id)?.bytes_memlock);
});
