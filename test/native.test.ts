// SPDX-License-Identifier: Apache-2.0
// The typed addon loader: options checked before C++, the addon's record layout equal to
// records.ts, errors shaped like Node's own (code, errno, syscall) and mapped to our codes,
// and a reader that refuses work after close().
import { constants } from 'node:os';
import t from 'tap';
import { Collector } from '../src/collector';
import { AgentError, ERRORS } from '../src/errors';
import { createLogger, logDetail } from '../src/log';
import { loadAddon, MapStatsReader, NATIVE_ERROR_KINDS, OWNERS_OPTIONS, READER_OPTIONS, type ReaderOptions, toAgentError } from '../src/native';
import { FLAG_COUNT_STALE, FLAG_NEEDS_WALK, FLAG_WALK_SKIPPED, FLAG_WALK_UNSUPPORTED, RECORD_SIZE, RECORD_VERSION } from '../src/records';
import { createMap, mapOps } from './helpers/kernel';

const { errno } = constants;

function constructionError(options: ReaderOptions): unknown {
  try {
    new MapStatsReader(options).close();
  } catch (e) {
    return e;
  }
  return undefined;
}

t.test('options are checked before they reach the addon: TypeError naming the option', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['useKfunc', 'yes'],
    ['useKernelState', 1],
    ['readMemory', null],
    ['btfPath', ''],
    ['btfPath', 5],
    ['btfPath', '/sys/kernel/btf/vmlinux\0x'],
    ['procfs', ''],
    ['procfs', ['/proc']],
  ];
  for (const [key, value] of cases) {
    const e = constructionError({ [key]: value } as ReaderOptions);
    t.type(e, TypeError, `${key}=${JSON.stringify(value)}: a TypeError`);
    t.match((e as Error)?.message, new RegExp(`^${key} must be`), `${key}=${JSON.stringify(value)}: names the option`);
  }
});

t.test('an unknown option is refused, naming it (a misspelling would be ignored)', async (t) => {
  const e = constructionError({ useKfuncs: false } as unknown as ReaderOptions);
  t.type(e, TypeError);
  t.match((e as Error)?.message, /^unknown reader option "useKfuncs" \(known: useKfunc, /);
});

t.test('each reader option is declared once on each side, and both sides name the same ones', async (t) => {
  const addon = loadAddon();
  t.same(addon.readerOptions, Object.keys(READER_OPTIONS), 'Reader: kReaderOptions of native/addon.cc');
  t.same(addon.ownersReaderOptions, Object.keys(OWNERS_OPTIONS), 'OwnersReader: kOwnersOptions of native/owners_glue.cc');
});

t.test("the addon's record size, version and flag bits are records.ts's", async (t) => {
  const addon = loadAddon();
  t.equal(addon.recordSize, RECORD_SIZE, 'sizeof(struct map_stats_record)');
  t.equal(addon.recordVersion, RECORD_VERSION, 'MAP_STATS_VERSION');
  t.same(
    addon.recordFlags,
    { needsWalk: FLAG_NEEDS_WALK, countStale: FLAG_COUNT_STALE, walkSkipped: FLAG_WALK_SKIPPED, walkUnsupported: FLAG_WALK_UNSUPPORTED },
    'MAP_STATS_F_* of bpf/map_stats.h',
  );
});

t.test('the kinds of failure: every kind the addon names has a code in NATIVE_ERROR_KINDS, and only those', async (t) => {
  t.same([...loadAddon().errorKinds].sort(), Object.keys(NATIVE_ERROR_KINDS).sort(), 'ErrorKind of native/sys_error.h');
  for (const [kind, { code, denied }] of Object.entries(NATIVE_ERROR_KINDS)) {
    t.ok(code in ERRORS && denied in ERRORS, `${kind}: registered codes`);
  }
});

t.test('errors from the addon: Node-shaped system errors under a coded AgentError', async (t) => {
  const missing = '/nonexistent/emp-btf/vmlinux';
  const cases: Array<{ what: string; options: ReaderOptions; errno: number; hint: RegExp }> = [
    { what: 'no file at paths.btf', options: { btfPath: missing }, errno: errno.ENOENT, hint: /no file at \/nonexistent\/emp-btf\/vmlinux/ },
    { what: 'paths.btf is not BTF', options: { btfPath: '/proc/self/status' }, errno: errno.EINVAL, hint: /not a BTF file: \/proc\/self\/status/ },
  ];
  for (const c of cases) {
    const e = constructionError(c.options);
    if (!(e instanceof AgentError)) {
      t.fail(`${c.what}: expected an AgentError, got ${String(e)}`);
      continue;
    }
    t.equal(e.code, 'EMP_NO_BTF', `${c.what}: code`);
    t.equal(e.errno, -c.errno, `${c.what}: errno, negative as in Node`);
    t.equal(e.syscall, 'btf__parse', `${c.what}: syscall`);
    t.match(e.hint, c.hint, `${c.what}: the hint names the path`);
    t.match(e.hint, /paths\.btf/, `${c.what}: the hint names the setting`);
    const cause = e.cause as { code?: string; errno?: number; syscall?: string; message?: string };
    t.equal(cause.errno, -c.errno, `${c.what}: the system error's errno`);
    t.equal(cause.syscall, 'btf__parse', `${c.what}: the system error's syscall`);
    t.equal((cause as { kind?: string }).kind, 'btf', `${c.what}: the kind of failure, as the addon says it`);
    t.match(cause.message, new RegExp(`^${cause.code}: .+, btf__parse`), `${c.what}: message as Node writes it`);
  }
});

t.test("the map syscalls' errors have the same shape", async (t) => {
  t.throws(() => mapOps().createMap({ type: 1, keySize: 0, valueSize: 8, maxEntries: 1, name: 'bad_key' }), {
    code: 'EINVAL',
    errno: -errno.EINVAL,
    syscall: 'bpf_map_create',
    message: 'EINVAL: invalid argument, bpf_map_create',
  });
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, name: 'one_slot' });
  mapOps().update(m.fd, Buffer.alloc(4, 1), Buffer.alloc(4));
  t.throws(() => mapOps().update(m.fd, Buffer.alloc(4, 2), Buffer.alloc(4)), { code: 'E2BIG', syscall: 'bpf_map_update_elem' }, 'a full hash map refuses a new key');
});

