// SPDX-License-Identifier: Apache-2.0
/**
 * Scenario 6: bytes of the OTLP requests the agent sends. A collection at a scale is encoded
 * whole (one request, no bound) and as the agent splits it (at the default
 * otlp.max_request_bytes); a synthetic worst case (longest escaped names, longest type and
 * count-method strings, largest ids) says what a point can weigh.
 */
import type { Collection, MapStats } from '../../src/collector';
import { parseSize, SCHEMA } from '../../src/config';
import { OtlpEncoder } from '../../src/export/encode';
import { SCOPE } from '../../src/metrics/scope';
import { buildResource } from '../../src/resource';
import { type AgentPipeline, countBytes, countPoints } from '../lib/pipeline';
import type { ExportSizeResult, WorstCaseExport } from '../lib/results';

/** What the agent's requests should stay under: half the gRPC default limit of 4 MiB. */
export const REQUEST_LIMIT_BYTES = 2 * 1024 * 1024;

export const DEFAULT_MAX_REQUEST_BYTES = parseSize(SCHEMA.otlp.max_request_bytes.default);

const encoder = (maxRequestBytes: number) => new OtlpEncoder({ resource: buildResource({ machineIdFile: '/etc/machine-id' }), scope: SCOPE, maxRequestBytes });

export async function measureExportSize(pipeline: AgentPipeline, benchMaps: number, maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES): Promise<ExportSizeResult> {
  const whole = await pipeline.requests(encoder(2 ** 31));
  const parts = await pipeline.requests(encoder(maxRequestBytes));
  const points = countPoints(whole);
  const unsplit = countBytes(whole);
  return {
    benchMaps,
    points,
    unsplitBytes: unsplit,
    maxRequestBytes,
    requests: parts.length,
    largestRequestBytes: Math.max(...parts.map((p) => p.bytes.length)),
    bytesPerPoint: unsplit / points,
    wireLargestRequestBytes: null,
  };
}

/**
 * The heaviest request the default can produce: every string at its longest. The maps are
 * copies of a real one from `template` (so every field the collector fills is there) with
 * the size-relevant fields replaced.
 */
export async function worstCaseExport(template: Collection, maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES): Promise<WorstCaseExport> {
  const model = template.maps.find((m) => m.entries !== null);
  if (!model) throw new Error('the template collection has no counted map');
  // A kernel name is at most 15 bytes; every byte escaped is \xHH, 60 characters.
  const name = '\\xe9'.repeat(15);
  const maps: MapStats[] = [];
  for (let i = 0; i < 20_000; i++) {
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
  const parts = encoder(maxRequestBytes).encode(c, null, [], c.time);
  const heaviest = parts.reduce((a, b) => (b.bytes.length > a.bytes.length ? b : a));
  return { bytesPerPoint: heaviest.bytes.length / heaviest.points, maxRequestBytes, requestBytes: heaviest.bytes.length, limitBytes: REQUEST_LIMIT_BYTES };
}
