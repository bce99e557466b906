// SPDX-License-Identifier: Apache-2.0
import t from 'tap';
import { loadAddon } from '../../src/native';
import { FD_RECORD_SIZE, OWNERS_VERSION, parseFdRecords, parseProgRecords, PROG_RECORD_SIZE, progTypeName } from '../../src/owners/records';

t.test('the record sizes and version are those the addon was built with (bpf/owners.h)', async (t) => {
  t.same(loadAddon().ownerRecords, { fd: FD_RECORD_SIZE, prog: PROG_RECORD_SIZE, version: OWNERS_VERSION });
});

function fdRecord(o: { kind: number; pid: number; id: number; comm: Buffer; exe?: Buffer }): Buffer {
  const b = Buffer.alloc(FD_RECORD_SIZE);
  b.writeUInt16LE(FD_RECORD_SIZE, 0);
  b.writeUInt16LE(OWNERS_VERSION, 2);
  b.writeUInt32LE(o.kind, 4);
  b.writeUInt32LE(o.pid, 8);
  b.writeUInt32LE(o.id, 16);
  o.comm.copy(b, 48, 0, 16);
  o.exe?.copy(b, 64, 0, 32);
  return b;
}

t.test('fd records: comm and executable escaped to valid UTF-8, full-length ones kept whole', async (t) => {
  const [a, b] = parseFdRecords(
    Buffer.concat([
      fdRecord({ kind: 1, pid: 7, id: 9, comm: Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x1b]), exe: Buffer.from('x\\y') }),
      fdRecord({ kind: 3, pid: 8, id: 2, comm: Buffer.from('sixteen-bytes-ok'), exe: Buffer.from('a'.repeat(32)) }),
    ]),
  );
  t.same([a!.kind, a!.pid, a!.id, a!.comm, a!.exe], ['map', 7, 9, 'caf\\xe9\\x1b', 'x\\x5cy']);
  t.same([b!.kind, b!.comm, b!.exe.length], ['link', 'sixteen-bytes-ok', 32]);
});

t.test('a wrong size or version is EMP_RECORD_MISMATCH, not a guess', async (t) => {
  t.throws(() => parseFdRecords(Buffer.alloc(FD_RECORD_SIZE + 4)), { code: 'EMP_RECORD_MISMATCH' });
  const bad = fdRecord({ kind: 1, pid: 1, id: 1, comm: Buffer.from('x') });
  bad.writeUInt16LE(2, 2);
  t.throws(() => parseFdRecords(bad), { code: 'EMP_RECORD_MISMATCH' });
  t.throws(() => parseProgRecords(Buffer.alloc(PROG_RECORD_SIZE)), { code: 'EMP_RECORD_MISMATCH' });
});

t.test('program types in bpftool spelling', async (t) => {
  t.same([progTypeName(2), progTypeName(6), progTypeName(26), progTypeName(99)], ['kprobe', 'xdp', 'tracing', 'type_99']);
});