t.test('toAgentError: which system error becomes which code', async (t) => {
  const sys = (code: string, syscall: string, kind: string | undefined, extra: object = {}) =>
    Object.assign(new Error(`${code}: x, ${syscall}`), { code, errno: -1, syscall, ...(kind !== undefined && { kind }), ...extra });
  // The kind the addon gives each of these where it fails (native/sys_error.h).
  const cases: Array<[Error, string]> = [
    [sys('EPERM', 'bpf_prog_load', 'load'), 'EMP_PERMISSION'],
    [sys('EACCES', 'bpf_iter_create', 'system'), 'EMP_PERMISSION'],
    [sys('EACCES', 'btf__parse', 'btf'), 'EMP_NO_BTF'],
    [sys('ENOENT', 'bpf_object__open', 'open'), 'EMP_NO_BTF'],
    [sys('EINVAL', 'bpf_prog_load', 'load'), 'EMP_LOAD_FAILED'],
    [sys('ENOENT', 'bpf_link_create', 'load'), 'EMP_LOAD_FAILED'],
    [sys('EBADF', 'collect', 'closed'), 'EMP_READER_CLOSED'],
    [sys('EPROTO', 'read', 'record'), 'EMP_RECORD_MISMATCH'],
    [sys('EIO', 'read', 'system'), 'EMP_COLLECT_FAILED'],
    // The kind decides, not the label: renaming a call in C++ changes no code.
    [sys('EINVAL', 'bpf_prog_load_renamed', 'load'), 'EMP_LOAD_FAILED'],
    [sys('EINVAL', 'bpf_prog_load', 'system'), 'EMP_COLLECT_FAILED'],
    // Not the addon's (no kind, or one it does not name): a system failure.
    [sys('EACCES', 'open', undefined), 'EMP_PERMISSION'],
    [sys('EIO', 'read', undefined), 'EMP_COLLECT_FAILED'],
    [sys('EIO', 'read', 'toString'), 'EMP_COLLECT_FAILED'],
  ];
  for (const [e, code] of cases) {
    const { code: errnoName, syscall, kind } = e as Error & { code: string; syscall: string; kind?: string };
    t.equal(toAgentError(e).code, code, `${errnoName} from ${syscall}, kind ${kind}`);
  }
  const withDetail = toAgentError(sys('EINVAL', 'bpf_prog_load', 'load', { hint: 'see the log', detail: 'R1 invalid mem access\n', errno: -22 }));
  t.equal(withDetail.hint, 'see the log', 'the addon hint is kept');
  t.equal(withDetail.errno, -22);
  t.equal(withDetail.syscall, 'bpf_prog_load');
  t.equal(withDetail.message, 'EINVAL: x, bpf_prog_load', 'the message is one line: libbpf\'s lines are not in it');
  t.equal(withDetail.detail, 'R1 invalid mem access', 'they are its detail, for debug logs');
  t.equal(toAgentError(sys('EPERM', 'bpf_prog_load', 'load')).detail, undefined, 'no detail, none made up');
  t.equal(toAgentError(sys('EPERM', 'bpf_prog_load', 'load')).hint, ERRORS.EMP_PERMISSION.fix, 'without an addon hint: the registry\'s (the README\'s advice)');
  const lines: string[] = [];
  logDetail(createLogger('debug', (l) => lines.push(l)), withDetail);
  t.match(lines, [/ debug R1 invalid mem access code=EMP_LOAD_FAILED$/], 'logDetail: a debug line per line, with the code');
  logDetail(createLogger('info', (l) => lines.push(l)), withDetail);
  t.equal(lines.length, 1, 'and nothing above debug');
  logDetail(createLogger('debug', (l) => lines.push(l)), new AgentError('EMP_USAGE', 'x'));
  t.equal(lines.length, 1, 'an error without detail: no line');
  const mine = new AgentError('EMP_USAGE', 'x');
  t.equal(toAgentError(mine), mine, 'an AgentError passes through');
});

