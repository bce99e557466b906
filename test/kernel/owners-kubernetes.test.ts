// SPDX-License-Identifier: Apache-2.0
// Owners in Kubernetes and with fewer privileges, on the real kernel, against the truth: cgroup
// directories shaped as kubelets make them, a pod list served on loopback, and the snapshot
// CLI under reduced capabilities. Split from owners.test.ts so that tap's two workers share the
// guests' longest work (each child and CLI run starts node, seconds under emulation).
import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import t from 'tap';
import { runBuiltCli } from '../helpers/cli';
import { fixtures } from '../helpers/fixtures';
import { find, holdMapInChild } from '../helpers/kernel';
import { cgroupDir, ownersCollector, pinDir } from '../helpers/owners';

// One collector with owners for the file (loading the iterators is what costs in a guest).
const shared = ownersCollector();
t.teardown(() => shared.close());
const collectOwners = async () => shared.withFreshOwners(await shared.collect());
t.setTimeout(1_800_000);

const withCaps = (caps: string[]) => ['setpriv', '--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=-all${caps.map((c) => `,+${c}`).join('')}`, '--reuid=0', '--'];

const UID = '0f8e1f2a-1b2c-4d5e-8f90-123456789abc';
const ID = (n: number) => `${n}`.repeat(64).slice(0, 64).replace(/[^0-9a-f]/g, 'a');
const KUBEPODS = [
  ['systemd, containerd', `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${ID(1)}.scope`, ID(1)],
  ['systemd, CRI-O', `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice/crio-${ID(2)}.scope`, ID(2)],
  ['systemd, Docker', `kubepods.slice/kubepods-pod${UID.replace(/-/g, '_')}.slice/docker-${ID(3)}.scope`, ID(3)],
  ['cgroupfs, containerd', `kubepods/burstable/pod${UID}/${ID(4)}`, ID(4)],
  ['cgroupfs, CRI-O', `kubepods/besteffort/pod${UID}/crio-${ID(5)}`, ID(5)],
  ['cgroupfs, Docker', `kubepods/pod${UID}/${ID(6)}`, ID(6)],
] as const;

t.test('cgroups shaped like kubepods (both drivers, three runtimes): pod uid and container id', async (t) => {
  // One process, moved from one cgroup to the next (a child per case costs a node start each).
  const held = await holdMapInChild(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 2, name: 'own_pod' });
  for (const [what, rel, id] of KUBEPODS) {
    const cg = cgroupDir(t, rel);
    cg.move(held.child.pid!);
    t.match(execFileSync('cat', [`/proc/${held.child.pid}/cgroup`], { encoding: 'utf8' }), rel, `${what}: truth, the child is in ${rel}`);
    const o = find(await collectOwners(), held.id)?.owners?.processes?.[0];
    t.equal(o?.podUid, UID, `${what}: pod uid`);
    t.equal(o?.containerId, id, `${what}: container id`);
  }
  await held.kill();
});

t.test('a kubelet pod list served on loopback: namespace, pod and container names', async (t) => {
  const [, rel, id] = KUBEPODS[0];
  const cg = cgroupDir(t, rel);
  const held = await holdMapInChild(t, { type: 'array', keySize: 4, valueSize: 4, maxEntries: 2, name: 'own_named' });
  cg.move(held.child.pid!);
  const podList = {
    kind: 'PodList',
    items: [{ metadata: { name: 'conntrack-7d9f', namespace: 'kube-system', uid: UID }, status: { containerStatuses: [{ name: 'agent', containerID: `containerd://${id}` }] } }],
  };
  const server = http.createServer((_req, res) => res.end(JSON.stringify(podList)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pods`;
  const collector = ownersCollector(['--owners.kubelet.url', url]);
  t.teardown(() => collector.close());
  const o = find(await collector.withFreshOwners(await collector.collect()), held.id)?.owners?.processes?.[0];
  t.same([o?.namespace, o?.pod, o?.container, o?.podUid], ['kube-system', 'conntrack-7d9f', 'agent', UID], 'names from the pod list');
  const table = await runBuiltCli(['snapshot', '--pressure.snapshot-interval=0', '--owners.kubelet.url', url, '--filter.include-names', 'own_named']);
  t.match(table.stdout, /own_named\s+array\s+kube-system\/conntrack-7d9f\b/, 'the OWNER column says namespace/pod');
});

t.test('privileges: CAP_BPF + CAP_PERFMON see every owner; so does CAP_SYS_ADMIN alone', async (t) => {
  const held = await holdMapInChild(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, name: 'own_priv' });
  const dir = pinDir(t, 'priv');
  const made = fixtures().pinnedIterLink(path.join(dir, 'own_priv_link'));
  for (const caps of [['bpf', 'perfmon'], ['sys_admin']]) {
    const r = await runBuiltCli(['snapshot', '--output', 'json', '--pressure.snapshot-interval=0', '--filter.include-names', 'own_priv,own_link_map'], { wrapper: withCaps(caps) });
    t.equal(r.code, 0, `${caps.join('+')}: works; ${r.stderr}`);
    const out = JSON.parse(r.stdout) as {
      owners_unsupported: unknown;
      maps: Array<{ id: number; owners: Array<{ pid: number }> | null; programs: Array<{ id: number }> | null; pins: string[] | null; owners_unknown: unknown }>;
    };
    t.equal(out.owners_unsupported, null, `${caps.join('+')}: every owner iterator loads`);
    const m = out.maps.find((x) => x.id === held.id);
    t.same(m?.owners?.map((o) => o.pid), [held.child.pid], `${caps.join('+')}: the holder`);
    const l = out.maps.find((x) => x.id === made.mapId);
    t.same(l?.programs?.map((p) => p.id), [made.progId], `${caps.join('+')}: the program`);
    t.same(l?.pins, [path.join(dir, 'own_priv_link')], `${caps.join('+')}: the link pin (opened as the uid that owns it)`);
  }
});
