// SPDX-License-Identifier: Apache-2.0
// `snapshot` (the built CLI) against bpftool on the same host: every map bpftool lists, with
// the same id, name, type, max_entries and memlock, and exact entries for the hash-family
// maps made here. Other tests make and free maps meanwhile, so bpftool is read before and
// after the snapshot: a map in both reads lived throughout and must be listed, exactly.
import t from 'tap';
import { bpftoolRaw, escaped } from '../helpers/bpftool-names';
import { runBuiltCli } from '../helpers/cli';
import { bpftoolDumpCount, createMap, F_NO_PREALLOC, fill, type TestMap } from '../helpers/kernel';
import { assertMemory, estimatesMemory } from '../helpers/memory-truth';

interface JsonMap {
  id: number;
  name: string;
  type: string;
  max_entries: number;
  entries: number | null;
  utilization: number | null;
  memory_bytes: number | null;
  memory_estimated: boolean;
}

/** Hash-family maps with known fills, and arrays: what this file asserts exactly. */
function makeMaps(t: Parameters<typeof createMap>[0]): Array<{ m: TestMap; type: string; name: string; max: number; filled: number }> {
  const specs: Array<{ type: string; flags?: number; max: number; filled: number }> = [
    { type: 'hash', max: 64, filled: 0 },
    { type: 'hash', max: 64, filled: 23 },
    { type: 'hash', max: 64, filled: 64 },
    { type: 'hash', flags: F_NO_PREALLOC, max: 128, filled: 77 },
    { type: 'percpu_hash', max: 32, filled: 5 },
    { type: 'lru_hash', max: 32, filled: 20 },
    { type: 'lru_percpu_hash', max: 32, filled: 3 },
    { type: 'array', max: 16, filled: 0 },
    { type: 'percpu_array', max: 8, filled: 0 },
  ];
  return specs.map((s, i) => {
    const name = `snap_${i}_${s.type.slice(0, 7)}`;
    const m = createMap(t, { type: s.type, keySize: 4, valueSize: 8, maxEntries: s.max, flags: s.flags ?? 0, name });
    if (s.filled) fill(m, 4, 8, s.filled);
    return { m, type: s.type, name, max: s.max, filled: s.filled };
  });
}

t.test('snapshot --output json lists every map bpftool lists, the same way', async (t) => {
  const mine = makeMaps(t);
  const before = bpftoolRaw();
  const r = await runBuiltCli(['snapshot', '--output', 'json', '--pressure.snapshot-interval=0']);
  const after = bpftoolRaw();
  t.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { maps_seen: number; memory_error: unknown; maps: JsonMap[] };
  t.equal(out.memory_error, null, 'as root, memory is readable');
  const ours = new Map(out.maps.map((m) => [m.id, m]));
  t.equal(ours.size, out.maps.length, 'each id once');

  // Every map that lived through the snapshot is listed, exactly as bpftool shows it.
  let compared = 0;
  let memlockCompared = 0;
  for (const [id, b] of before) {
    const a = after.get(id);
    if (!a) continue; // freed meanwhile
    const o = ours.get(id);
    if (!o) {
      t.fail(`map ${id} (${b.name ?? ''}, ${b.type}) is in both bpftool reads but not in the snapshot`);
      continue;
    }
    compared++;
    const where = `map ${id} ${JSON.stringify(o.name)}`;
    if (o.name !== escaped(b.name ?? '')) t.fail(`${where}: name ${JSON.stringify(o.name)} vs bpftool ${JSON.stringify(escaped(b.name ?? ''))}`);
    if (typeof b.type === 'string' && o.type !== b.type) t.fail(`${where}: type ${o.type} vs bpftool ${b.type}`);
    if (o.max_entries !== b.max_entries) t.fail(`${where}: max_entries ${o.max_entries} vs bpftool ${b.max_entries}`);
    // A figure that moved between the two reads (a map being filled right now) has no single
    // truth to compare with; one that held still must match. Before 6.4 the types with a
    // formula carry the agent's estimate instead (test/helpers/memory-truth.ts).
    if (o.memory_estimated !== estimatesMemory(o.type)) t.fail(`${where}: memory_estimated ${o.memory_estimated} on this kernel`);
    else if (o.memory_estimated) {
      if (!(o.memory_bytes! > 0)) t.fail(`${where}: estimated memory ${o.memory_bytes}`);
    } else if (b.bytes_memlock === a.bytes_memlock) {
      memlockCompared++;
      if (o.memory_bytes !== b.bytes_memlock) t.fail(`${where}: memory ${o.memory_bytes} vs bpftool memlock ${b.bytes_memlock}`);
    }
  }
  t.ok(compared >= mine.length, `${compared} maps compared with bpftool (${memlockCompared} memlock figures)`);

  // And nothing that did not exist: ids are allocated upwards, so an id at or below the
  // highest bpftool saw first, and absent from that read, was already gone.
  const highest = Math.max(...before.keys());
  const phantoms = out.maps.filter((m) => m.id <= highest && !before.has(m.id));
  t.same(phantoms.map((m) => m.id), [], 'no map listed that bpftool did not see');

  // The maps made here: every field exact, entries from a dump (LRU maps evict early).
  for (const x of mine) {
    const o = ours.get(x.m.id);
    if (!o) {
      t.fail(`${x.name}: not listed`);
      continue;
    }
    const b = before.get(x.m.id)!;
    t.equal(o.name, x.name, `${x.name}: name`);
    t.equal(o.type, x.type, `${x.name}: type`);
    t.equal(o.max_entries, x.max, `${x.name}: max_entries`);
    assertMemory(t, { type: o.type, memoryBytes: o.memory_bytes, memoryEstimated: o.memory_estimated }, b.bytes_memlock, x.name);
    if (x.type.includes('array')) {
      t.equal(o.entries, null, `${x.name}: an array has no entry count`);
      t.equal(o.utilization, null, `${x.name}: and no utilization`);
    } else {
      const held = bpftoolDumpCount(x.m.id);
      if (!x.type.startsWith('lru')) t.equal(held, x.filled, `${x.name}: holds what was inserted`);
      t.equal(o.entries, held, `${x.name}: entries`);
      t.equal(o.utilization, held / x.max, `${x.name}: utilization`);
    }
  }
});

