// SPDX-License-Identifier: Apache-2.0
// Binary records -> objects: the escaping of map names, the layout (by hand and against a
// real record the iterator wrote), and the mismatch errors.
import t from 'tap';
import { MapStatsReader } from '../src/native';
import { COUNT_METHODS, decodeMapName, parseRecords, RECORD_SIZE, RECORD_VERSION, selectRecords } from '../src/records';
import { createMap, F_NO_PREALLOC, fill, typeId } from './helpers/kernel';

t.test('decodeMapName: printable ASCII stays, every other byte is \\xHH', async (t) => {
  const cases: Array<[string, number[] | string, string]> = [
    ['plain', 'conntrack', 'conntrack'],
    ['stops at NUL', 'h1\0\0garbage', 'h1'],
    ['empty', '\0\0\0', ''],
    ['nothing at all', [], ''],
    ['16 bytes, no NUL', 'abcdefghijklmnop', 'abcdefghijklmnop'],
    ['dot and underscore', 'map_stat.rodata', 'map_stat.rodata'],
    ['Latin-1 letter', [0x63, 0x61, 0x66, 0xe9, 0x78], 'caf\\xe9x'],
    ['UTF-8 bytes each escaped', [0x63, 0xc3, 0xa9], 'c\\xc3\\xa9'],
    ['backslash escaped, so escapes stay unambiguous', [0x61, 0x5c, 0x78, 0x65, 0x39], 'a\\x5cxe9'],
    ['control characters', [0x61, 0x0a, 0x1b, 0x09], 'a\\x0a\\x1b\\x09'],
    ['DEL', [0x7f], '\\x7f'],
    ['space and quote are printable', ' "\'', ' "\''],
  ];
  for (const [what, input, want] of cases) {
    const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : Buffer.from(input);
    t.equal(decodeMapName(bytes), want, what);
  }
});

t.test('decodeMapName: the result is printable ASCII (so valid UTF-8) and distinct names stay distinct', async (t) => {
  const seen = new Map<string, string>();
  let nonPrintable = 0;
  // Every single byte, and every byte after a backslash-like prefix: 512 names.
  for (let b = 1; b < 256; b++) {
    for (const bytes of [[b], [0x5c, b]]) {
      const name = decodeMapName(Buffer.from(bytes));
      if (!/^[\x20-\x7e]*$/.test(name)) nonPrintable++;
      const key = Buffer.from(bytes).toString('hex');
      if (seen.has(name)) t.fail(`${key} and ${seen.get(name)} both decode to ${name}`);
      seen.set(name, key);
    }
  }
  t.equal(nonPrintable, 0, 'only printable ASCII comes out');
  t.equal(seen.size, 510, 'no two inputs share an output');
});

/** One record written field by field at the C offsets (bpf/map_stats.h). */
function record(fields: Partial<{ size: number; version: number; id: number; type: number; keySize: number; valueSize: number; maxEntries: number; mapFlags: number; method: number; flags: number; entries: bigint; aux: bigint[]; name: Buffer }>): Buffer {
  const b = Buffer.alloc(RECORD_SIZE);
  b.writeUInt16LE(fields.size ?? RECORD_SIZE, 0);
  b.writeUInt16LE(fields.version ?? RECORD_VERSION, 2);
  b.writeUInt32LE(fields.id ?? 0, 4);
  b.writeUInt32LE(fields.type ?? 0, 8);
  b.writeUInt32LE(fields.keySize ?? 0, 12);
  b.writeUInt32LE(fields.valueSize ?? 0, 16);
  b.writeUInt32LE(fields.maxEntries ?? 0, 20);
  b.writeUInt32LE(fields.mapFlags ?? 0, 24);
  b.writeUInt16LE(fields.method ?? 0, 28);
  b.writeUInt16LE(fields.flags ?? 0, 30);
  b.writeBigInt64LE(fields.entries ?? 0n, 32);
  (fields.aux ?? []).forEach((v, i) => b.writeBigUInt64LE(v, 40 + 8 * i));
  (fields.name ?? Buffer.alloc(0)).copy(b, 72, 0, 16);
  return b;
}

