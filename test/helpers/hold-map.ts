// SPDX-License-Identifier: Apache-2.0
// Child process for holdMapInChild(): creates one map, prints its id, holds it until killed.
import { loadAddon } from '../../src/native';

const o = JSON.parse(process.argv[2]!) as { type: number; keySize: number; valueSize: number; maxEntries: number; name: string; fill?: number };
const ops = loadAddon().mapOps;
const fd = ops.createMap(o);
if (o.fill) ops.fill(fd, o.keySize, o.valueSize, 0, o.fill);
process.stdout.write(`id=${ops.mapId(fd)}\n`);
setInterval(() => {}, 1 << 30);
