// SPDX-License-Identifier: Apache-2.0
// Child process for holdMapInChild(): creates one map, prints its id, holds it until killed.
// Plain JavaScript on the built addon, with none of the test runner's loaders: it starts in a
// fraction of the time (seconds, in an emulated guest).
'use strict';
const path = require('node:path');

const o = JSON.parse(process.argv[2]);
const ops = require(path.join(__dirname, '..', '..', 'build', 'Release', 'ebpf_map_pressure.node')).mapOps;
const fd = ops.createMap(o);
if (o.fill) ops.fill(fd, o.keySize, o.valueSize, 0, o.fill);
process.stdout.write(`id=${ops.mapId(fd)}\n`);
setInterval(() => {}, 1 << 30);
