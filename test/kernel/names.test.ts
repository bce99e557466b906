// SPDX-License-Identifier: Apache-2.0
// Map names are untrusted bytes: the kernel accepts Latin-1 letters, an empty name, and up to
// 15 characters. Each comes out escaped to printable ASCII, the same in the collection, the
// JSON and the table, and every output stays valid UTF-8.
import t from 'tap';
import { bpftoolRaw, escaped } from '../helpers/bpftool-names';
import { runBuiltCli } from '../helpers/cli';
import { collectOnce, createMap, fill, find } from '../helpers/kernel';

const utf8 = new TextDecoder('utf-8', { fatal: true });

const LATIN1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x78]); // "café" then x, é as the byte 0xe9
const FIFTEEN = 'abcdefghijk_mno';

function makeNamed(t: Parameters<typeof createMap>[0]) {
  const latin1 = createMap(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, rawName: LATIN1 });
  fill(latin1, 4, 4, 3);
  const unnamed = createMap(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8 });
  const fifteen = createMap(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, name: FIFTEEN });
  return { latin1, unnamed, fifteen };
}

t.test('names in a collection: escaped Latin-1, empty, 15 characters; as bpftool has them', async (t) => {
  const m = makeNamed(t);
  const c = await collectOnce();
  const raw = bpftoolRaw();
  t.equal(raw.get(m.latin1.id)?.name, LATIN1.toString('latin1'), 'the kernel kept the byte 0xe9');
  t.equal(find(c, m.latin1.id)?.name, 'caf\\xe9x');
  t.equal(find(c, m.latin1.id)?.entries, 3, 'and the map is counted like any other');
  t.equal(find(c, m.unnamed.id)?.name, '');
  t.equal(find(c, m.fifteen.id)?.name, FIFTEEN);
  for (const x of [m.latin1, m.unnamed, m.fifteen]) t.equal(find(c, x.id)?.name, escaped(raw.get(x.id)?.name ?? ''), `map ${x.id}: bpftool's name through the escaping rule`);
});

t.test('snapshot --output json: valid UTF-8, the escaped names', async (t) => {
  const m = makeNamed(t);
  const r = await runBuiltCli(['snapshot', '--output', 'json', '--pressure.snapshot-interval=0']);
  t.equal(r.code, 0, r.stderr);
  let text = '';
  t.doesNotThrow(() => (text = utf8.decode(r.stdoutBytes)), 'stdout is valid UTF-8');
  t.notOk(/[^\x09\x0a\x20-\x7e]/.test(text), 'in fact printable ASCII only');
  const maps = new Map((JSON.parse(text) as { maps: Array<{ id: number; name: string }> }).maps.map((x) => [x.id, x.name]));
  t.equal(maps.get(m.latin1.id), 'caf\\xe9x');
  t.ok(text.includes('"name": "caf\\\\xe9x"'), 'the backslash itself is JSON-escaped');
  t.equal(maps.get(m.unnamed.id), '');
  t.equal(maps.get(m.fifteen.id), FIFTEEN);
});

t.test('snapshot (table): valid UTF-8, escaped name, "-" for no name', async (t) => {
  const m = makeNamed(t);
  const r = await runBuiltCli(['snapshot', '--pressure.snapshot-interval=0']);
  t.equal(r.code, 0, r.stderr);
  t.doesNotThrow(() => utf8.decode(r.stdoutBytes), 'stdout is valid UTF-8');
  const row = (id: number) => r.stdout.split('\n').find((l) => l.trimStart().startsWith(`${id} `));
  t.match(row(m.latin1.id), /^\s*\d+ {2}caf\\xe9x\s/, 'the escaped name in its row');
  t.match(row(m.unnamed.id), /^\s*\d+ {2}-\s+hash\s/, 'no name: "-"');
  t.match(row(m.fifteen.id), new RegExp(`^\\s*\\d+ {2}${FIFTEEN}\\s`));
});

t.test('filters match the escaped name', async (t) => {
  const m = makeNamed(t);
  const r = await runBuiltCli(['snapshot', '--output', 'json', '--pressure.snapshot-interval=0', '--filter.include-names=caf\\xe9*']);
  t.equal(r.code, 0, r.stderr);
  const maps = (JSON.parse(r.stdout) as { maps: Array<{ id: number; name: string }> }).maps;
  t.ok(maps.some((x) => x.id === m.latin1.id), 'the Latin-1 map is selected by its escaped name');
  t.same(maps.filter((x) => !x.name.startsWith('caf\\xe9')), [], 'and nothing else');
});