t.test('selectRecords: one byte per record, from the escaped name and the type id', async (t) => {
  const buf = Buffer.concat([
    record({ id: 1, type: 1, name: Buffer.from('keep_me') }),
    record({ id: 2, type: 9, name: Buffer.from('keep_lru') }),
    record({ id: 3, type: 1, name: Buffer.from([0x63, 0x61, 0x66, 0xe9]) }),
    record({ id: 4, type: 2, name: Buffer.from('drop') }),
  ]);
  const asked: Array<[string, number]> = [];
  const keep = selectRecords(buf, (name, type) => {
    asked.push([name, type]);
    return name.startsWith('keep') ? type === 1 : name === 'caf\\xe9';
  });
  t.type(keep, Uint8Array);
  t.same([...keep], [1, 0, 1, 0]);
  t.same(asked, [['keep_me', 1], ['keep_lru', 9], ['caf\\xe9', 1], ['drop', 2]], 'names as parseRecords decodes them');
  t.same([...selectRecords(Buffer.alloc(0), () => true)], [], 'no records, no bytes');
});

t.test('parseRecords: every field from its offset', async (t) => {
  const buf = Buffer.concat([
    record({ id: 4_000_000_001, type: 9, keySize: 16, valueSize: 64, maxEntries: 1 << 20, mapFlags: 0x401, method: 1, flags: 1, entries: 123_456n, aux: [1n, 2n, 3n, 4n], name: Buffer.from('sixteen_chars_xx') }),
    record({ id: 7, type: 27, method: 2, entries: 0n, name: Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x78]) }),
  ]);
  const [a, b] = parseRecords(buf);
  t.same(a, {
    id: 4_000_000_001,
    typeId: 9,
    keySize: 16,
    valueSize: 64,
    maxEntries: 1 << 20,
    mapFlags: 0x401,
    countMethod: 'kfunc',
    flags: 1,
    entries: 123_456,
    aux: [1, 2, 3, 4],
    name: 'sixteen_chars_xx',
  });
  t.equal(b?.countMethod, 'kernel_counter');
  t.equal(b?.name, 'caf\\xe9x');
  t.same(COUNT_METHODS, ['none', 'kfunc', 'kernel_counter', 'walk'], 'enum map_count_method order');
  t.same(parseRecords(Buffer.alloc(0)), [], 'no maps: no records');
});

t.test('parseRecords: a partial record, a wrong size or version is EMP_RECORD_MISMATCH', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['trailing partial record', Buffer.concat([record({ id: 1 }), Buffer.alloc(40)])],
    ['short buffer', Buffer.alloc(RECORD_SIZE - 1)],
    ['size field differs', record({ size: RECORD_SIZE + 8 })],
    ['version differs', Buffer.concat([record({ id: 1 }), record({ version: RECORD_VERSION + 1 })])],
  ];
  for (const [what, buf] of cases) {
    t.throws(() => parseRecords(buf), { name: 'AgentError', code: 'EMP_RECORD_MISMATCH' }, what);
  }
});

t.test('a record the iterator wrote parses to the map that was made', async (t) => {
  const name = Buffer.from([0x72, 0x65, 0x63, 0xe9, 0x5f, 0x6c, 0x61, 0x79, 0x6f, 0x75, 0x74]); // "rec\xe9_layout"
  const m = createMap(t, { type: 'hash', keySize: 12, valueSize: 40, maxEntries: 77, flags: F_NO_PREALLOC, rawName: name });
  fill(m, 12, 40, 5);
  const reader = new MapStatsReader({});
  t.teardown(() => reader.close());
  const raw = await reader.collect();
  const rec = parseRecords(raw.records).find((r) => r.id === m.id);
  if (!rec) {
    t.fail(`map ${m.id} not in the iterator's output`);
    return;
  }
  t.equal(rec.typeId, typeId('hash'));
  t.equal(rec.keySize, 12);
  t.equal(rec.valueSize, 40);
  t.equal(rec.maxEntries, 77);
  t.equal(rec.mapFlags, F_NO_PREALLOC);
  t.equal(rec.countMethod, 'kfunc');
  t.equal(rec.entries, 5);
  t.equal(rec.name, 'rec\\xe9_layout');
});
