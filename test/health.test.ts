// SPDX-License-Identifier: Apache-2.0
// /healthz and /readyz: readiness rules against a source with a controlled clock, the HTTP
// listener (routes, methods, bind errors), the configuration section, and the `run` CLI
// serving both while it collects real maps (and nothing when the endpoint is off).
import * as net from 'node:net';
import t from 'tap';
import type { Collection } from '../src/collector';
import { loadConfig } from '../src/config';
import { AgentError, isAgentError } from '../src/errors';
import { type HealthSource, maxAgeMs, readiness, startHealthServer } from '../src/health';
import { startAgentProcess } from './helpers/agent-process';
import { createMap, fill } from './helpers/kernel';
import { freePort } from './helpers/otlp-receiver';
import { COLLECTION_DEFAULTS, MAP_DEFAULTS } from './helpers/collections';
import { poll } from './helpers/wait';

function collection(time: number, maps = 3): Collection {
  return {
    ...COLLECTION_DEFAULTS,
    time,
    durationMs: 1,
    maps: Array.from({ length: maps }, (_, i) => ({
      ...MAP_DEFAULTS,
      id: i + 1,
      name: `m${i}`,
      type: 'hash',
      keySize: 4,
      valueSize: 4,
      maxEntries: 10,
      mapFlags: 0,
      entries: 1,
      pendingBytes: null,
      utilization: 0.1,
      countMethod: 'kfunc' as const,
      notCounted: null,
      memoryBytes: 100,
    })),
    mapsSeen: maps,
    bytesRead: 88 * maps,
    memoryError: null,
  };
}

/** A source whose latest collection and error the test sets. */
function fakeSource(): HealthSource & { latestValue: Collection | null; error: AgentError | null } {
  const s = {
    latestValue: null as Collection | null,
    error: null as AgentError | null,
    latest: () => s.latestValue,
    lastError: () => s.error,
  };
  return s;
}

t.test('readiness: needs a successful, recent collection', async (t) => {
  t.equal(maxAgeMs(10_000), 25_000, '2.5 intervals');
  t.equal(maxAgeMs(1000), 6000, 'at least the interval plus 5 s for short intervals');
  const src = fakeSource();
  const now = 1_000_000;
  t.match(readiness(src, 10_000, now), { ready: false, reason: 'no collection yet', maps: null, last_collection_age_ms: null });
  src.latestValue = collection(now - 4000, 7);
  t.match(readiness(src, 10_000, now), { ready: true, reason: 'ok', maps: 7, last_collection_age_ms: 4000, max_age_ms: 25_000 });
  src.latestValue = collection(now - 25_000);
  t.equal(readiness(src, 10_000, now).ready, true, 'exactly at the limit: still ready');
  src.latestValue = collection(now - 25_001);
  t.match(readiness(src, 10_000, now), { ready: false, reason: 'last collection is stale' });
  src.latestValue = collection(now - 1000);
  src.error = new AgentError('EMP_COLLECT_FAILED', 'boom');
  t.match(readiness(src, 10_000, now), { ready: false, reason: 'last collection failed', error_code: 'EMP_COLLECT_FAILED' }, 'a failed attempt wins over an older success');
});

