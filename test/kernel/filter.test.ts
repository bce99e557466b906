// SPDX-License-Identifier: Apache-2.0
// The filter is applied before the costly part of a collection: a map the agent does not
// report is never walked (kernels < 6.6, forced here with useKfunc: false) and never opened
// for its memory. Checked at the reader (which records it touched) and at the collector.
// On a kernel that refuses iter/bpf_map_elem (a probe decides, and the output says which
// path ran) no map is walked: there, the kept map is the only one marked walk_unsupported.
import t from 'tap';
import { Collector } from '../../src/collector';
import { makeFilter } from '../../src/filter';
import { MapStatsReader } from '../../src/native';
import { FLAG_WALK_UNSUPPORTED, parseRecords } from '../../src/records';
import { features, kernelRelease } from '../helpers/features';
import { bpftoolDumpCount, bpftoolMap, createMap, fill, WALK_EVERY_MAP } from '../helpers/kernel';
import { estimatesMemory } from '../helpers/memory-truth';

const walks = features.walkElements() === 'loads';
t.comment(walks ? `path: element walks (${kernelRelease()})` : `path: walk fallback (${kernelRelease()}: iter/bpf_map_elem ${features.walkElements()})`);

// Preallocated hash maps: without the kfunc each needs an element walk.
function made(t: Parameters<typeof createMap>[0], tag: string) {
  const keep = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 32, name: `flt_keep_${tag}` });
  fill(keep, 4, 8, 9);
  const drop = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 32, name: `flt_drop_${tag}` });
  fill(drop, 4, 8, 5);
  return { keep, drop };
}

const WALK_ALL = { ...WALK_EVERY_MAP, useKfunc: false };

t.test('reader: walks and memory only for the records select keeps', async (t) => {
  const { keep, drop } = made(t, 'r');
  const reader = new MapStatsReader(WALK_ALL);
  t.teardown(() => reader.close());
  let seen: Buffer | null = null;
  const raw = await reader.collect((buf) => {
    seen = buf;
    return Uint8Array.from(parseRecords(buf), (r) => (r.id === keep.id ? 1 : 0));
  });
  t.ok(seen, 'select was called with the records');
  const recs = parseRecords(raw.records);
  const at = (id: number) => recs.findIndex((r) => r.id === id);
  const k = at(keep.id);
  const d = at(drop.id);
  t.ok(k >= 0 && d >= 0, 'both maps are in the records');

  if (walks) {
    t.equal(raw.walks, 1, 'one walk: the kept map only');
    t.equal(recs[k]!.countMethod, 'walk');
    t.equal(recs[k]!.entries, bpftoolDumpCount(keep.id), 'the kept map counted by its walk');
  } else {
    t.equal(raw.walks, 0, 'no walk: the kernel refuses the program');
    t.equal(recs[k]!.countMethod, 'none');
    t.ok(recs[k]!.flags & FLAG_WALK_UNSUPPORTED, 'the kept map is marked: its walk is not supported');
  }
  t.equal(recs[d]!.countMethod, 'none', 'the dropped map not walked');
  t.notOk(recs[d]!.flags & FLAG_WALK_UNSUPPORTED, 'nor even considered for a walk');
  t.equal(raw.countAgeMs[d], -1, 'and has no walk age');

  t.equal(raw.memory[d], -1, 'no memory for the dropped map');
  t.equal(raw.memoryEstimated[d], 0);
  if (estimatesMemory('hash')) {
    t.equal(raw.memoryEstimated[k], 1, 'the kept map: memory estimated (< 6.4)');
    t.equal(raw.memoryReads, 0, 'so no fdinfo read at all');
  } else {
    t.equal(raw.memory[k], bpftoolMap(keep.id).bytes_memlock, "the kept map: fdinfo's memory");
    t.equal(raw.memoryReads, 1, 'one fdinfo read: the kept map only');
  }

  // Without select, the same reader walks and reads both.
  const all = await reader.collect();
  const allRecs = parseRecords(all.records);
  const dAll = allRecs.findIndex((r) => r.id === drop.id);
  if (walks) {
    t.equal(allRecs[dAll]!.countMethod, 'walk', 'without select the other map is walked too');
    t.equal(allRecs[dAll]!.entries, 5);
  } else {
    t.ok(allRecs[dAll]!.flags & FLAG_WALK_UNSUPPORTED, 'without select the other map is considered too');
  }
  t.ok(all.memory[dAll]! > 0, 'and has memory');
});

t.test('reader: a select that throws or answers wrongly rejects that collection only', async (t) => {
  const reader = new MapStatsReader();
  t.teardown(() => reader.close());
  await t.rejects(
    reader.collect(() => {
      throw new Error('select broke');
    }),
    { message: /select broke/ },
    'the error select threw',
  );
  await t.rejects(reader.collect(() => new Uint8Array(0)), { message: /one byte per record/ }, 'a wrong length');
  await t.rejects(reader.collect(() => [1] as unknown as Uint8Array), { message: /Uint8Array/ }, 'not a Uint8Array');
  const raw = await reader.collect((buf) => new Uint8Array(buf.length / 88).fill(1));
  t.ok(raw.records.length > 0, 'the reader still collects afterwards');
});

t.test('reader closed between the two turns: the collection is rejected, nothing crashes', async (t) => {
  const reader = new MapStatsReader();
  await t.rejects(
    reader.collect((buf) => {
      reader.close();
      return new Uint8Array(buf.length / 88);
    }),
    { code: 'EMP_READER_CLOSED' },
  );
});

t.test('collector: a filtered-out map is neither walked nor reported', async (t) => {
  const { keep, drop } = made(t, 'c');
  const collector = new Collector({ reader: WALK_ALL, filter: makeFilter({ includeNames: ['flt_keep_c'], excludeNames: [], includeTypes: [], excludeTypes: [] }) });
  t.teardown(() => collector.close());
  const c = await collector.collect();
  t.same(
    c.maps.map((m) => m.id),
    [keep.id],
    'only the kept map is reported',
  );
  t.ok(c.mapsSeen > c.maps.length, `every map was seen (${c.mapsSeen})`);
  if (walks) {
    t.equal(c.walks, 1, 'and only it was walked, though the other needed a walk too');
    t.equal(c.maps[0]!.entries, 9);
  } else {
    t.equal(c.walks, 0, 'and nothing was walked');
    t.equal(c.maps[0]!.notCountedReason, 'walk_unsupported', 'the kept map says why it has no count');
  }
  t.equal(bpftoolDumpCount(drop.id), 5, '(the other map holds entries a walk would have counted)');
});
