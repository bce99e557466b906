// SPDX-License-Identifier: Apache-2.0
// Owner resolution from a recorded pass (test/fixtures/owners-6.18.json, recorded on the host
// by test/helpers/recorded.ts: a held map, a process in a kubepods cgroup, a pinned map, a
// program whose link is pinned and whose loader exited), replayed without root.
import * as path from 'node:path';
import t from 'tap';
import { Collector } from '../../src/collector';
import type { RawOwners } from '../../src/native';
import type { PodNameSource } from '../../src/owners/kubernetes';
import { OWNERS_PENDING } from '../../src/owners/model';
import { parseFdRecords } from '../../src/owners/records';
import { OwnerResolver, type OwnerSettings } from '../../src/owners/resolver';
import { copiedOwnerAttributes, ownerInfoPoints } from '../../src/owners/series';
import { parseRecords } from '../../src/records';
import { loadRecording, RecordedOwnerSource, RecordedSource } from '../helpers/recorded';

const rec = loadRecording(path.join(__dirname, '..', 'fixtures', 'owners-6.18.json'));
const ids = new Map(parseRecords(rec.collection.records).map((r) => [r.name, r.id]));
const id = (name: string) => ids.get(name)!;
const SETTINGS: OwnerSettings = { intervalMs: 0, collectionIntervalMs: 1000, budgetMs: 50, maxPerMap: 10, pins: true, bpffs: '/sys/fs/bpf' };
const readCgroup = (pid: number) => rec.cgroups[pid] ?? null;

function resolver(passes: RawOwners[] = [rec.owners], o: { support?: RecordedOwnerSource['support']; names?: PodNameSource | null; settings?: Partial<OwnerSettings> } = {}) {
  const source = new RecordedOwnerSource(passes, o.support);
  return { source, r: new OwnerResolver(source, { ...SETTINGS, ...o.settings }, { readCgroup, names: o.names ?? null }) };
}
const all = () => new Set(ids.values());

t.test('the recorded host: holders, pods, pins, and a map held only by its pinned link', async (t) => {
  const { r } = resolver();
  t.equal(r.owners(id('own_held')), OWNERS_PENDING, 'before any pass: pending, not "no owner"');
  await r.refresh(all());
  const held = r.owners(id('own_held'));
  t.same(held.processes?.map((p) => [p.comm, p.via, p.containerId]), [['node', 'map', null]], 'own_held: the node process holding it');
  const pod = r.owners(id('own_in_pod')).processes?.[0];
  t.equal(pod?.podUid, '0f8e1f2a-1b2c-4d5e-8f90-123456789abc', 'own_in_pod: pod uid from the systemd-driver path');
  t.equal(pod?.containerId, 'ab'.repeat(32), 'and the containerd id');
  const pinned = r.owners(id('own_pinned'));
  t.same([pinned.processes, pinned.programs, pinned.pins], [[], [], ['/sys/fs/bpf/emp-owners-test/rec/own_pinned']], 'own_pinned: its pin, nothing else');
  const linked = r.owners(id('own_link_map'));
  t.same(linked.programs?.map((p) => [p.name, p.type, p.attachTo]), [['own_link_prog', 'tracing', 'bpf_iter_bpf_map']], 'own_link_map: its program');
  t.same(linked.pins, ['/sys/fs/bpf/emp-owners-test/rec/own_link'], "and its program's link pin");
  t.same(linked.processes, [], 'no process holds it or its link');
  t.equal(linked.unknown, null, 'all known');
});

t.test('a part the kernel lacks is "not supported (needs ...)" per map, never "no owner"', async (t) => {
  const eperm = Object.assign(new Error('EPERM: operation not permitted, bpf_prog_load'), { code: 'EPERM', errno: -1, syscall: 'bpf_prog_load', kind: 'load' as const, hint: 'this kernel refuses iter/task_file programs' });
  const raw: RawOwners = { ...rec.owners, fds: Buffer.alloc(0), fdsError: eperm };
  const { r } = resolver([raw], { support: { processes: eperm, programs: null } });
  const table = await r.refresh(all());
  const o = r.owners(id('own_held'));
  t.equal(o.processes, null, 'processes unknown');
  t.match(o.unknown?.processes, /^not supported \(needs iter\/task_file\)/, 'and why');
  t.ok(o.programs, 'programs still known');
  t.equal(table.problems.unsupported?.code, 'EMP_OWNERS_UNSUPPORTED', 'one coded problem for the agent to log once');
});

