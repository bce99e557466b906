// SPDX-License-Identifier: Apache-2.0
// splitResourceMetrics on its own: requests of bounded size, every point kept once and in
// order, descriptors kept, and one block per scope (the Meter's and the per-map producer's
// blocks carry the same scope and arrive as one).
import t from 'tap';
import { DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { splitResourceMetrics } from '../../src/exporters';

function gauge(name: string, values: number[]): MetricData {
  return {
    descriptor: { name, description: `${name} help`, unit: 'By', valueType: 1, type: 'OBSERVABLE_GAUGE' },
    aggregationTemporality: 1,
    dataPointType: DataPointType.GAUGE,
    dataPoints: values.map((value) => ({ startTime: [0, 0], endTime: [0, 0], attributes: { v: value }, value })),
  } as unknown as MetricData;
}

const resource = resourceFromAttributes({ 'host.name': 'h' });
const points = (rm: ResourceMetrics) => rm.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.dataPoints.map((d) => `${m.descriptor.name}:${d.value as number}`)));

t.test('two blocks of one scope (equal, not identical objects) become one', async (t) => {
  const rm: ResourceMetrics = {
    resource,
    scopeMetrics: [
      { scope: { name: 'ebpf-map-pressure', version: '1.0.0' }, metrics: [gauge('a', [1, 2])] },
      { scope: { name: 'ebpf-map-pressure', version: '1.0.0' }, metrics: [gauge('b', [3])] },
      { scope: { name: 'other', version: '1.0.0' }, metrics: [gauge('c', [4])] },
    ],
  };
  const [only, ...rest] = splitResourceMetrics(rm, 100);
  t.same(rest, [], 'one part');
  t.same(only!.scopeMetrics.map((s) => [s.scope.name, s.metrics.map((m) => m.descriptor.name)]), [
    ['ebpf-map-pressure', ['a', 'b']],
    ['other', ['c']],
  ]);
  t.equal(only!.resource, resource, 'the resource in every part');
});

t.test('parts of at most maxPoints points; every point once, in order; descriptors kept', async (t) => {
  const rm: ResourceMetrics = {
    resource,
    scopeMetrics: [
      { scope: { name: 's', version: '1' }, metrics: [gauge('a', [1, 2, 3, 4, 5]), gauge('b', [6, 7])] },
      { scope: { name: 's', version: '1' }, metrics: [gauge('c', [8, 9, 10])] },
    ],
  };
  const parts = splitResourceMetrics(rm, 3);
  t.same(parts.map((p) => points(p).length), [3, 3, 3, 1]);
  t.same(parts.flatMap(points), points(rm), 'all points, in order');
  for (const p of parts) {
    t.equal(p.scopeMetrics.length, 1, 'one scope block a part');
    for (const m of p.scopeMetrics[0]!.metrics) t.equal(m.descriptor.description, `${m.descriptor.name} help`);
  }
  t.same(parts[1]!.scopeMetrics[0]!.metrics.map((m) => m.descriptor.name), ['a', 'b'], 'a metric split across parts keeps its descriptor');
});

t.test('nothing to send: the input itself, once', async (t) => {
  const rm: ResourceMetrics = { resource, scopeMetrics: [] };
  t.same(splitResourceMetrics(rm, 10), [rm]);
});
