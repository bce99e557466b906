// SPDX-License-Identifier: Apache-2.0
/**
 * `demo`: real maps of a few types filled at different rates over demo.duration (2 min)
 * while the agent runs in this process, so warnings, critical alerts, the forecast, webhooks
 * and `top` (in another terminal) light up without writing an eBPF program.
 *
 * The maps are not pinned: they live exactly as long as this process holds their fds, so they
 * are freed on every way out — the end of the demo, SIGINT/SIGTERM, even SIGKILL — and no
 * stale pin can outlive a crash. Every tool still sees them by id (bpftool map show, the
 * agent, `top`), because the agent's iterator visits every map, pinned or not.
 */
import { Agent } from '../agent';
import type { AgentConfig } from '../config';
import type { Logger } from '../log';
import { mapTypeByName } from '../map-types';
import { loadAddon, type MapOps } from '../native';

/** A fill plan: the target (a share of max_entries) at each point of the demo (0..1). */
type Plan = ReadonlyArray<readonly [at: number, share: number]>;

interface DemoMapSpec {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  plan: Plan;
  /** LRU: the plan counts inserts (the kernel evicts); others: the plan is the fill. */
  inserts?: boolean;
  /** What a newcomer should see happen. */
  story: string;
}

const BPF_F_NO_PREALLOC = 1;

/** The demo's maps. Plateaus make each level visible for a while (and in tests, certain). */
export const DEMO_MAPS: readonly DemoMapSpec[] = [
  {
    name: 'demo_conntrack',
    type: 'hash',
    keySize: 4,
    valueSize: 8,
    maxEntries: 4096,
    plan: [[0, 0], [0.3, 0.75], [0.45, 0.75], [0.7, 0.95], [1, 0.95]],
    story: 'climbs to 75 % (warning) and holds, then to 95 % (critical)',
  },
  {
    name: 'demo_flows',
    type: 'hash',
    keySize: 4,
    valueSize: 16,
    maxEntries: 1000,
    plan: [[0, 0], [0.25, 0.9], [0.35, 0.9], [0.351, 0.05], [0.45, 0.05], [0.8, 0.9], [1, 0.9]],
    story: 'fills to 90 % (critical), is emptied, refills: no forecast until it passes its old peak, the webhook cooldown holds back the repeat',
  },
  {
    name: 'demo_sessions',
    type: 'hash',
    keySize: 8,
    valueSize: 32,
    maxEntries: 2000,
    flags: BPF_F_NO_PREALLOC,
    plan: [[0, 0], [1, 0.6]],
    story: 'grows steadily to 60 %: no alert, but a growth rate and a time to full',
  },
  {
    name: 'demo_events',
    type: 'queue',
    keySize: 0,
    valueSize: 16,
    maxEntries: 512,
    plan: [[0, 0], [1, 0.85]],
    story: 'a queue nobody pops, filling slowly: warning late, critical at the very end',
  },
  {
    name: 'demo_lru_cache',
    type: 'lru_hash',
    keySize: 4,
    valueSize: 8,
    maxEntries: 1024,
    inserts: true,
    plan: [[0, 0], [0.6, 2.5], [1, 2.5]],
    story: 'an LRU cache taking 2.5x its size: full and evicting, which is how LRU works, so no alert',
  },
];

/** The plan's share at point f (0..1), linear between its points. */
export function planAt(plan: Plan, f: number): number {
  if (f <= plan[0]![0]) return plan[0]![1];
  for (let i = 1; i < plan.length; i++) {
    const [t1, v1] = plan[i]!;
    const [t0, v0] = plan[i - 1]!;
    if (f <= t1) return v0 + ((v1 - v0) * (f - t0)) / (t1 - t0);
  }
  return plan[plan.length - 1]![1];
}

interface LiveMap {
  spec: DemoMapSpec;
  fd: number;
  id: number;
  /** Live keys are lo..hi-1 (hash maps); pushes so far (queue); inserts so far (LRU). */
  lo: number;
  hi: number;
}

function keyBuf(k: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size && i < 6; i++) b[i] = Math.floor(k / 2 ** (8 * i)) & 0xff;
  return b;
}

