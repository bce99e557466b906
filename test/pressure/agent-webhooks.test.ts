// SPDX-License-Identifier: Apache-2.0
// The agent with four webhooks at once — healthy, slow, answering 500, refusing connections —
// while a real map climbs through the levels: collection goes on throughout, the healthy one
// gets every transition once, each failing one is reported once, recovery once, no secrets.
import t from 'tap';
import { startAgent, parseLogLine, type LogLine } from '../helpers/agent-process';
import { refusingUrl, SECRET, startSink } from '../helpers/http-sinks';
import { createMap, fill, mapOps, u32 } from '../helpers/kernel';

const until = async (what: string, cond: () => boolean, timeoutMs = 30_000) => {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

t.test('webhooks healthy, slow, 500 and refused: the agent keeps collecting and tells the operator once', async (t) => {
  const healthy = await startSink(t, 'ok', 'healthy');
  const slow = await startSink(t, 'slow', 'slow');
  const broken = await startSink(t, 'error', 'broken');
  const refused = await refusingUrl();
  const a = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, name: 'emp_wh_a' });
  const b = createMap(t, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 100, name: 'emp_wh_b' });

  const { agent, lines } = await startAgent(t, [
    '--exporters=none',
    '--interval=200ms',
    '--filter.include-names=emp_wh_*',
    `--webhook.urls=${[healthy.url, slow.url, broken.url, refused].join(',')}`,
    '--webhook.timeout=1s',
    '--webhook.retries=1',
    '--webhook.backoff=50ms',
  ]);
  const logs = () => lines.map(parseLogLine).filter((l): l is LogLine => l !== null);
  let collections = 0;
  let whileSlowHeld = 0;
  agent.onCollection(() => {
    collections++;
    if (slow.held > 0) whileSlowHeld++;
  });

  fill(a, 4, 8, 75); // warning
  await healthy.waitFor(1);
  fill(a, 4, 8, 15, 75); // 90: critical
  await healthy.waitFor(2);
  for (let k = 10; k < 90; k++) mapOps().delete(a.fd, u32(k)); // 10: normal after two collections
  await healthy.waitFor(3);

  const failingLines = () => logs().filter((l) => l.message.startsWith('webhook delivery failing'));
  await until('three failing webhooks reported', () => failingLines().length >= 3 && slow.requests.length >= 6);
  t.ok(whileSlowHeld >= 3, `${whileSlowHeld} collections while the slow webhook held a request open`);

  broken.mode = 'ok';
  fill(b, 4, 8, 95); // critical on another map: delivered by the recovered endpoint
  await healthy.waitFor(4);
  await until('the broken webhook to recover', () => logs().some((l) => l.message === 'webhook recovered'));
  const before = collections;
  await until('collections to go on', () => collections >= before + 3);

  const failing = failingLines();
  t.same(failing.map((l) => l.fields.webhook?.slice(0, 2)).sort(), ['#2', '#3', '#4'], 'one warning per failing URL, none for the healthy one');
  t.same(failing.map((l) => l.fields.error).sort(), ['ECONNREFUSED', 'HTTP 500', 'timeout after 1000 ms']);
  const recovered = logs().filter((l) => l.message === 'webhook recovered');
  t.equal(recovered.length, 1, 'one recovery line');
  t.match(recovered[0]?.fields, { webhook: /^#3 /, lost: '3' });

  const transitions = logs().filter((l) => l.message.startsWith('map pressure'));
  t.same(transitions.map((l) => `${l.fields.name} ${l.fields.from}->${l.fields.to}`), [
    'emp_wh_a normal->warning',
    'emp_wh_a warning->critical',
    'emp_wh_a critical->normal',
    'emp_wh_b normal->critical',
  ]);
  type Batch = { event: string; transitions: Array<{ map: { name: string }; from: string; to: string }> };
  const got = healthy.requests.flatMap((r) => (r.json as Batch).transitions.map((j) => `${j.map.name} ${j.from}->${j.to}`));
  t.same(got, transitions.map((l) => `${l.fields.name} ${l.fields.from}->${l.fields.to}`), 'the healthy webhook got each transition once, in order');
  t.same(healthy.requests.map((r) => (r.json as Batch).event), ['change', 'change', 'change', 'change'], 'one notification per collection that changed something');
  t.equal(broken.requests.filter((r) => (r.json as Batch).transitions.some((j) => j.map.name === 'emp_wh_b')).length, 1, 'the recovered one got the new transition');

  for (const l of lines) t.notOk(l.includes(SECRET) || l.includes('/services/'), `no URL secret in: ${l.slice(0, 120)}`);
});
