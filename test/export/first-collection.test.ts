// SPDX-License-Identifier: Apache-2.0
// On the real kernel: a map created while collections run, held by a child process. Its very
// first exported point (OTLP and the Prometheus exposition alike) already carries the owner
// attributes owners.copy_attributes copies, and every later point the same attribute set, so
// a push backend keeps one series per map, not one without the owner and one with it (issue 11).
import * as path from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import t from 'tap';
import type { Collection } from '../../src/collector';
import { OtlpEncoder } from '../../src/export/encode';
import { PrometheusExposition } from '../../src/export/prometheus';
import { SCOPE } from '../../src/metrics/scope';
import { ATTR, METRICS, prometheusName } from '../../src/metrics/table';
import { OWNER_ATTR } from '../../src/owners/model';
import { decodeRequest, type Point } from '../helpers/otlp-receiver';
import { holdMapInChild } from '../helpers/kernel';
import { ownersCollector, pinDir } from '../helpers/owners';

const resource = resourceFromAttributes({ 'host.name': 'of-host', 'service.name': 'ebpf-map-pressure' });
const COPY = [OWNER_ATTR.executable];
const OWNERS = { maxPerMap: 10, copyAttributes: COPY };
const ENTRIES = prometheusName(METRICS.entries);

t.test('a map created mid-run: its first exported point has the copied owner attributes, and every later one the same', async (t) => {
  // The default interval's wait bound (half of it) is what the agent runs with; the pin walk
  // covers this test's own (empty) directory only.
  const collector = ownersCollector(['--interval=2s', '--filter.include-names=of_*', `--paths.bpffs=${pinDir(t, 'of-first')}`, `--owners.copy-attributes=${COPY.join(',')}`]);
  t.teardown(() => collector.close());
  const encoder = new OtlpEncoder({ resource, scope: SCOPE, maxRequestBytes: 1 << 20, owners: OWNERS });
  const exposition = new PrometheusExposition({ resource, scope: SCOPE, owners: OWNERS });
  const points: Point[] = [];
  const lines: string[] = [];
  // One collection exported as the agent exports it: encoded for OTLP, rendered for scrapes.
  const exportOne = async (): Promise<Collection> => {
    const c = await collector.collect();
    points.push(...encoder.encode(c, null, [], c.time - 1000).flatMap((r) => decodeRequest(r.bytes).points));
    exposition.render(c, null, []);
    lines.push(...exposition.body.toString('utf8').split('\n').filter((l) => l.startsWith(`${ENTRIES}{`)));
    return c;
  };

  // Collections run, and owner passes with them, before the map exists.
  for (let i = 0; i < 3; i++) await exportOne();
  const held = await holdMapInChild(t, { type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, name: 'of_first' });
  const first = await exportOne();
  const m = first.maps.find((x) => x.id === held.id);
  t.ok(m, 'the map is in the first collection after it was made');
  t.equal(m?.owners?.processes?.[0]?.pid, held.child.pid, 'with its owner, the child, already known');
  for (let i = 0; i < 3; i++) await exportOne();

  const ours = points.filter((p) => p.metric === METRICS.entries.name && p.attributes[ATTR.id] === held.id);
  t.equal(ours.length, 4, 'four collections of the map exported, none lost');
  t.equal(ours[0]?.timeUnixNano, first.time * 1e6, 'the first point is of the collection that first saw the map');
  const exe = path.basename(process.execPath);
  t.equal(ours[0]?.attributes[OWNER_ATTR.executable], exe, `OTLP: its first point carries ${OWNER_ATTR.executable}="${exe}"`);
  t.same(new Set(ours.map((p) => JSON.stringify(p.attributes))).size, 1, 'OTLP: every point has the same attribute set: one series');

  const prom = lines.filter((l) => l.includes(`ebpf_map_id="${held.id}"`));
  t.equal(prom.length, 4, 'four renderings of the map on the exposition');
  t.match(prom[0], `process_executable_name="${exe}"`, 'Prometheus: its first sample has the copied label');
  t.same(new Set(prom.map((l) => l.slice(0, l.lastIndexOf(' ')))).size, 1, 'Prometheus: every sample has the same labels: one series');
});
