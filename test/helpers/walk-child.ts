// SPDX-License-Identifier: Apache-2.0
// Child process for the fallback tests: makes a preallocated hash map, collects once as on a
// kernel without the kfunc (so the map needs an element walk) and prints what the agent
// reported, as JSON. Run with fewer capabilities to see how a walk fails.
import { collectOnce } from './kernel';
import { loadAddon } from '../../src/native';

const ops = loadAddon().mapOps;
const fd = ops.createMap({ type: 1, keySize: 4, valueSize: 8, maxEntries: 16, name: 'walk_child' });
ops.fill(fd, 4, 8, 0, 5);
const id = ops.mapId(fd);
collectOnce({ useKfunc: false, readMemory: false })
  .then((c) => {
    const m = c.maps.find((x) => x.id === id);
    process.stdout.write(
      `${JSON.stringify({ walkError: c.walkError && { code: c.walkError.code, errno: c.walkError.errno }, countMethod: m?.countMethod, entries: m?.entries, notCounted: m?.notCounted })}\n`,
    );
  })
  .finally(() => ops.close(fd));