/** The table's rows: the text under each header column (all columns but NAME are one word). */
function parseTable(text: string): { header: string; rows: Array<{ id: number; util: string; name: string; line: string }>; footer: string[] } {
  const lines = text.split('\n');
  const header = lines[0]!;
  const end = lines.findIndex((l) => /^\d+ maps\b/.test(l));
  // ID and UTIL are right-aligned: a cell ends where its header ends.
  const idEnd = header.indexOf('ID') + 2;
  const utilEnd = header.indexOf('UTIL') + 4;
  const nameAt = header.indexOf('NAME');
  const rows = lines.slice(1, end).map((line) => ({
    id: Number(line.slice(0, idEnd).trim()),
    util: line.slice(0, utilEnd).trim().split(/\s+/).pop()!,
    name: line.slice(nameAt).split(/\s+/)[0]!,
    line,
  }));
  return { header, rows, footer: lines.slice(end) };
}

t.test('snapshot (table): a header, then the maps fullest first', async (t) => {
  const made = [58, 32, 6, 64].map((n, i) => {
    const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64, name: `tbl_${i}` });
    fill(m, 4, 8, n);
    return { m, util: `${((n / 64) * 100).toFixed(1)}%` };
  });
  const arr = createMap(t, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, name: 'tbl_array' });
  const r = await runBuiltCli(['snapshot', '--pressure.snapshot-interval=0']);
  t.equal(r.code, 0, r.stderr);
  const { header, rows, footer } = parseTable(r.stdout.trimEnd());
  for (const col of ['ID', 'NAME', 'TYPE', 'ENTRIES', 'MAX', 'UTIL', 'MEMORY']) t.match(header, new RegExp(`\\b${col}\\b`), `header has ${col}`);
  t.match(footer[0], new RegExp(`^${rows.length} maps\\b`), 'the footer counts the rows');

  // Sorted: utilization never rises down the table, and maps without one come last.
  const value = (u: string) => (u === '-' ? -1 : Number(u.replace('%', '')));
  let sorted = true;
  for (let i = 1; i < rows.length; i++) if (value(rows[i]!.util) > value(rows[i - 1]!.util)) sorted = false;
  t.ok(sorted, `utilization is non-increasing: ${rows.map((x) => x.util).join(' ')}`);

  const pos = (id: number) => rows.findIndex((x) => x.id === id);
  for (const x of made) t.equal(rows[pos(x.m.id)]?.util, x.util, `map ${x.m.id}: ${x.util}`);
  t.same(
    made.map((x) => pos(x.m.id)).map((p, _, a) => a.filter((q) => q < p).length),
    [1, 2, 3, 0],
    'the four hash maps in utilization order (64/64 first, then 58, 32, 6)',
  );
  t.equal(rows[pos(arr.id)]?.util, '-', 'an array has no utilization');
  t.ok(pos(arr.id) > Math.max(...made.map((x) => pos(x.m.id))), 'and comes after the maps that have one');
  t.equal(rows[pos(made[0]!.m.id)]?.name, 'tbl_0', 'the NAME column');
});
