// SPDX-License-Identifier: Apache-2.0
// The snapshot's two renderings of one collection where part of it failed: memory unreadable
// and element walks refused (no CAP_SYS_ADMIN on a kernel < 6.6). The kernel-facing suite
// (test/kernel/privileges.test.ts) makes that happen for real on kernels < 6.6; this pins
// what scripts read from the JSON and what a person reads under the table on any kernel.
import t from 'tap';
import type { Collection, MapStats } from '../../src/collector';
import { snapshotJson, snapshotTable } from '../../src/cli/snapshot';
import { AgentError } from '../../src/errors';
import { COLLECTION_DEFAULTS, MAP_DEFAULTS } from '../helpers/collections';

function map(id: number, over: Partial<MapStats>): MapStats {
  return {
    ...MAP_DEFAULTS,
    id, name: `m${id}`, type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, mapFlags: 0, entries: 10, pendingBytes: null,
    utilization: 0.1, countMethod: 'kfunc', countAgeMs: null, countStale: false, notCounted: null, memoryBytes: 4096, memoryEstimated: false,
    ...over,
  };
}

const walkError = new AgentError('EMP_WALK_FAILED', 'EPERM: operation not permitted, bpf_map_get_fd_by_id', { hint: 'counting a map by an element walk needs CAP_SYS_ADMIN (BPF_MAP_GET_FD_BY_ID)' });
const memoryError = new AgentError('EMP_MEMORY_UNREADABLE', 'EPERM: operation not permitted, bpf_map_get_fd_by_id');
const notWalked = { entries: null, utilization: null, countMethod: 'none' as const, notCounted: `needs an element walk (x), which failed: ${walkError.hint}`, notCountedReason: 'walk_failed' as const };

t.test('a walk refused: said once at the top of the JSON, and under the table with how many maps', async (t) => {
  const c: Collection = {
    ...COLLECTION_DEFAULTS, time: 0, durationMs: 1, mapsSeen: 4, bytesRead: 0, walks: 0, memoryError, walkError,
    maps: [map(1, { ...notWalked, memoryBytes: null }), map(2, { ...notWalked, memoryBytes: 2048, memoryEstimated: true }), map(3, { countMethod: 'kernel_counter' }), map(4, { type: 'array', entries: null, utilization: null, countMethod: 'none', notCounted: 'preallocated' })],
  };
  const json = JSON.parse(snapshotJson(c)) as Record<string, unknown>;
  t.same(json.walk_error, { code: 'EMP_WALK_FAILED', message: walkError.message, hint: walkError.hint });
  t.same(json.memory_error, { code: 'EMP_MEMORY_UNREADABLE', message: memoryError.message, hint: memoryError.hint });
  const table = snapshotTable(c).split('\n');
  t.equal(table.at(-2), `memory not readable (EMP_MEMORY_UNREADABLE): ${memoryError.hint}`);
  t.equal(table.at(-1), `2 maps not counted (EMP_WALK_FAILED): ${walkError.hint}`, 'the two maps that needed a walk, not the array');

  const one = snapshotTable({ ...c, memoryError: null, maps: c.maps.slice(1) }).split('\n');
  t.equal(one.at(-1), `1 map not counted (EMP_WALK_FAILED): ${walkError.hint}`, 'one map, singular');
});

t.test('nothing failed: both null in the JSON, no line under the table', async (t) => {
  const c: Collection = { ...COLLECTION_DEFAULTS, time: 0, durationMs: 1, mapsSeen: 1, bytesRead: 0, walks: 1, memoryError: null, walkError: null, maps: [map(1, {})] };
  const json = JSON.parse(snapshotJson(c)) as Record<string, unknown>;
  t.equal(json.walk_error, null);
  t.equal(json.memory_error, null);
  t.equal(snapshotTable(c).split('\n').at(-1), '1 maps');
});

t.test('a kernel that refuses the walk programs: said at the top of the JSON, per map, and under the table', async (t) => {
  const refused = new AgentError('EMP_WALK_UNSUPPORTED', 'element walks: this kernel refuses iter/sockmap programs (EPERM at load). Sockmap maps are not counted', { errno: -1, syscall: 'bpf_prog_load' });
  const notRun = { type: 'sockmap', entries: null, utilization: null, countMethod: 'none' as const, notCounted: 'needs an element walk (x), which this kernel does not run: y', notCountedReason: 'walk_unsupported' as const };
  const c: Collection = {
    ...COLLECTION_DEFAULTS, time: 0, durationMs: 1, mapsSeen: 3, bytesRead: 0, walks: 0, memoryError: null, walkError: null, walkUnsupported: refused,
    maps: [map(1, notRun), map(2, notRun), map(3, {})],
  };
  const json = JSON.parse(snapshotJson(c)) as { walk_unsupported: unknown; walk_error: unknown; maps: Array<{ id: number; count_method: string; not_counted_reason: string | null }> };
  t.same(json.walk_unsupported, { code: 'EMP_WALK_UNSUPPORTED', message: refused.message, hint: refused.hint });
  t.equal(json.walk_error, null, 'not a failed walk');
  t.same(
    json.maps.map((m) => [m.id, m.count_method, m.not_counted_reason]),
    [[3, 'kfunc', null], [1, 'none', 'walk_unsupported'], [2, 'none', 'walk_unsupported']],
    'each map with its reason',
  );
  t.equal(snapshotTable(c).split('\n').at(-1), `2 maps not counted (EMP_WALK_UNSUPPORTED): ${refused.message}`);
  t.equal(snapshotTable({ ...c, mapsSeen: 1, maps: [map(3, {})] }).split('\n').at(-1), '1 maps', 'no line while no map pays for it');
});