t.test('collect after close: EMP_READER_CLOSED, from the wrapper and from the addon itself', async (t) => {
  const reader = new MapStatsReader({});
  t.ok((await reader.collect()).records.length > 0, 'collects while open');
  reader.close();
  reader.close(); // idempotent
  t.equal(reader.closed, true);
  await t.rejects(reader.collect(), { name: 'AgentError', code: 'EMP_READER_CLOSED' });

  // The native object on its own: its check, not only the wrapper's.
  const { Reader } = loadAddon();
  const native = new Reader({});
  native.close();
  const e = await native.collect().then(
    () => undefined,
    (err: unknown) => err,
  );
  t.match(e, { code: 'EBADF', errno: -errno.EBADF, syscall: 'collect', kind: 'closed' }, 'a Node-shaped EBADF, and the kind of failure');
  t.equal(toAgentError(e).code, 'EMP_READER_CLOSED');
});

t.test('close while a collection is in flight: it finishes or says the reader closed; nothing crashes', async (t) => {
  for (let i = 0; i < 20; i++) {
    const reader = new MapStatsReader({});
    const pending = reader.collect();
    reader.close();
    const outcome = await pending.then(
      (c) => (c.records.length > 0 ? 'collected' : 'empty'),
      (e: unknown) => (e instanceof AgentError ? e.code : String(e)),
    );
    if (outcome !== 'collected' && outcome !== 'EMP_READER_CLOSED') t.fail(`attempt ${i}: ${outcome}`);
  }
  t.pass('20 collections raced with close()');
});

t.test('memory: off by option; a wrong procfs is a reported error, not silent nulls', async (t) => {
  const m = createMap(t, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 4, name: 'mem_opts' });
  const off = new MapStatsReader({ readMemory: false });
  t.teardown(() => off.close());
  const a = await off.collect();
  t.ok([...a.memory].every((v) => v === -1), 'readMemory false: no figure');
  t.equal(a.memoryError, undefined, 'and no error: it was asked for');

  const wrong = new Collector({ reader: { procfs: '/nonexistent/emp-proc' } });
  t.teardown(() => wrong.close());
  const c = await wrong.collect();
  t.equal(c.memoryError?.code, 'EMP_MEMORY_UNREADABLE');
  t.equal(c.memoryError?.syscall, 'open');
  t.equal(c.memoryError?.errno, -errno.ENOENT);
  t.match(c.memoryError?.hint, /paths\.procfs/);
  t.equal(c.maps.find((x) => x.id === m.id)?.memoryBytes, null, 'memory unknown, not made up');
});

t.test('kfuncAvailable follows the kernel and the option', async (t) => {
  const on = new MapStatsReader({});
  const off = new MapStatsReader({ useKfunc: false });
  t.teardown(() => {
    on.close();
    off.close();
  });
  t.equal(on.kfuncAvailable, true, 'this kernel (>= 6.6) has bpf_map_sum_elem_count');
  t.equal(off.kfuncAvailable, false, 'useKfunc false');
});
