// SPDX-License-Identifier: Apache-2.0
/**
 * Kubernetes names (pod, namespace, container) for the pod uids and container ids found in
 * cgroup paths, from node-local, read-only sources; no API server, no cluster-wide RBAC:
 *
 * - the kubelet's pod list (`owners.kubelet.url`, a JSON PodList: the read-only port
 *   `http://127.0.0.1:10255/pods`, or `https://127.0.0.1:10250/pods` with
 *   `owners.kubelet.token_file`, which needs the `nodes/proxy` permission);
 * - the kubelet's log directories (`paths.pod_logs`, `paths.container_logs`), which every
 *   kubelet writes: `/var/log/pods/<namespace>_<pod>_<uid>/` and
 *   `/var/log/containers/<pod>_<namespace>_<container>-<container id>.log`. Names only: no file
 *   is opened.
 *
 * Each source refreshes on its own timer, and early when a lookup misses; a lookup never
 * waits: it answers from what the last refresh found. A source that is unreachable, slow or
 * answers garbage keeps its last good answer, is warned about once (EMP_OWNER_SOURCE),
 * retried with exponential backoff, and said to have recovered once it does.
 */
import { readdir, readFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Logger } from '../log';

export interface PodName {
  pod: string;
  namespace: string;
  container: string | null;
}

export interface PodNameSource {
  /** Names for a pod uid and container id, from the cache; null when unknown. Never waits. */
  lookup(podUid: string | null, containerId: string | null): PodName | null;
  /** Something was not found: refresh soon (rate-limited by the backoff). Never waits. */
  miss(): void;
  /** Changes whenever a refresh brings a new answer (owners built from the old one are stale). */
  generation?(): number;
  /** Settles once every source has answered or failed once (bounded by its timeout): for one-shot views. */
  ready?(): Promise<void>;
  close(): void;
}

/** What one refresh found: pods by uid, containers by id. */
export interface PodIndex {
  pods: Map<string, { pod: string; namespace: string }>;
  containers: Map<string, PodName & { podUid: string | null }>;
}

const MAX_BACKOFF_MS = 5 * 60_000;
const MIN_MISS_INTERVAL_MS = 2000;
const MAX_NAME = 253;

