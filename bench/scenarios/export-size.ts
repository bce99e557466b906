// SPDX-License-Identifier: Apache-2.0
/**
 * Scenario 6: bytes of the OTLP requests the agent sends. The reader's output at a scale is
 * encoded whole and as the agent splits it (splitResourceMetrics at the configured default of
 * otlp.max_points_per_request); a synthetic worst case (longest escaped names, longest type
 * and count-method strings, largest ids) bounds what a request can weigh at that default.
 */
import type { Collection, MapStats } from '../../src/collector';
import { SCHEMA } from '../../src/config';
import { splitResourceMetrics } from '../../src/exporters';
import { MapMetricsProducer } from '../../src/metrics/producer';
import { buildResource } from '../../src/resource';
import { countPoints, encodeOtlp, type AgentPipeline } from '../lib/pipeline';
import type { ExportSizeResult, WorstCaseExport } from '../lib/results';

/** What the agent's requests should stay under: half the gRPC default limit of 4 MiB. */
export const REQUEST_LIMIT_BYTES = 2 * 1024 * 1024;

export const DEFAULT_MAX_POINTS = SCHEMA.otlp.max_points_per_request.default;

export async function measureExportSize(pipeline: AgentPipeline, benchMaps: number, maxPoints = DEFAULT_MAX_POINTS): Promise<ExportSizeResult> {
  const rm = await pipeline.resourceMetrics();
  const points = countPoints(rm);
  const unsplit = encodeOtlp(rm).length;
  const parts = splitResourceMetrics(rm, maxPoints).map((p) => encodeOtlp(p).length);
  return {
    benchMaps,
    points,
    unsplitBytes: unsplit,
    maxPointsPerRequest: maxPoints,
    requests: parts.length,
    largestRequestBytes: Math.max(...parts),
    bytesPerPoint: unsplit / points,
    wireLargestRequestBytes: null,
  };
}

/**
 * The heaviest request the default can produce: every string at its longest. The maps are
 * copies of a real one from `template` (so every field the collector fills is there) with
 * the size-relevant fields replaced.
 */
export async function worstCaseExport(template: Collection, maxPoints = DEFAULT_MAX_POINTS): Promise<WorstCaseExport> {
  const model = template.maps.find((m) => m.entries !== null);
  if (!model) throw new Error('the template collection has no counted map');
  // A kernel name is at most 15 bytes; every byte escaped is \xHH, 60 characters.
  const name = '\\xe9'.repeat(15);
  const maps: MapStats[] = [];
  for (let i = 0; i < maxPoints * 2; i++) {
    maps.push({
      ...model,
      id: 2 ** 31 - 1 - i,
      name,
      type: 'lru_percpu_hash',
      maxEntries: 2 ** 32 - 1,
      entries: 2 ** 32 - 2,
      pendingBytes: null,
      utilization: 0.999999,
      countMethod: 'kernel_counter',
      memoryBytes: 2 ** 40,
    });
  }
  const c: Collection = { ...template, time: Date.now(), maps, mapsSeen: maps.length };
  const { resourceMetrics } = await new MapMetricsProducer({ latest: () => c }, 60_000).collect();
  const rm = { ...resourceMetrics, resource: buildResource({ machineIdFile: '/etc/machine-id' }) };
  const parts = splitResourceMetrics(rm, maxPoints);
  let heaviest = 0;
  let heaviestPoints = 1;
  for (const p of parts) {
    const bytes = encodeOtlp(p).length;
    if (bytes > heaviest) {
      heaviest = bytes;
      heaviestPoints = countPoints(p);
    }
  }
  return { bytesPerPoint: heaviest / heaviestPoints, maxPointsPerRequest: maxPoints, requestBytes: heaviest, limitBytes: REQUEST_LIMIT_BYTES };
}
