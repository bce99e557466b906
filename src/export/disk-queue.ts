// SPDX-License-Identifier: Apache-2.0
/**
 * The queue on disk (export.queue.dir): what makes a restart, SIGKILL or OOM kill of the
 * agent lose nothing it collected. Requests are appended to segment files; each record is
 * framed (magic, length, CRC-32 of header and payload) so a torn or corrupt tail is found at
 * start, reported once, cut off, and the records before it delivered. Delivered (or dropped)
 * records are listed in an ack file, so a restart sends each request once; a segment whose
 * records are all acknowledged is deleted, and the ack file is emptied whenever the queue is.
 *
 * fsync policy: none per record. write(2) puts a record in the page cache before the
 * collection counts as queued, and the page cache outlives the process (SIGKILL, OOM kill);
 * a segment is fsync'ed when it is closed. A crash of the machine itself may lose the
 * records of the segment being written.
 *
 * Disk full or an I/O error at run time: append() returns null (the caller warns once and
 * queues in memory), and the disk is tried again a minute later. Never a crash.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { AgentError } from '../errors';
import type { Logger } from '../log';
import type { EncodedRequest } from './encode';
import type { DiskLocation, QueueEntry, QueueStore } from './queue';

const MAGIC = 0x51504d45; // "EMPQ"
/** magic u32, payload length u32, crc32 u32, points u32, seq f64, collection f64, collectedAt f64 */
export const RECORD_HEADER = 40;
/** A segment is closed and a new one started past this size. */
const SEGMENT_BYTES = 8 * 1024 * 1024;
const RETRY_DISK_MS = 60_000;
const SEGMENT_RE = /^seg-(\d{16})\.q$/;

interface Segment {
  readonly id: number;
  readonly file: string;
  fd: number;
  size: number;
  live: number;
  writable: boolean;
}

function recordHeader(seq: number, collection: number, collectedAt: number, payload: Buffer): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEADER);
  h.writeUInt32LE(MAGIC, 0);
  h.writeUInt32LE(payload.length, 4);
  h.writeUInt32LE(0, 8);
  h.writeDoubleLE(seq, 16);
  h.writeDoubleLE(collection, 24);
  h.writeDoubleLE(collectedAt, 32);
  return h;
}

/** CRC-32 of the header past the CRC field, then the payload. */
function recordCrc(header: Buffer, payload: Buffer): number {
  return crc32(payload, crc32(header.subarray(12)));
}

export class DiskStore implements QueueStore {
  readonly maxBytes: number;
  readonly #dir: string;
  readonly #segments = new Map<number, Segment>();
  #active: Segment | null = null;
  #acks: number;
  #live = 0;
  #diskFailedAt = -Infinity;
  readonly #now: () => number;

  constructor(dir: string, maxBytes: number, segments: Segment[], acksFd: number, live: number, now: () => number = Date.now) {
    this.#dir = dir;
    this.maxBytes = maxBytes;
    for (const s of segments) this.#segments.set(s.id, s);
    this.#acks = acksFd;
    this.#live = live;
    this.#now = now;
  }

