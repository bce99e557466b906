// SPDX-License-Identifier: Apache-2.0
import t from 'tap';
import { parseCgroupPath, parseProcCgroup } from '../../src/owners/cgroup';

const UID = '0f8e1f2a-1b2c-4d5e-8f90-123456789abc';
const U = UID.replace(/-/g, '_');
const ID = 'ab'.repeat(32);

t.test('kubepods paths: both drivers, three runtimes, nesting', async (t) => {
  const cases: Array<[string, string, string | null, string | null, string | null]> = [
    ['systemd containerd', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U}.slice/cri-containerd-${ID}.scope`, UID, ID, 'containerd'],
    ['systemd CRI-O', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${U}.slice/crio-${ID}.scope`, UID, ID, 'crio'],
    ['systemd Docker', `/kubepods.slice/kubepods-pod${U}.slice/docker-${ID}.scope`, UID, ID, 'docker'],
    ['cgroupfs containerd', `/kubepods/burstable/pod${UID}/${ID}`, UID, ID, 'cgroupfs'],
    ['cgroupfs CRI-O', `/kubepods/besteffort/pod${UID}/crio-${ID}`, UID, ID, 'crio'],
    ['kind: a node in a container', `/docker/${'cd'.repeat(32)}/kubepods/pod${UID}/${ID}`, UID, ID, 'cgroupfs'],
    ['the pod, no container (sandbox level)', `/kubepods.slice/kubepods-pod${U}.slice`, UID, null, null],
    ['Docker outside Kubernetes (systemd)', `/system.slice/docker-${ID}.scope`, null, ID, 'docker'],
    ['Docker outside Kubernetes (cgroupfs)', `/docker/${ID}`, null, ID, 'docker'],
    ["CRI-O's conmon is not the container", `/kubepods.slice/kubepods-pod${U}.slice/crio-conmon-${ID}.scope`, UID, null, null],
    ['a plain service', '/system.slice/ssh.service', null, null, null],
    ['an id-shaped scope no runtime named', `/user.slice/${ID}.scope`, null, null, null],
    ['a uid of the wrong shape', `/kubepods/podnot-a-uid/${ID}`, null, ID, 'cgroupfs'],
  ];
  for (const [what, p, uid, id, runtime] of cases) t.same(parseCgroupPath(p), { podUid: uid, containerId: id, runtime }, what);
});

t.test('/proc/<pid>/cgroup: the v2 line first, v1 lines that name a container otherwise', async (t) => {
  t.equal(parseProcCgroup(`0::/kubepods/pod${UID}/${ID}\n`).containerId, ID, 'pure v2');
  const hybrid = `4:memory:/kubepods/pod${UID}/${ID}\n1:name=systemd:/kubepods/pod${UID}/${ID}\n0::/\n`;
  t.same([parseProcCgroup(hybrid).podUid, parseProcCgroup(hybrid).path], [UID, `/kubepods/pod${UID}/${ID}`], 'hybrid with the process in v1 only');
  t.same(parseProcCgroup('0::/\n'), { containerId: null, runtime: null, podUid: null, path: '/' }, 'the root: nothing');
  t.same(parseProcCgroup('garbage'), { containerId: null, runtime: null, podUid: null, path: null }, 'garbage: nothing, no throw');
});
