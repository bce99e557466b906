// SPDX-License-Identifier: Apache-2.0
/**
 * Health endpoints for supervisors (Kubernetes probes, load balancers, scripts):
 *   GET /healthz  200 while the process serves requests (liveness);
 *   GET /readyz   200 when the last collection succeeded and is recent, 503 otherwise.
 * A listener of its own, off by default and on loopback unless configured: the Prometheus
 * endpoint belongs to the SDK's exporter and may be off, but probes are needed either way.
 * It reads only what the agent hands out (latest collection, current failure), never the kernel.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Collection } from './collector';
import type { AgentError } from './errors';
import { listenError } from './listen';

/** What the health endpoint reads from the agent. */
export interface HealthSource {
  latest(): Collection | null;
  /** The error of the last collection attempt, null when it succeeded (or none failed yet). */
  lastError(): AgentError | null;
}

export interface HealthOptions {
  host: string;
  port: number;
  /** The collection interval: a collection older than maxAgeMs(intervalMs) is stale. */
  intervalMs: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface Readiness {
  ready: boolean;
  /** Why not ready; "ok" when ready. */
  reason: 'ok' | 'no collection yet' | 'last collection failed' | 'last collection is stale';
  /** Age of the latest successful collection, ms; null before the first. */
  last_collection_age_ms: number | null;
  /** Oldest a collection may be for readiness. */
  max_age_ms: number;
  maps: number | null;
  /** Code of the failing collection, when it fails. */
  error_code: string | null;
}

/**
 * 2.5 intervals (at least the interval plus 5 s): one collection may be late or fail without
 * flapping readiness; two in a row may not. The same bound the metric producer uses for
 * "stale", so /readyz is 503 exactly when the exporters stop sending per-map series.
 */
export function maxAgeMs(intervalMs: number): number {
  return Math.max(intervalMs * 2.5, intervalMs + 5000);
}

/** Readiness of a source at a time. */
export function readiness(source: HealthSource, intervalMs: number, now: number): Readiness {
  const latest = source.latest();
  const error = source.lastError();
  const max = maxAgeMs(intervalMs);
  const age = latest ? Math.max(0, now - latest.time) : null;
  const base = { last_collection_age_ms: age, max_age_ms: max, maps: latest ? latest.maps.length : null, error_code: error?.code ?? null };
  if (error) return { ready: false, reason: 'last collection failed', ...base };
  if (!latest || age === null) return { ready: false, reason: 'no collection yet', ...base };
  if (age > max) return { ready: false, reason: 'last collection is stale', ...base };
  return { ready: true, reason: 'ok', ...base };
}

export interface HealthServer {
  /** The port it listens on (the configured one, or the one picked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, method: string | undefined, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(method === 'HEAD' ? undefined : body);
}

/** Starts the listener; rejects with EMP_HEALTH_LISTEN when the address cannot be bound. */
export async function startHealthServer(source: HealthSource, options: HealthOptions): Promise<HealthServer> {
  const now = options.now ?? Date.now;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/readyz') return send(res, req.method, 404, 'not found: try /healthz or /readyz\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, req.method, 405, 'method not allowed\n');
    }
    if (path === '/healthz') return send(res, req.method, 200, 'ok\n');
    const r = readiness(source, options.intervalMs, now());
    send(res, req.method, r.ready ? 200 : 503, `${JSON.stringify(r)}\n`, 'application/json');
  });
  // Probes are tiny; a client that opens a connection and sends nothing must not hold it.
  server.requestTimeout = 5000;
  server.headersTimeout = 5000;
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        listenError(e, {
          what: 'health endpoint',
          section: 'health',
          host: options.host,
          port: options.port,
          hostEnv: 'EMP_HEALTH_HOST',
          otherwise: 'EMP_HEALTH_LISTEN',
        }),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  let closing: Promise<void> | null = null;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
