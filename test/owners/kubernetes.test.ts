// SPDX-License-Identifier: Apache-2.0
// Kubernetes names: the kubelet pod list (served on loopback: good, slow, garbage, refusing)
// and the kubelet's log directories. A bad source costs only its names: lookups never wait.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { createLogger } from '../../src/log';
import { bareContainerId, parseLogDirs, parsePodList, PodNames } from '../../src/owners/kubernetes';

const UID = '0f8e1f2a-1b2c-4d5e-8f90-123456789abc';
const ID = 'ab'.repeat(32);
const LIST = { items: [{ metadata: { name: 'web-1', namespace: 'shop', uid: UID }, status: { containerStatuses: [{ name: 'nginx', containerID: `containerd://${ID}` }] } }] };

function logger() {
  const lines: string[] = [];
  return { lines, log: createLogger('debug', (l) => lines.push(l)) };
}

async function kubelet(t: tap.Test, handler: http.RequestListener) {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.closeAllConnections() ?? server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/pods`;
}
const settings = (url: string) => ({ kubeletUrl: url, kubeletTokenFile: '', refreshMs: 60_000, timeoutMs: 300, podLogs: '', containerLogs: '' });

t.test('parsing: a PodList, runtime-prefixed ids, the log directories', async (t) => {
  const idx = parsePodList(LIST);
  t.same(idx.containers.get(ID), { pod: 'web-1', namespace: 'shop', container: 'nginx', podUid: UID });
  t.same(idx.pods.get(UID), { pod: 'web-1', namespace: 'shop' });
  t.equal(bareContainerId(`cri-o://${ID}`), ID);
  t.equal(bareContainerId('docker://short'), null);
  t.throws(() => parsePodList({ kind: 'Status' }), /not a PodList/);
  const dirs = parseLogDirs([`shop_web-1_${UID}`, 'junk'], [`web-1_shop_nginx-${ID}.log`, 'x.log']);
  t.same(dirs.pods.get(UID), { namespace: 'shop', pod: 'web-1' });
  t.same(dirs.containers.get(ID), { pod: 'web-1', namespace: 'shop', container: 'nginx', podUid: null });
});

t.test('a kubelet on loopback: names by container id, else by pod uid', async (t) => {
  let token = '';
  const dir = mkdtempSync(path.join(tmpdir(), 'emp-owners-'));
  writeFileSync(path.join(dir, 'token'), 'T0k3n\n');
  const url = await kubelet(t, (req, res) => {
    token = req.headers.authorization ?? '';
    res.end(JSON.stringify(LIST));
  });
  const { log } = logger();
  const names = new PodNames({ ...settings(url), kubeletTokenFile: path.join(dir, 'token') }, log);
  t.teardown(() => names.close());
  await names.ready();
  t.same(names.lookup(UID, ID), { pod: 'web-1', namespace: 'shop', container: 'nginx' });
  t.same(names.lookup(UID, null), { pod: 'web-1', namespace: 'shop', container: null });
  t.equal(token, 'Bearer T0k3n', 'the token file is sent');
});

t.test('built, then the event loop blocked for longer than the timeout (the BPF programs loading): the first answer still arrives', async (t) => {
  const url = await kubelet(t, (_req, res) => res.end(JSON.stringify(LIST)));
  const { log, lines } = logger();
  const names = new PodNames(settings(url), log);
  t.teardown(() => names.close());
  const until = performance.now() + 3 * settings(url).timeoutMs;
  while (performance.now() < until); // what a synchronous BPF load does to the loop
  await names.ready();
  t.same(names.lookup(UID, ID)?.pod, 'web-1', 'names from the first answer');
  t.same(lines.filter((l) => l.includes('EMP_OWNER_SOURCE')), [], 'and no warning');
});

t.test('slow, garbage, refusing: warned once, retried with backoff, lookups never wait, recovery said', async (t) => {
  for (const mode of ['slow', 'garbage', 'refused'] as const) {
    let calls = 0;
    let healthy = false;
    const url =
      mode === 'refused'
        ? 'http://127.0.0.1:49731/pods'
        : await kubelet(t, (_req, res) => {
            calls++;
            if (healthy) res.end(JSON.stringify(LIST));
            else if (mode === 'garbage') res.end('<html>not json');
            else setTimeout(() => res.end(JSON.stringify(LIST)), 2000).unref();
          });
    const { lines, log } = logger();
    const names = new PodNames(settings(url), log);
    t.teardown(() => names.close());
    const started = performance.now();
    t.equal(names.lookup(UID, ID), null, `${mode}: no names`);
    t.ok(performance.now() - started < 50, `${mode}: and the lookup did not wait for the source`);
    await sleep(700);
    names.miss();
    names.miss();
    await sleep(400);
    const warned = lines.filter((l) => l.includes('EMP_OWNER_SOURCE'));
    t.equal(warned.length, 1, `${mode}: warned once (${warned[0] ?? 'none'})`);
    if (mode === 'refused') continue;
    t.ok(calls <= 2, `${mode}: backoff holds back the retries (${calls} requests)`);
    healthy = true;
    await sleep(1200); // the 1 s backoff passes
    names.miss();
    await sleep(300);
    t.same(names.lookup(UID, ID)?.pod, 'web-1', `${mode}: names once it answers`);
    t.ok(lines.some((l) => l.includes('owner names source recovered')), `${mode}: recovery said`);
  }
});

t.test('the log directories, read by name only', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'emp-owners-logs-'));
  mkdirSync(path.join(root, 'pods', `shop_web-1_${UID}`), { recursive: true });
  mkdirSync(path.join(root, 'containers'));
  writeFileSync(path.join(root, 'containers', `web-1_shop_nginx-${ID}.log`), '');
  const { lines, log } = logger();
  const names = new PodNames({ ...settings(''), kubeletUrl: '', podLogs: path.join(root, 'pods'), containerLogs: path.join(root, 'containers') }, log);
  t.teardown(() => names.close());
  await names.ready();
  t.same(names.lookup(UID, ID), { pod: 'web-1', namespace: 'shop', container: 'nginx' });
  const absent = new PodNames({ ...settings(''), kubeletUrl: '', podLogs: path.join(root, 'nope'), containerLogs: '' }, log);
  t.teardown(() => absent.close());
  await absent.ready();
  t.equal(lines.filter((l) => l.includes('EMP_OWNER_SOURCE')).length, 0, 'no such directory (not a Kubernetes node): not warned about');
});
