// SPDX-License-Identifier: Apache-2.0
/**
 * Debian's VictoriaMetrics as a real OTLP backend on loopback: the server binary from
 * scripts/victoria-metrics.sh (downloaded once, cached), started on a port and a storage
 * directory of the test's, stopped and started again on both (a backend outage), and asked
 * through its Prometheus query API.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/**
 * The server binary: EMP_VICTORIA_METRICS_BIN, else what scripts/victoria-metrics.sh prints
 * (which downloads it the first time). Throws with the script's own words when it fails.
 */
export function victoriaMetricsBinary(): string {
  const given = process.env.EMP_VICTORIA_METRICS_BIN;
  if (given) return given;
  try {
    return execFileSync('bash', [path.join(ROOT, 'scripts', 'victoria-metrics.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 }).trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`scripts/victoria-metrics.sh could not provide VictoriaMetrics: ${err.stderr?.trim() || err.message}`);
  }
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** One series of /api/v1/export: raw samples as stored, timestamps in ms. */
export interface RawSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

export interface VictoriaMetrics {
  readonly port: number;
  /** Where the agent pushes OTLP/HTTP protobuf. */
  readonly otlpEndpoint: string;
  /** Starts the server (again: same port, same storage) and waits until /health answers. */
  start(): Promise<void>;
  /** SIGTERM, and waits for the exit (VictoriaMetrics flushes its storage on the way). */
  stop(): Promise<void>;
  /** Instant query (at `time`, seconds, or now); throws on a non-success answer. */
  query(q: string, time?: number): Promise<Sample[]>;
  queryRange(q: string, start: number, end: number, stepS: number): Promise<RangeSeries[]>;
  /** Raw samples of the series a selector matches, between two times in ms. */
  exportRaw(selector: string, startMs: number, endMs: number): Promise<RawSeries[]>;
  /** Every metric name stored. */
  names(): Promise<string[]>;
  /** The server's stderr, for failure messages. */
  log(): string;
}

export function victoriaMetrics(t: Teardown, options: { bin: string; port: number; storageDir: string }): VictoriaMetrics {
  const base = `http://127.0.0.1:${options.port}`;
  const lines: string[] = [];
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const get = async <T>(p: string, params: Record<string, string | number>): Promise<T> => {
    const qs = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
    const res = await fetch(`${base}${p}?${qs}`);
    const body = await res.text();
    if (!res.ok) throw new Error(`VictoriaMetrics ${p}?${qs}: HTTP ${res.status}: ${body.slice(0, 500)}`);
    return (p === '/api/v1/export' ? body : JSON.parse(body)) as T;
  };
  const data = async <T>(p: string, params: Record<string, string | number>): Promise<T> => {
    const r = await get<{ status: string; data: T; error?: string }>(p, params);
    if (r.status !== 'success') throw new Error(`VictoriaMetrics ${p} ${JSON.stringify(params)}: ${r.error ?? r.status}`);
    return r.data;
  };

  const vm: VictoriaMetrics = {
    port: options.port,
    otlpEndpoint: `${base}/opentelemetry/v1/metrics`,
    async start() {
      if (child) throw new Error('VictoriaMetrics is already running');
      const c = spawn(
        options.bin,
        [
          `-httpListenAddr=127.0.0.1:${options.port}`,
          `-storageDataPath=${options.storageDir}`,
          // Stored names equal the Prometheus exporters' (units, _ratio, _total); labels are
          // attribute keys with `.` as `_`, resource attributes included.
          '-opentelemetry.usePrometheusNaming',
          // A sample is visible to queries at once (default: 30 s later), and no query answer
          // is cached: the test asks again while data arrives.
          '-search.latencyOffset=0s',
          '-search.disableCache',
          '-loggerLevel=WARN',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      c.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
      child = c;
      exited = new Promise((resolve) => c.once('exit', () => resolve()));
      const end = Date.now() + 30_000;
      for (;;) {
        if (c.exitCode !== null || c.signalCode !== null) throw new Error(`VictoriaMetrics exited at start (${c.exitCode ?? c.signalCode}):\n${vm.log()}`);
        try {
          if ((await fetch(`${base}/health`)).ok) return;
        } catch {
          // not listening yet
        }
        if (Date.now() > end) throw new Error(`VictoriaMetrics did not answer /health within 30 s:\n${vm.log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      const c = child;
      if (!c) return;
      child = null;
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      const killer = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
    async query(q, time) {
      return (await data<{ result: Sample[] }>('/api/v1/query', { query: q, ...(time !== undefined && { time }) })).result;
    },
    async queryRange(q, start, end, stepS) {
      return (await data<{ result: RangeSeries[] }>('/api/v1/query_range', { query: q, start, end, step: `${stepS}s` })).result;
    },
    async exportRaw(selector, startMs, endMs) {
      const body = await get<string>('/api/v1/export', { 'match[]': selector, start: startMs / 1000, end: endMs / 1000 });
      return body
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as RawSeries);
    },
    async names() {
      return data<string[]>('/api/v1/label/__name__/values', {});
    },
    log: () => lines.join('').slice(-4000),
  };
  t.teardown(() => vm.stop());
  return vm;
}
