// SPDX-License-Identifier: Apache-2.0
/**
 * A process's container and Kubernetes pod, from its cgroup path. The kubelet names pod
 * cgroups by uid under both drivers, and runtimes name container cgroups by container id:
 *
 *   systemd:  /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid, _ for ->.slice/cri-containerd-<id>.scope
 *             (crio-<id>.scope for CRI-O, docker-<id>.scope for Docker/cri-dockerd)
 *   cgroupfs: /kubepods/burstable/pod<uid>/<id>   (crio-<id> for CRI-O)
 *   Docker, outside Kubernetes: /system.slice/docker-<id>.scope, /docker/<id>
 *
 * Matched anywhere in the path, so nested setups (kind, a node inside a container) resolve
 * too; the innermost pod and container win. CRI-O's conmon (crio-conmon-<id>.scope) is the
 * runtime's monitor, not the container, and is not taken for it.
 */

export interface CgroupIdentity {
  /** 64 hex digits, as `crictl ps` and `docker ps --no-trunc` print it; null outside a container. */
  containerId: string | null;
  /** Which runtime's naming matched: containerd, crio, docker, or cgroupfs (bare id). */
  runtime: 'containerd' | 'crio' | 'docker' | 'cgroupfs' | null;
  /** The pod's uid with dashes (8-4-4-4-12); null outside Kubernetes. */
  podUid: string | null;
}

const UID = /^kubepods(?:-[a-z]+)?-pod([0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12})\.slice$|^pod([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const CONTAINER = /^(?:(cri-containerd|crio|docker)-)?([0-9a-f]{64})(?:\.scope)?$/;

/** The identity in one cgroup path ("/kubepods/..."). */
export function parseCgroupPath(path: string): CgroupIdentity {
  const out: CgroupIdentity = { containerId: null, runtime: null, podUid: null };
  const parts = path.split('/');
  parts.forEach((part, i) => {
    const uid = UID.exec(part);
    if (uid) {
      out.podUid = uid[1] ? uid[1].replace(/_/g, '-') : uid[2]!;
      return;
    }
    const c = CONTAINER.exec(part);
    // A bare "<64 hex>.scope" is no runtime's name; a bare id is (cgroupfs driver, /docker/<id>).
    if (!c || (c[1] === undefined && part.endsWith('.scope'))) return;
    out.containerId = c[2]!;
    const prefix = c[1] ?? (parts[i - 1] === 'docker' ? 'docker' : undefined);
    out.runtime = prefix === 'cri-containerd' ? 'containerd' : prefix === 'crio' ? 'crio' : prefix === 'docker' ? 'docker' : 'cgroupfs';
  });
  return out;
}

/**
 * The identity in /proc/<pid>/cgroup: the cgroup v2 line ("0::/path") first, then any v1
 * hierarchy's line that names a container (hosts still on v1 or hybrid).
 */
export function parseProcCgroup(text: string): CgroupIdentity & { path: string | null } {
  let v2: string | null = null;
  const v1: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3]!;
    else v1.push(m[3]!);
  }
  for (const path of [v2, ...v1]) {
    if (path === null) continue;
    const id = parseCgroupPath(path);
    if (id.containerId || id.podUid) return { ...id, path };
  }
  return { containerId: null, runtime: null, podUid: null, path: v2 };
}
