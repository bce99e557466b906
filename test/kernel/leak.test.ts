// SPDX-License-Identifier: Apache-2.0
// 5,000 collections through one MapStatsReader leave no file descriptor and no memory
// behind. Counts and sizes, not times: how long the collections take is bench/'s business.
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { loadAddon, MapStatsReader } from '../../src/native';
import { RECORD_SIZE } from '../../src/records';
import { createMap, fill } from '../helpers/kernel';

// A full collection of garbage on demand, without a command-line flag.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// Enough for a leak of anything per collection to clear the bounds below twice over; more
// only costs time under emulation (the guests of scripts/kernel-matrix.sh take ~45 ms a
// collection: 10,000 were 8 of the 6.1 guest's 12 minutes).
const COLLECTIONS = 5_000;
const OWN_MAPS = 200;
const MiB = 1 << 20;

const openFds = () => readdirSync('/proc/self/fd').length;

/** Memory after a full GC: V8's figures, and the bytes malloc has out (native memory). */
function settle(): NodeJS.MemoryUsage & { malloc: number } {
  for (let i = 0; i < 3; i++) gc();
  return { ...process.memoryUsage(), malloc: loadAddon().mallocInUse() };
}

t.test(`${COLLECTIONS} collections through one reader: no fd, no memory left behind`, async (t) => {
  // Our own maps make every collection at least OWN_MAPS records long, whatever else the host
  // has, so that leaking any per-collection buffer would show (see the bounds below).
  for (let i = 0; i < OWN_MAPS; i++) {
    const m = createMap(t, { type: i % 2 ? 'hash' : 'array', keySize: 4, valueSize: 8, maxEntries: 16, name: `leak_${i}` });
    if (i % 2) fill(m, 4, 8, i % 16);
  }

  const fdsBefore = openFds();
  const reader = new MapStatsReader({});
  const fdsOpen = openFds();
  t.ok(fdsOpen > fdsBefore, `the loaded iterator holds fds (${fdsOpen - fdsBefore}: program, link, maps)`);

  // Warm-up: the memlock cache fills, the JIT settles, the allocators reach their working size.
  for (let i = 0; i < 500; i++) await reader.collect();
  const m0 = settle();

  let fdDrift = 0;
  let smallest = Infinity;
  for (let i = 0; i < COLLECTIONS; i++) {
    const c = await reader.collect();
    smallest = Math.min(smallest, c.records.length);
    if (i % 500 === 0 && openFds() !== fdsOpen) fdDrift++;
  }
  const m1 = settle();
  t.ok(smallest >= OWN_MAPS * RECORD_SIZE, `every collection read at least our ${OWN_MAPS} maps (smallest: ${smallest / RECORD_SIZE} records)`);
  t.equal(fdDrift, 0, 'no fd held across collections (sampled every 500)');
  t.equal(openFds(), fdsOpen, 'no fd left after them');

  // Bounds. A collection hands JS a records Buffer (>= 200 x 88 B = 17.6 KB) and a
  // Float64Array (>= 1.6 KB), copied from C++ vectors of the same sizes that the worker owns.
  // - Leaking either JS buffer for each of 5,000 collections adds >= 8 MB of ArrayBuffer
  //   (external) memory; what is left without a leak is a few KB: bound 4 MiB.
  // - Leaking the result objects (a few hundred bytes of heap each, with their wrappers) adds
  //   >= 1 MB of JS heap: bound 0.75 MiB (measured without a leak: -0.1 to 0.2 MiB).
  // - Native memory, as the bytes malloc has out (glibc's mallinfo2): leaking the worker, its
  //   vectors, an error string or a libbpf object per collection adds >= 100 B each time, so
  //   >= 500 KB more; without a leak it levels off at ~300 KiB (the allocator's caches:
  //   measured 127 KiB after 1,000 collections, 274 after 5,000, 288 after 10,000, 298 after
  //   20,000, on 6.18): bound 512 KiB.
  // - RSS only as a coarse gauge: freed arena pages that malloc keeps swing it by tens of MiB
  //   either way with no trend, so the bound is 64 MiB, still far below the 88 MB that
  //   leaking the vectors would cost.
  const grew = (k: keyof typeof m0) => (m1[k] - m0[k]) / MiB;
  const report = `rss ${grew('rss').toFixed(1)} MiB, malloc ${(grew('malloc') * 1024).toFixed(0)} KiB, heap ${grew('heapUsed').toFixed(2)} MiB, external ${grew('external').toFixed(2)} MiB, array buffers ${grew('arrayBuffers').toFixed(2)} MiB`;
  t.ok(grew('arrayBuffers') < 4, `ArrayBuffer memory bounded (${report})`);
  t.ok(grew('external') < 4, 'external memory bounded');
  t.ok(grew('heapUsed') < 0.75, 'JS heap bounded');
  if (m0.malloc >= 0) t.ok(grew('malloc') < 0.5, 'native memory in use bounded');
  else t.comment('this C library has no mallinfo2: native memory only through RSS');
  t.ok(grew('rss') < 64, 'RSS bounded');

  reader.close();
  t.equal(openFds(), fdsBefore, 'close() releases every fd the reader held');
});
