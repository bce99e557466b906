// SPDX-License-Identifier: Apache-2.0
/**
 * The real CLI agent as a child process (`node bin/ebpf-map-pressure.js run`, exporting OTLP
 * over HTTP to a local sink), and what it costs: CPU time and RSS read from /proc.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type OtlpSink, startOtlpSink } from './sink';
import { median, sleep } from './stats';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'ebpf-map-pressure.js');

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU the process has used so far: /proc/<pid>/stat utime+stime, and the schedstat sum (ns-exact). */
export function cpuSeconds(pid: number): { stat: number; schedstat: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { stat: ticks / ticksPerSecond(), schedstat: ns / 1e9 };
}

/** Resident set size, bytes (/proc/<pid>/status VmRSS). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export interface RunningAgent {
  readonly child: ChildProcess;
  readonly sink: OtlpSink;
  readonly intervalS: number;
  /** Runtime tuning it runs with (the defaults: none). */
  readonly tuning: Tuning;
  /** Everything the agent wrote to stderr (its log). */
  readonly log: string[];
  stop(): Promise<void>;
}

/** Starts the CLI agent exporting to a fresh local sink, with a clean environment. */
/** Node.js flags and environment (allocator settings) an agent runs with; `label` names it in reports. */
export interface Tuning {
  label: string;
  nodeFlags: readonly string[];
  env: Readonly<Record<string, string>>;
  /** Also serve Prometheus and scrape /metrics this many times at once, every 10 s. */
  scrapes?: number;
}

export const DEFAULTS: Tuning = { label: 'defaults', nodeFlags: [], env: {} };

/** Ports of the scraped agents' Prometheus endpoints (this project's bench range). */
let nextPort = 47900;

/**
 * `n` scrapes of /metrics at once, each read to its end, a round every 10 s (a round starts
 * only once the last has ended: scrapes never pile up); stop() ends them.
 */
function startScraper(port: number, n: number): { stop(): void } {
  let stopped = false;
  let busy = false;
  const round = async () => {
    await Promise.all(
      Array.from({ length: n }, async () => {
        try {
          await (await fetch(`http://127.0.0.1:${port}/metrics`)).arrayBuffer();
        } catch {
          // the agent is starting or stopping
        }
      }),
    );
  };
  const timer = setInterval(() => {
    if (stopped || busy) return;
    busy = true;
    void round().finally(() => (busy = false));
  }, 10_000);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

export async function startRunningAgent(intervalS: number, tuning: Tuning = DEFAULTS): Promise<RunningAgent> {
  const sink = await startOtlpSink();
  const port = tuning.scrapes ? nextPort++ : 0;
  const exporters = tuning.scrapes ? ['--exporters=otlp,prometheus', `--prometheus.port=${port}`] : ['--exporters=otlp'];
  const child = spawn(
    process.execPath,
    [...tuning.nodeFlags, BIN, 'run', `--interval=${intervalS}s`, ...exporters, '--otlp.protocol=http/protobuf', `--otlp.endpoint=${sink.url}`],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...tuning.env } },
  );
  const scraper = tuning.scrapes ? startScraper(port, tuning.scrapes) : null;
  const log: string[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => log.push(...d.split('\n').filter((l) => l !== '')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    sink,
    intervalS,
    tuning,
    log,
    async stop() {
      scraper?.stop();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
      await sink.close();
    },
  };
}

/** Resolves once the agent has made `n` export requests (or rejects if it exits first). */
export async function waitForRequests(a: RunningAgent, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (a.sink.requests.length < n) {
    if (a.child.exitCode !== null || a.child.signalCode !== null)
      throw new Error(`the agent exited (${a.child.exitCode ?? a.child.signalCode}):\n${a.log.slice(-10).join('\n')}`);
    if (Date.now() > deadline) throw new Error(`no export from the agent within ${timeoutMs} ms:\n${a.log.slice(-10).join('\n')}`);
    await sleep(50);
  }
}

export interface RunningFigures {
  intervalS: number;
  tuning: Tuning;
  windowS: number;
  /** CPU over the window, % of one core, from /proc/<pid>/stat (10 ms ticks). */
  cpuPct: number;
  /** The same from the threads' schedstat (ns resolution). */
  cpuPctSchedstat: number;
  rssMedianBytes: number;
  rssMaxBytes: number;
  rssSamples: number;
  /** Export requests the sink received in the window, and their largest body. */
  requests: number;
  maxRequestBytes: number;
  /** Maps on the host during the window (other processes' maps come and go): median, min, max. */
  mapsSeen: number;
  mapsSeenMin: number;
  mapsSeenMax: number;
}

/**
 * Measures agents over one shared window of `windowS` seconds, sampling RSS every second.
 * The window starts right after the slowest-interval agent's export arrives, so it holds a
 * whole number of its cycles. `countMaps` is asked every 10 s how many maps the host has.
 */
export async function measureRunning(agents: RunningAgent[], windowS: number, countMaps: () => Promise<number>): Promise<RunningFigures[]> {
  const slowest = agents.reduce((a, b) => (b.intervalS > a.intervalS ? b : a));
  const seen = slowest.sink.requests.length;
  await waitForRequests(slowest, seen + 1, slowest.intervalS * 3000 + 30_000);
  // Let the rest of that export's requests land before the window opens.
  await sleep(200);
  const start = agents.map((a) => ({ cpu: cpuSeconds(a.child.pid!), requests: a.sink.requests.length }));
  const t0 = process.hrtime.bigint();
  const rss: number[][] = agents.map(() => []);
  const maps: number[] = [await countMaps()];
  for (let s = 0; s < windowS; s++) {
    await sleep(1000 - (Number(process.hrtime.bigint() - t0) / 1e6 - s * 1000));
    agents.forEach((a, i) => rss[i]!.push(rssBytes(a.child.pid!)));
    if (s % 10 === 9) maps.push(await countMaps());
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return agents.map((a, i) => {
    const end = cpuSeconds(a.child.pid!);
    const inWindow = a.sink.requests.slice(start[i]!.requests);
    return {
      intervalS: a.intervalS,
      tuning: a.tuning,
      windowS: wall,
      cpuPct: ((end.stat - start[i]!.cpu.stat) / wall) * 100,
      cpuPctSchedstat: ((end.schedstat - start[i]!.cpu.schedstat) / wall) * 100,
      rssMedianBytes: median(rss[i]!),
      rssMaxBytes: Math.max(...rss[i]!),
      rssSamples: rss[i]!.length,
      requests: inWindow.length,
      maxRequestBytes: Math.max(0, ...inWindow.map((r) => r.bytes)),
      mapsSeen: median(maps),
      mapsSeenMin: Math.min(...maps),
      mapsSeenMax: Math.max(...maps),
    };
  });
}
