// SPDX-License-Identifier: Apache-2.0
// The tests' BTF reader (test/helpers/btf.ts), which the kernel tests' feature checks rest on,
// against bpftool's dump of the same blob: every FUNC, every enumerator, and the members of
// the structs the tests ask about. On the host only: the dump is what the reader saves the
// emulated guests.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseBtf, vmlinuxFacts } from './helpers/btf';

const STRUCTS = ['bpf_map_ops', 'bpf_htab', 'bpf_map'];

t.test('the BTF reader finds what bpftool prints', async (t) => {
  const raw = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const got = vmlinuxFacts(STRUCTS);
  const funcs = new Set([...raw.matchAll(/^\[\d+\] FUNC '([^']*)' /gm)].map((m) => m[1]!));
  t.ok(funcs.size > 1000, `bpftool lists ${funcs.size} functions`);
  t.same([...got.funcs].sort(), [...funcs].sort(), 'the same functions');
  // Enumerators: the lines under each ENUM/ENUM64 header, `\t'NAME' val=N`.
  const enumerators = new Set<string>();
  for (const m of raw.matchAll(/^\[\d+\] ENUM(?:64)? '[^']*'.* vlen=(\d+)\n((?:\t.*\n?)*)/gm))
    for (const line of m[2]!.split('\n').slice(0, Number(m[1]))) enumerators.add(/^\t'([^']*)'/.exec(line)?.[1] ?? '');
  t.ok(enumerators.has('BPF_MAP_TYPE_HASH'), 'bpftool lists BPF_MAP_TYPE_HASH');
  t.same([...got.enumerators].sort(), [...enumerators].sort(), 'the same enumerators');
  for (const struct of STRUCTS) {
    const m = new RegExp(`^\\[\\d+\\] STRUCT '${struct}' size=\\d+ vlen=(\\d+)\\n`, 'm').exec(raw);
    t.ok(m, `bpftool has struct ${struct}`);
    // bpftool writes an anonymous member's empty name as (anon).
    const members = m ? raw.slice(m.index + m[0].length).split('\n', Number(m[1])).map((l) => /^\s+'([^']*)'/.exec(l)?.[1] ?? '').map((n) => (n === '(anon)' ? '' : n)) : [];
    t.same(got.members[struct], members, `${struct}: the same members, in order`);
  }
});

t.test('a blob that is not BTF, or cut short, is refused', async (t) => {
  t.throws(() => parseBtf(Buffer.alloc(64), []), /magic 0xeb9f/);
  const blob = readFileSync('/sys/kernel/btf/vmlinux');
  t.throws(() => parseBtf(blob.subarray(0, blob.length - 1000), []), /run past the end/);
});