t.test('a failed pass keeps the last owners; the cap counts the rest; the first owner stays first', async (t) => {
  const failed: RawOwners = { ...rec.owners, fds: Buffer.alloc(0), fdsError: Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read', kind: 'system' as const }) };
  const { r } = resolver([rec.owners, failed]);
  await r.refresh(all());
  const before = r.owners(id('own_held')).processes;
  const t2 = await r.refresh(all());
  t.equal(t2.problems.failed?.code, 'EMP_OWNERS_FAILED');
  t.same(r.owners(id('own_held')).processes, before, 'the previous holders are kept, no flap to empty');

  // Two holders of one map: the pass lists the recorder's rodata map under one process only,
  // so make a second by duplicating a record under another pid.
  const fds = Buffer.from(rec.owners.fds);
  const extra = Buffer.from(fds.subarray(0, 96));
  extra.writeUInt32LE(1, 8); // pid 1, before everyone
  const two: RawOwners = { ...rec.owners, fds: Buffer.concat([fds, extra]) };
  const mapId = extra.readUInt32LE(16);
  const { r: r2 } = resolver([rec.owners, two], { settings: { maxPerMap: 1 } });
  await r2.refresh(all());
  const first = r2.owners(mapId).processes?.[0]?.pid;
  await r2.refresh(all());
  const after = r2.owners(mapId);
  t.equal(after.processes?.[0]?.pid, first, 'the first owner stays first although pid 1 sorts before it');
  t.equal(after.processes?.length, 1, 'owners.max_per_map 1');
  t.equal(after.processesOmitted, 1, 'the other counted');
  const points = ownerInfoPoints([{ id: mapId, name: 'x', type: 'hash', owners: after } as never], 1);
  t.equal(points.omitted[0]?.value, 1, 'ebpf.map.owners.omitted says so');
});

t.test('Kubernetes names from a source; the series carry them; a miss asks the source again', async (t) => {
  let misses = 0;
  const names: PodNameSource = {
    lookup: (uid) => (uid === '0f8e1f2a-1b2c-4d5e-8f90-123456789abc' && misses > 0 ? { pod: 'p1', namespace: 'ns1', container: 'c1' } : null),
    miss: () => void misses++,
    close: () => undefined,
  };
  const { r } = resolver([rec.owners], { names });
  await r.refresh(all());
  t.equal(misses, 1, 'a pod uid without names asks for a refresh, without waiting');
  t.equal(r.owners(id('own_in_pod')).processes?.[0]?.pod, null, 'no names yet');
  await r.refresh(all());
  const o = r.owners(id('own_in_pod'));
  t.same([o.processes?.[0]?.namespace, o.processes?.[0]?.pod, o.processes?.[0]?.container], ['ns1', 'p1', 'c1'], 'names once the source has them');
  const m = { id: id('own_in_pod'), name: 'own_in_pod', type: 'array', owners: o, copiesOwner: true } as never;
  t.same(copiedOwnerAttributes(m, ['k8s.namespace.name', 'k8s.pod.name']), { 'k8s.namespace.name': 'ns1', 'k8s.pod.name': 'p1' }, 'copied onto per-map series');
  const info = ownerInfoPoints([m], 10).owner.find((p) => p.attributes['process.pid'] !== undefined);
  t.match(info?.attributes, { 'k8s.pod.uid': '0f8e1f2a-1b2c-4d5e-8f90-123456789abc', 'container.id': 'ab'.repeat(32), 'k8s.namespace.name': 'ns1', 'ebpf.map.name': 'own_in_pod' }, 'ebpf.map.owner: semantic-convention attributes');
});

t.test('the collector takes its source by injection and attaches the latest pass, never waiting by default', async (t) => {
  const { source, r } = resolver();
  const collector = new Collector({ source: new RecordedSource(rec), owners: r });
  const c1 = await collector.collect();
  t.equal(c1.maps.find((m) => m.id === id('own_held'))?.owners, OWNERS_PENDING, 'the first collection: pending (the pass runs beside it)');
  await r.settled();
  t.equal(source.reads, 1, 'one pass started by the collection');
  const c2 = await collector.collect();
  t.equal(c2.maps.find((m) => m.id === id('own_held'))?.owners?.processes?.[0]?.comm, 'node', 'the next one: owners');
  await collector.close();
});

t.test('with ownersWaitMs, the first collection waits for the pass and has the owners, copied from then on', async (t) => {
  const { source, r } = resolver();
  const collector = new Collector({ source: new RecordedSource(rec), owners: r, ownersWaitMs: 1000 });
  const c1 = await collector.collect();
  const m = c1.maps.find((x) => x.id === id('own_held'));
  t.equal(m?.owners?.processes?.[0]?.comm, 'node', 'the first collection: owners, not pending');
  t.equal(source.reads, 1, 'from the one pass it started');
  t.same(copiedOwnerAttributes(m!, ['process.command']), { 'process.command': 'node' }, 'copied onto its series from the first collection');
  const c2 = await collector.collect();
  t.equal(c2.maps.find((x) => x.id === id('own_held'))?.copiesOwner, true, 'and the next');
  await collector.close();
});

t.test('a pass slower than the wait: the map goes without copied attributes, and stays so once its owners are known', async (t) => {
  // The first read answers after 300 ms, the collection waits 50 ms at most.
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  class SlowFirst extends RecordedOwnerSource {
    override async read(): Promise<RawOwners> {
      if (this.reads === 0) await gate;
      return super.read();
    }
  }
  const source = new SlowFirst([rec.owners]);
  const r = new OwnerResolver(source, SETTINGS, { readCgroup, names: null });
  const collector = new Collector({ source: new RecordedSource(rec), owners: r, ownersWaitMs: 50 });
  const started = performance.now();
  const c1 = await collector.collect();
  const waited = performance.now() - started;
  t.ok(waited >= 45 && waited < 300, `the collection waited the bound, not the pass: ${Math.round(waited)} ms`);
  const first = c1.maps.find((x) => x.id === id('own_held'))!;
  t.equal(first.owners, OWNERS_PENDING, 'not covered in time: pending');
  t.equal(first.copiesOwner, false, 'so its series copy no owner attributes');
  release();
  await r.settled();
  for (let i = 0; i < 3; i++) {
    const m = (await collector.collect()).maps.find((x) => x.id === id('own_held'))!;
    t.equal(m.owners?.processes?.[0]?.comm, 'node', `collection ${i + 2}: its owners are known`);
    t.same(copiedOwnerAttributes(m, ['process.command']), {}, `collection ${i + 2}: still none copied (one attribute set for the map's life)`);
  }
  const other = c1.maps.find((x) => x.id === id('own_pinned'))!;
  t.equal(other.copiesOwner, false, 'every map of that first collection alike');
  await collector.close();
});

t.test("the agent's own fds count only for its own programs' maps; an unchanged answer is not rebuilt", async (t) => {

  const fds = parseFdRecords(rec.owners.fds);
  // The recorder (the agent of the recording) holds its program's .rodata map and programs.
  const agentPid = fds.find((r) => r.kind === 'prog')!.pid;
  const rodata = fds.find((r) => r.pid === agentPid && r.kind === 'map')!.id;
  // Pretend the agent had opened own_held for a memory read while the pass ran.
  const transient = Buffer.from(rec.owners.fds.subarray(0, 96));
  transient.writeUInt32LE(agentPid, 8);
  transient.writeUInt32LE(1, 4);
  transient.writeUInt32LE(id('own_held'), 16);
  const raw: RawOwners = { ...rec.owners, fds: Buffer.concat([rec.owners.fds, transient]) };
  const source = new RecordedOwnerSource([raw]);
  const r = new OwnerResolver(source, SETTINGS, { readCgroup, names: null, selfPid: agentPid });
  const first = await r.refresh(all());
  t.ok(r.owners(rodata).processes?.some((p) => p.pid === agentPid), "its own program's map: the agent owns it");
  t.notOk(r.owners(id('own_held')).processes?.some((p) => p.pid === agentPid), 'a map it only opened for a moment: not');
  const second = await r.refresh(all());
  t.equal(second.byMap, first.byMap, 'the same records again: the same table, not rebuilt');
});