t.test('server: routes, methods, status codes follow the source', async (t) => {
  const src = fakeSource();
  let now = 5_000_000;
  const server = await startHealthServer(src, { host: '127.0.0.1', port: 0, intervalMs: 2000, now: () => now });
  t.teardown(() => server.close());
  const url = (p: string) => `http://127.0.0.1:${server.port}${p}`;

  const live = await fetch(url('/healthz'));
  t.equal(live.status, 200, '/healthz answers while nothing has been collected');
  t.equal(await live.text(), 'ok\n');

  let ready = await fetch(url('/readyz'));
  t.equal(ready.status, 503, '/readyz: 503 before the first collection');
  t.equal(ready.headers.get('content-type'), 'application/json');
  t.match(await ready.json(), { ready: false, reason: 'no collection yet' });

  src.latestValue = collection(now - 100, 2);
  ready = await fetch(url('/readyz'));
  t.equal(ready.status, 200, '/readyz: 200 after a fresh collection');
  t.match(await ready.json(), { ready: true, maps: 2, last_collection_age_ms: 100 });

  now += maxAgeMs(2000) + 1;
  t.equal((await fetch(url('/readyz'))).status, 503, '/readyz: 503 once the collection is stale');
  src.latestValue = collection(now);
  src.error = new AgentError('EMP_PERMISSION', 'denied');
  ready = await fetch(url('/readyz'));
  t.equal(ready.status, 503, '/readyz: 503 while collections fail');
  t.match(await ready.json(), { error_code: 'EMP_PERMISSION' });
  src.error = null;
  t.equal((await fetch(url('/readyz?verbose=1'))).status, 200, 'a query string is ignored; recovered');

  const head = await fetch(url('/readyz'), { method: 'HEAD' });
  t.equal(head.status, 200, 'HEAD works');
  t.equal(await head.text(), '', 'HEAD has no body');
  const post = await fetch(url('/healthz'), { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
  t.equal((await fetch(url('/metrics'))).status, 404, 'nothing else is served');
});

t.test('server: an address in use is EMP_HEALTH_LISTEN', async (t) => {
  const first = await startHealthServer(fakeSource(), { host: '127.0.0.1', port: 0, intervalMs: 1000 });
  t.teardown(() => first.close());
  const err = await startHealthServer(fakeSource(), { host: '127.0.0.1', port: first.port, intervalMs: 1000 }).catch((e: unknown) => e);
  t.ok(isAgentError(err), 'a coded error');
  t.equal((err as AgentError).code, 'EMP_HEALTH_LISTEN');
  t.equal((err as AgentError).exitCode, 1);
});

t.test('server: a host that does not resolve or is not on this host is EMP_BAD_HOST (exit 2)', async (t) => {
  for (const host of ['no-such-host.invalid', '192.0.2.1']) {
    const err = await startHealthServer(fakeSource(), { host, port: 0, intervalMs: 1000 }).catch((e: unknown) => e);
    t.equal((err as AgentError).code, 'EMP_BAD_HOST', host);
    t.equal((err as AgentError).exitCode, 2, `${host}: a configuration error`);
    t.match((err as AgentError).message, `health.host ${JSON.stringify(host)}`, `${host}: the key and the value`);
    t.match((err as AgentError).hint, /EMP_HEALTH_HOST/, `${host}: the fix names the variable`);
  }
});

t.test('config: off by default, loopback, env and flags', async (t) => {
  const d = loadConfig({ env: {} }).config.health;
  t.same(d, { enabled: false, host: '127.0.0.1', port: 9465 });
  const e = loadConfig({ env: { EMP_HEALTH_ENABLED: 'true', EMP_HEALTH_HOST: '0.0.0.0', EMP_HEALTH_PORT: '8086' } }).config.health;
  t.same(e, { enabled: true, host: '0.0.0.0', port: 8086 });
  const f = loadConfig({ env: {}, args: ['--health.enabled=true', '--health.port=9999'] }).config.health;
  t.same(f, { enabled: true, host: '127.0.0.1', port: 9999 });
  for (const bad of [{ EMP_HEALTH_PORT: '70000' }, { EMP_HEALTH_ENABLED: 'yes please' }]) {
    const err = (() => {
      try {
        loadConfig({ env: bad });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    t.equal((err as AgentError).code, 'EMP_CONFIG_INVALID', `rejected: ${JSON.stringify(bad)}`);
    t.match((err as Error).message, /health\./, 'the message names the key');
  }
});

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

t.test('run: serves /healthz and /readyz while collecting real maps; off by default', async (t) => {
  const m = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 32, name: 'hz_probe' });
  fill(m, 4, 8, 5);
  const port = await freePort();
  const agent = startAgentProcess(t, ['run', '--exporters=none', '--interval=1s', '--health.enabled=true', `--health.port=${port}`]);
  await agent.waitForLog((l) => l.message === 'health endpoint listening', 'health endpoint listening');
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  const body = await poll('/readyz 200', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/readyz`);
    return r.status === 200 ? ((await r.json()) as { maps: number; reason: string }) : undefined;
  }, 30_000);
  t.equal(body.reason, 'ok');
  t.ok(body.maps >= 1, `the agent counted maps (${body.maps})`);
  t.equal((await agent.stop()).code, 0, 'SIGTERM: exit 0');
  t.ok(await refused(port), 'the listener is gone after exit');

  const offPort = await freePort();
  const off = startAgentProcess(t, ['run', '--exporters=none', '--interval=1s', `--health.port=${offPort}`]);
  await off.waitForLog((l) => l.message === 'agent started', 'agent started');
  t.ok(await refused(offPort), 'health.enabled defaults to false: nothing listens');
  t.notOk(off.logs().some((l) => l.message === 'health endpoint listening'));
  await off.stop();
});