  append(seq: number, collection: number, collectedAt: number, request: EncodedRequest): DiskLocation | null {
    if (this.#now() - this.#diskFailedAt < RETRY_DISK_MS) return null;
    let seg: Segment | null = null;
    let before = 0;
    try {
      seg = this.#writable(seq);
      before = seg.size;
      const header = recordHeader(seq, collection, collectedAt, request.bytes);
      header.writeUInt32LE(request.points, 12);
      header.writeUInt32LE(recordCrc(header, request.bytes), 8);
      writeAll(seg.fd, header, before);
      writeAll(seg.fd, request.bytes, before + RECORD_HEADER);
      seg.size += RECORD_HEADER + request.bytes.length;
      seg.live++;
      this.#live++;
      return { segment: seg.id, offset: before };
    } catch {
      // Leave no torn record behind for the next append to follow.
      if (seg) {
        try {
          fs.ftruncateSync(seg.fd, before);
        } catch {
          // the next start cuts a torn tail anyway
        }
      }
      this.#diskFailedAt = this.#now();
      return null;
    }
  }

  #writable(seq: number): Segment {
    if (this.#active && this.#active.size < SEGMENT_BYTES) return this.#active;
    if (this.#active) this.#close(this.#active);
    const file = path.join(this.#dir, `seg-${String(seq).padStart(16, '0')}.q`);
    const fd = fs.openSync(file, 'w+', 0o600);
    const seg: Segment = { id: seq, file, fd, size: 0, live: 0, writable: true };
    this.#segments.set(seg.id, seg);
    this.#active = seg;
    return seg;
  }

  #close(seg: Segment): void {
    try {
      fs.fsyncSync(seg.fd);
    } catch {
      // best effort: the data is in the page cache
    }
    seg.writable = false;
    if (this.#active === seg) this.#active = null;
  }

  read(e: QueueEntry): Buffer {
    const seg = this.#segments.get(e.disk!.segment);
    if (!seg) throw new Error(`segment ${e.disk!.segment} is gone`);
    const b = Buffer.allocUnsafe(e.size);
    const n = fs.readSync(seg.fd, b, 0, e.size, e.disk!.offset + RECORD_HEADER);
    if (n !== e.size) throw new Error(`short read of a queued request (${n} of ${e.size} bytes)`);
    return b;
  }

  release(e: QueueEntry): void {
    const seg = this.#segments.get(e.disk!.segment);
    try {
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleLE(e.seq, 0);
      fs.writeSync(this.#acks, b);
    } catch {
      // An ack that cannot be written: the request may be sent again after a restart.
    }
    this.#live--;
    if (seg && --seg.live === 0) this.#drop(seg);
    if (this.#live === 0) {
      try {
        fs.ftruncateSync(this.#acks, 0);
      } catch {
        // stays longer; compacted at the next start
      }
    }
  }

  #drop(seg: Segment): void {
    if (this.#active === seg) this.#active = null;
    this.#segments.delete(seg.id);
    try {
      fs.closeSync(seg.fd);
      fs.unlinkSync(seg.file);
    } catch {
      // a leftover segment of acknowledged records is deleted at the next start
    }
  }

  close(): void {
    for (const seg of this.#segments.values()) {
      if (seg.writable) this.#close(seg);
      try {
        fs.closeSync(seg.fd);
      } catch {
        // already closed
      }
    }
    this.#segments.clear();
    try {
      fs.fsyncSync(this.#acks);
      fs.closeSync(this.#acks);
    } catch {
      // already closed
    }
  }
}

function writeAll(fd: number, b: Buffer, position: number): void {
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off, position + off);
}

function unusable(dir: string, why: string): AgentError {
  return new AgentError('EMP_QUEUE_DIR', `export.queue.dir ${JSON.stringify(dir)} cannot be used: ${why}`, {
    hint: 'point export.queue.dir at a directory the agent can write (systemd: StateDirectory=; Kubernetes: a hostPath volume), or set it empty for a memory queue',
  });
}

/** Checks the directory (EMP_QUEUE_DIR when it cannot be used), takes its lock. */
export function prepareQueueDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw unusable(dir, `${(e as NodeJS.ErrnoException).code ?? String(e)} creating it`);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw unusable(dir, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  if (!st.isDirectory()) throw unusable(dir, 'it is not a directory');
  // Root ignores permission bits but not a read-only mount: only a real write tells.
  const probe = path.join(dir, `.probe-${process.pid}`);
  try {
    fs.writeFileSync(probe, 'x', { mode: 0o600 });
    fs.unlinkSync(probe);
  } catch (e) {
    throw unusable(dir, `${(e as NodeJS.ErrnoException).code ?? String(e)} writing in it`);
  }
  const lock = path.join(dir, 'lock');
  try {
    const other = Number(fs.readFileSync(lock, 'utf8'));
    if (Number.isInteger(other) && other > 0 && other !== process.pid && alive(other)) throw unusable(dir, `another agent (pid ${other}) uses it`);
  } catch (e) {
    if (e instanceof AgentError) throw e;
  }
  fs.writeFileSync(lock, String(process.pid), { mode: 0o600 });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads the ack file: the seq of every request already delivered or dropped. */
function readAcks(file: string): Set<number> {
  const acks = new Set<number>();
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch {
    return acks;
  }
  for (let off = 0; off + 8 <= b.length; off += 8) acks.add(b.readDoubleLE(off));
  return acks;
}

export interface OpenedDiskQueue {
  store: DiskStore;
  recovered: QueueEntry[];
  /** The next request number (above every record seen, delivered or not). */
  nextSeq: number;
}

/**
 * Opens (or creates) the disk queue in `dir`: validates the directory, recovers every record
 * not yet acknowledged, oldest first, cutting a torn or corrupt tail off (reported once).
 */
export async function openDiskQueue(o: { dir: string; maxBytes: number; log: Logger }): Promise<OpenedDiskQueue> {
  prepareQueueDir(o.dir);
  const acksFile = path.join(o.dir, 'acks');
  const acks = readAcks(acksFile);
  const names = fs.readdirSync(o.dir).filter((n) => SEGMENT_RE.test(n)).sort();
  const segments: Segment[] = [];
  const recovered: QueueEntry[] = [];
  const keptAcks: number[] = [];
  let nextSeq = 0;
  let live = 0;
  for (const name of names) {
    const file = path.join(o.dir, name);
    const id = Number(SEGMENT_RE.exec(name)![1]);
    const fd = fs.openSync(file, 'r+');
    const size = fs.fstatSync(fd).size;
    const seg: Segment = { id, file, fd, size: 0, live: 0, writable: false };
    let off = 0;
    const header = Buffer.allocUnsafe(RECORD_HEADER);
    let bad: string | null = null;
    while (off < size) {
      if (size - off < RECORD_HEADER) {
        bad = 'a torn record header';
        break;
      }
      fs.readSync(fd, header, 0, RECORD_HEADER, off);
      const len = header.readUInt32LE(4);
      if (header.readUInt32LE(0) !== MAGIC) {
        bad = 'a record without the queue magic';
        break;
      }
      if (size - off - RECORD_HEADER < len) {
        bad = 'a torn record (shorter than its length)';
        break;
      }
      const payload = Buffer.allocUnsafe(len);
      fs.readSync(fd, payload, 0, len, off + RECORD_HEADER);
      if (recordCrc(header, payload) !== header.readUInt32LE(8)) {
        bad = 'a record whose CRC-32 does not match';
        break;
      }
      const seq = header.readDoubleLE(16);
      nextSeq = Math.max(nextSeq, seq + 1);
      if (acks.has(seq)) keptAcks.push(seq);
      else {
        recovered.push({
          seq,
          collection: header.readDoubleLE(24),
          collectedAt: header.readDoubleLE(32),
          points: header.readUInt32LE(12),
          size: len,
          bytes: null,
          slab: null,
          disk: { segment: id, offset: off },
          inFlight: false,
          attempts: 0,
          delayed: true,
        });
        seg.live++;
      }
      off += RECORD_HEADER + len;
    }
    if (bad) {
      o.log.warn('export queue file ends in a torn or corrupt record: the records before it are delivered, the rest of the file is discarded', {
        code: 'EMP_QUEUE_CORRUPT',
        file,
        offset: off,
        discarded_bytes: size - off,
        why: bad,
      });
      fs.ftruncateSync(fd, off);
    }
    seg.size = off;
    if (seg.live === 0) {
      fs.closeSync(fd);
      fs.unlinkSync(file);
      continue;
    }
    live += seg.live;
    segments.push(seg);
  }
  recovered.sort((a, b) => a.seq - b.seq);
  // Compact the ack file: only acks of records still on disk.
  const compact = Buffer.allocUnsafe(keptAcks.length * 8);
  keptAcks.forEach((s, i) => compact.writeDoubleLE(s, i * 8));
  const tmp = `${acksFile}.tmp`;
  fs.writeFileSync(tmp, compact, { mode: 0o600 });
  fs.renameSync(tmp, acksFile);
  const acksFd = fs.openSync(acksFile, 'a', 0o600);
  return { store: new DiskStore(o.dir, o.maxBytes, segments, acksFd, live), recovered, nextSeq };
}
