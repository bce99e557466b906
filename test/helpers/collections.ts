// SPDX-License-Identifier: Apache-2.0
/**
 * Hand-built collections for tests of what reads them (pressure, exporters, views): every
 * field of MapStats and Collection with a neutral default, so a fixture names only what its
 * test is about and still type-checks when a field is added (tsconfig.test.json).
 */
import type { Collection, MapStats } from '../../src/collector';

/** A counted, empty hash map with no memory figure and no owners. */
export const MAP_DEFAULTS: MapStats = Object.freeze({
  id: 0,
  name: '',
  type: 'hash',
  keySize: 4,
  valueSize: 8,
  maxEntries: 1,
  mapFlags: 0,
  entries: 0,
  pendingBytes: null,
  utilization: 0,
  countMethod: 'kfunc',
  countAgeMs: null,
  countStale: false,
  notCounted: null,
  notCountedReason: null,
  memoryBytes: null,
  memoryEstimated: false,
  owners: null,
  copiesOwner: true,
});

/** A collection that took 1 ms and had nothing go wrong; tests add time, maps and mapsSeen. */
export const COLLECTION_DEFAULTS = Object.freeze({
  durationMs: 1,
  bytesRead: 0,
  memoryError: null,
  walks: 0,
  walkError: null,
  walkUnsupported: null,
  ownerProblems: null,
}) satisfies Omit<Collection, 'time' | 'maps' | 'mapsSeen'>;
