// SPDX-License-Identifier: Apache-2.0
// Child process for test/kernel/fallback.test.ts, in plain JavaScript on the built agent
// (dist/): it makes a preallocated hash map, collects once as on a kernel without the kfunc
// (so the map needs an element walk) and prints what the agent reported, as JSON. The test
// runs it with fewer capabilities to see how a walk fails.
'use strict';
const { loadAddon } = require('../../dist/native');
const { Collector } = require('../../dist/collector');

const ops = loadAddon().mapOps;
const fd = ops.createMap({ type: 1, keySize: 4, valueSize: 8, maxEntries: 16, name: 'walk_child' });
ops.fill(fd, 4, 8, 0, 5);
const id = ops.mapId(fd);
const collector = new Collector({ reader: { useKfunc: false, readMemory: false } });
collector
  .collect()
  .then((c) => {
    const m = c.maps.find((x) => x.id === id);
    const walkError = c.walkError && { code: c.walkError.code, errno: c.walkError.errno };
    const walkUnsupported = c.walkUnsupported && { code: c.walkUnsupported.code };
    const { countMethod, entries, notCounted, notCountedReason } = m || {};
    process.stdout.write(`${JSON.stringify({ walkError, walkUnsupported, countMethod, entries, notCounted, notCountedReason })}\n`);
  })
  .finally(async () => {
    await collector.close();
    ops.close(fd);
  });