/** A name from outside, as it may go into a label: printable, bounded. */
function cleanName(v: unknown): string | null {
  if (typeof v !== 'string' || v.length === 0) return null;
  // eslint-disable-next-line no-control-regex -- control bytes are what this escapes
  return v.slice(0, MAX_NAME).replace(/[\x00-\x1f\x7f-\x9f\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** "containerd://<id>", "cri-o://<id>", "docker://<id>" -> the bare 64-hex id. */
export function bareContainerId(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const m = /^[a-z-]+:\/\/([0-9a-f]{64})$/.exec(v);
  return m ? m[1]! : null;
}

/** A kubelet PodList (`/pods`) -> the index; throws on anything that is not one. */
export function parsePodList(json: unknown): PodIndex {
  const items = (json as { items?: unknown })?.items;
  if (!json || typeof json !== 'object' || !Array.isArray(items)) throw new Error('not a PodList: no "items" array');
  const index: PodIndex = { pods: new Map(), containers: new Map() };
  for (const item of items) {
    const meta = (item as { metadata?: Record<string, unknown> })?.metadata;
    const pod = cleanName(meta?.name);
    const namespace = cleanName(meta?.namespace);
    const uid = typeof meta?.uid === 'string' && /^[0-9a-f-]{36}$/.test(meta.uid) ? meta.uid : null;
    if (!pod || !namespace) continue;
    if (uid) index.pods.set(uid, { pod, namespace });
    const status = (item as { status?: Record<string, unknown> })?.status ?? {};
    for (const key of ['containerStatuses', 'initContainerStatuses', 'ephemeralContainerStatuses']) {
      const list = status[key];
      if (!Array.isArray(list)) continue;
      for (const c of list) {
        const id = bareContainerId((c as { containerID?: unknown })?.containerID);
        const name = cleanName((c as { name?: unknown })?.name);
        if (id && name) index.containers.set(id, { pod, namespace, container: name, podUid: uid });
      }
    }
  }
  return index;
}

/** Directory names of the kubelet's log directories -> the index. */
export function parseLogDirs(podDirs: readonly string[], containerLinks: readonly string[]): PodIndex {
  const index: PodIndex = { pods: new Map(), containers: new Map() };
  // Namespaces and pod names are DNS names: no "_" in either, so the split is exact.
  for (const d of podDirs) {
    const m = /^([a-z0-9-]+)_([a-z0-9.-]+)_([0-9a-f-]{36})$/.exec(d);
    if (m) index.pods.set(m[3]!, { namespace: m[1]!, pod: m[2]! });
  }
  for (const f of containerLinks) {
    const m = /^([a-z0-9.-]+)_([a-z0-9-]+)_([a-z0-9-]+)-([0-9a-f]{64})\.log$/.exec(f);
    if (m) index.containers.set(m[4]!, { pod: m[1]!, namespace: m[2]!, container: m[3]!, podUid: null });
  }
  return index;
}

/** A refreshing cache of one source: timer, early refresh on a miss, backoff, warn once. */
class Refreshing {
  index: PodIndex | null = null;
  /** Refreshes that brought an answer. */
  generation = 0;
  #timer: NodeJS.Timeout | null = null;
  #inFlight = false;
  #failures = 0;
  #nextAllowed = 0;
  #lastStart = -Infinity;
  #closed = false;
  /** Settles after the first refresh, answered or failed. */
  readonly first: Promise<void>;
  #settleFirst!: () => void;

  constructor(
    readonly label: string,
    private readonly fetch: () => Promise<PodIndex>,
    private readonly refreshMs: number,
    private readonly log: Logger,
    /** A source that is simply absent (no such directory) is not warned about. */
    private readonly quietWhenAbsent = false,
  ) {
    this.first = new Promise((resolve) => (this.#settleFirst = resolve));
    // Not from inside the constructor: whoever builds the sources goes on to load the BPF
    // programs synchronously (seconds in an emulated guest), and a request started before
    // that would see its timeout fire before its answer is read.
    setImmediate(() => this.refresh());
  }

  refresh(): void {
    if (this.#inFlight || this.#closed) return;
    const now = Date.now();
    if (now < this.#nextAllowed) return;
    this.#inFlight = true;
    this.#lastStart = now;
    this.fetch().then(
      (index) => {
        this.index = index;
        this.generation++;
        if (this.#failures > 0) this.log.info('owner names source recovered', { source: this.label, failures: this.#failures });
        this.#failures = 0;
        this.#nextAllowed = 0;
      },
      (e: NodeJS.ErrnoException) => {
        const absent = this.quietWhenAbsent && e.code === 'ENOENT';
        if (this.#failures === 0 && !absent)
          this.log.warn('owner names source failed; pod names are missing until it answers (retried with backoff)', {
            code: 'EMP_OWNER_SOURCE',
            source: this.label,
            error: (e.message ?? String(e)).split('\n')[0],
          });
        this.#failures++;
        this.#nextAllowed = Date.now() + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.#failures - 1, 20));
      },
    ).finally(() => {
      this.#inFlight = false;
      this.#settleFirst();
      this.#schedule();
    });
  }

  miss(): void {
    if (Date.now() - this.#lastStart >= MIN_MISS_INTERVAL_MS) this.refresh();
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    const wait = Math.max(this.refreshMs, this.#nextAllowed - Date.now());
    this.#timer = setTimeout(() => this.refresh(), wait);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
  }
}

export interface PodNameSettings {
  /** The kubelet's pod list; '' to not ask the kubelet. */
  kubeletUrl: string;
  /** A bearer token file for the kubelet's authenticated port; '' for none. */
  kubeletTokenFile: string;
  refreshMs: number;
  timeoutMs: number;
  /** The kubelet's log directories; '' to not read them. */
  podLogs: string;
  containerLogs: string;
}

const MAX_BODY = 64 << 20;

/** GET a URL with a timeout and a size cap; the body as text. */
function get(url: string, headers: Record<string, string>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    // The kubelet's serving certificate is self-signed on most clusters: the token goes only
    // to the loopback or node address configured here.
    const req = lib.get(u, { headers, timeout: timeoutMs, ...(u.protocol === 'https:' && { rejectUnauthorized: false }) }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode} from ${u.protocol}//${u.host}${u.pathname}`));
        return;
      }
      let size = 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`answer over ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** The kubelet pod list and the log directories, asked in that order. */
export class PodNames implements PodNameSource {
  readonly #sources: Refreshing[] = [];

  constructor(settings: PodNameSettings, log: Logger) {
    if (settings.kubeletUrl) {
      const url = settings.kubeletUrl;
      this.#sources.push(
        new Refreshing(
          `kubelet ${new URL(url).host}`,
          async () => {
            const headers: Record<string, string> = { accept: 'application/json' };
            if (settings.kubeletTokenFile) headers.authorization = `Bearer ${(await readFile(settings.kubeletTokenFile, 'utf8')).trim()}`;
            return parsePodList(JSON.parse(await get(url, headers, settings.timeoutMs)));
          },
          settings.refreshMs,
          log,
        ),
      );
    }
    if (settings.podLogs || settings.containerLogs) {
      this.#sources.push(
        new Refreshing(
          `log directories ${settings.podLogs || settings.containerLogs}`,
          async () => {
            const list = async (dir: string) => (dir ? await readdir(dir) : []);
            const [pods, containers] = await Promise.all([list(settings.podLogs), list(settings.containerLogs)]);
            return parseLogDirs(pods, containers);
          },
          settings.refreshMs,
          log,
          true,
        ),
      );
    }
  }

  lookup(podUid: string | null, containerId: string | null): PodName | null {
    let found: PodName | null = null;
    for (const s of this.#sources) {
      const index = s.index;
      if (!index) continue;
      const c = containerId ? index.containers.get(containerId) : undefined;
      if (c) return { pod: c.pod, namespace: c.namespace, container: c.container };
      const p = podUid ? index.pods.get(podUid) : undefined;
      if (p && !found) found = { pod: p.pod, namespace: p.namespace, container: null };
    }
    return found;
  }

  miss(): void {
    for (const s of this.#sources) s.miss();
  }

  async ready(): Promise<void> {
    await Promise.all(this.#sources.map((s) => s.first));
  }

  generation(): number {
    let n = 0;
    for (const s of this.#sources) n += s.generation;
    return n;
  }

  close(): void {
    for (const s of this.#sources) s.close();
  }
}
