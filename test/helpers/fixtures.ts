// SPDX-License-Identifier: Apache-2.0
/**
 * The test-only fixtures addon (test/fixtures/, built by `npm run build:fixtures`): maps that
 * mapOps cannot fill from user space. Everything a test makes is released when it ends.
 */
import * as path from 'node:path';
import { mapOps } from './kernel';

interface RingbufWriterNative {
  readonly mapFd: number;
  fire(n: number): void;
  stats(): { written: number; dropped: number };
  close(): void;
}

interface FixturesAddon {
  RingbufWriter: new (o: { ringSize: number; recordSize: number }) => RingbufWriterNative;
  produceUserRingbuf(fd: number, size: number, n: number): number;
  tcpListener(): number;
  /** 0 when the kernel loads an iterator program for the target ("bpf_map_elem", "sockmap"), else -errno. */
  probeIterator(target: string): number;
  /** A program using one map, attached as an iterator, its link pinned at path; every fd closed. */
  pinnedIterLink(path: string): { progId: number; mapId: number; linkId: number };
  /** An fd of a map by id (root). */
  mapFdById(id: number): number;
  /** n array maps and a socket filter program using all of them (their fds open: the caller closes them). */
  programUsingMaps(n: number): { progFd: number; progId: number; mapFds: number[]; mapIds: number[] };
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

let addon: FixturesAddon | undefined;

export function fixtures(): FixturesAddon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  addon ??= require(path.join(__dirname, '..', 'fixtures', 'build', 'Release', 'emp_fixtures.node')) as FixturesAddon;
  return addon;
}

/** A ring buffer that an attached tracepoint program fills: one record per fire(). */
export function ringbufWriter(t: Teardown, o: { ringSize: number; recordSize: number }) {
  const w = new (fixtures().RingbufWriter)(o);
  t.teardown(() => w.close());
  return { writer: w, id: mapOps().mapId(w.mapFd) };
}

/** Bytes one record takes in a ring buffer: an 8-byte header, the whole rounded up to 8. */
export function ringbufRecordBytes(size: number): number {
  return Math.ceil((8 + size) / 8) * 8;
}

/** n listening TCP sockets on 127.0.0.1, closed when the test ends. */
export function tcpListeners(t: Teardown, n: number): number[] {
  const fds: number[] = [];
  for (let i = 0; i < n; i++) fds.push(fixtures().tcpListener());
  t.teardown(() => fds.forEach((fd) => mapOps().close(fd)));
  return fds;
}