/** Moves a map toward its plan's target at point f. */
function step(ops: MapOps, m: LiveMap, f: number): void {
  const { spec } = m;
  const target = Math.round(planAt(spec.plan, f) * spec.maxEntries);
  const have = spec.inserts || spec.type === 'queue' ? m.hi : m.hi - m.lo;
  if (target > have) {
    const r = ops.fill(m.fd, spec.keySize, spec.valueSize, m.hi, target - have);
    // A full map refuses inserts (E2BIG): the plan never asks for more than it holds.
    m.hi += r.inserted;
  } else if (target < have && !spec.inserts && spec.type !== 'queue') {
    for (let n = have - target; n > 0; n--) ops.delete(m.fd, keyBuf(m.lo++, spec.keySize));
  }
}

export interface DemoResult {
  maps: Array<{ name: string; id: number }>;
}

/**
 * Runs the demo: creates the maps, starts the agent over them, fills them until
 * demo.duration has passed or a signal comes, then stops the agent and frees the maps.
 */
export async function demo(config: AgentConfig, log: Logger, options: { signal?: AbortSignal } = {}): Promise<DemoResult> {
  const ops = loadAddon().mapOps;
  const duration = config.demo.durationMs;
  const live: LiveMap[] = [];
  const freeAll = () => {
    for (const m of live.splice(0)) {
      try {
        ops.close(m.fd);
      } catch {
        // Already closed: nothing to free.
      }
    }
  };
  try {
    for (const spec of DEMO_MAPS) {
      const fd = ops.createMap({
        type: mapTypeByName(spec.type)!.id,
        keySize: spec.keySize,
        valueSize: spec.valueSize,
        maxEntries: spec.maxEntries,
        flags: spec.flags ?? 0,
        name: spec.name,
      });
      live.push({ spec, fd, id: ops.mapId(fd), lo: 0, hi: 0 });
    }
  } catch (e) {
    freeAll();
    throw e;
  }
  const result: DemoResult = { maps: live.map((m) => ({ name: m.spec.name, id: m.id })) };

  const agentConfig: AgentConfig = {
    ...config,
    intervalMs: config.demo.intervalMs,
    exporters: config.demo.export ? config.exporters : ['none'],
    // Only the demo's maps: the rest of the host would add its own alerts to the show.
    filter: { ...config.filter, includeNames: ['demo_*'] },
    pressure: {
      ...config.pressure,
      summaryIntervalMs: config.pressure.summaryIntervalMs || Math.max(1000, Math.round(duration / 8)),
    },
  };
  const agent = new Agent(agentConfig, log);

  let stopReason = 'finished';
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    stopReason = signal;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  options.signal?.addEventListener('abort', () => {
    stopReason = 'aborted';
    stop();
  });

  let filler: NodeJS.Timeout | null = null;
  let end: NodeJS.Timeout | null = null;
  try {
    await agent.start();
    for (const m of live) log.info('demo map created', { name: m.spec.name, id: m.id, type: m.spec.type, max_entries: m.spec.maxEntries, plan: m.spec.story });
    log.info('demo running: watch it with `ebpf-map-pressure top` in another terminal; Ctrl-C stops it', {
      duration_ms: duration,
      interval_ms: agentConfig.intervalMs,
      webhooks: config.webhook.urls.length,
    });
    const start = Date.now();
    const tickMs = Math.max(10, Math.min(100, Math.round(duration / 400)));
    const tick = () => {
      const f = Math.min(1, (Date.now() - start) / duration);
      for (const m of live) {
        try {
          step(ops, m, f);
        } catch (e) {
          log.warn('demo: a map update failed', { name: m.spec.name, error: (e as Error).message });
        }
      }
    };
    filler = setInterval(tick, tickMs);
    end = setTimeout(() => stop(), duration);
    await stopped;
    tick();
  } finally {
    if (filler) clearInterval(filler);
    if (end) clearTimeout(end);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    try {
      await agent.stop();
    } finally {
      freeAll();
    }
  }
  log.info('demo stopped; its maps are freed', { reason: stopReason });
  return result;
}
