// SPDX-License-Identifier: Apache-2.0
/**
 * The delivery queue: encoded requests in collection order, bounded in bytes. When a new
 * collection does not fit, the oldest requests not in flight go first (counted by the
 * caller). A request's bytes live in memory, or on disk when a DiskStore is given
 * (src/export/disk-queue.ts): then memory holds only what is in flight.
 *
 * The model is the OpenTelemetry Collector's exporterhelper sending_queue, with two
 * differences: the bound is bytes, not a count of requests (a request at 10 maps and one at
 * 10,000 differ by a factor of 1,000), and full means the oldest go, not the newest (the
 * newest are what a dashboard shows).
 */
import type { EncodedRequest } from './encode';

/** Where a request's bytes are kept on disk. */
export interface DiskLocation {
  readonly segment: number;
  readonly offset: number;
}

export interface QueueEntry {
  /** Order of arrival, across restarts when on disk. */
  readonly seq: number;
  /** The collection it came from (requests of one collection share it). */
  readonly collection: number;
  /** The collection's time, ms since the epoch. */
  readonly collectedAt: number;
  readonly points: number;
  readonly size: number;
  /** In memory: the request; null when it is on disk. */
  bytes: Buffer | null;
  /** The pooled buffer under `bytes` (src/export/encode.ts RequestPool). */
  slab: Buffer | null;
  readonly disk: DiskLocation | null;
  inFlight: boolean;
  /** Failed sends so far. */
  attempts: number;
  /** It waited behind a delivery failure (counted as late when delivered). */
  delayed: boolean;
}

/** Persistence under the queue (DiskStore implements it). */
export interface QueueStore {
  /** Appends one request; null when the disk cannot take it (the queue keeps it in memory). */
  append(seq: number, collection: number, collectedAt: number, request: EncodedRequest): DiskLocation | null;
  read(entry: QueueEntry): Buffer;
  /** The entry is delivered or dropped: it must not come back after a restart. */
  release(entry: QueueEntry): void;
  close(): void;
  readonly maxBytes: number;
}

export interface QueueStats {
  requests: number;
  bytes: number;
  memoryBytes: number;
  diskBytes: number;
  /** Time of the oldest queued collection, ms since the epoch; null when empty. */
  oldestAt: number | null;
}

export class DeliveryQueue {
  readonly #maxMemoryBytes: number;
  readonly #store: QueueStore | null;
  readonly #entries: QueueEntry[] = [];
  #memoryBytes = 0;
  #diskBytes = 0;
  #seq: number;
  #collection: number;

  /**
   * @param recovered entries found on disk at start (oldest first)
   * @param nextSeq the first request number to use (the disk's, above every record it had)
   */
  readonly #recycle: (r: EncodedRequest) => void;

  constructor(options: { maxMemoryBytes: number; store?: QueueStore | null; recovered?: QueueEntry[]; nextSeq?: number; recycle?: (r: EncodedRequest) => void }) {
    this.#maxMemoryBytes = options.maxMemoryBytes;
    this.#recycle = options.recycle ?? (() => {});
    this.#store = options.store ?? null;
    for (const e of options.recovered ?? []) {
      this.#entries.push(e);
      this.#diskBytes += e.size;
    }
    const last = this.#entries[this.#entries.length - 1];
    this.#seq = Math.max(last ? last.seq + 1 : 0, options.nextSeq ?? 0);
    this.#collection = last ? last.collection + 1 : 0;
  }

  get length(): number {
    return this.#entries.length;
  }

  get entries(): readonly QueueEntry[] {
    return this.#entries;
  }

  stats(): QueueStats {
    return {
      requests: this.#entries.length,
      bytes: this.#memoryBytes + this.#diskBytes,
      memoryBytes: this.#memoryBytes,
      diskBytes: this.#diskBytes,
      oldestAt: this.#entries[0]?.collectedAt ?? null,
    };
  }

  /**
   * Adds one collection's requests; returns the entries dropped to make room (oldest
   * first) and whether the disk refused a request (it is then kept in memory).
   */
  push(collectedAt: number, requests: readonly EncodedRequest[], delayed: boolean): { dropped: QueueEntry[]; diskFailed: boolean } {
    const collection = this.#collection++;
    const dropped: QueueEntry[] = [];
    let diskFailed = false;
    for (const r of requests) {
      const seq = this.#seq++;
      const disk = this.#store ? this.#store.append(seq, collection, collectedAt, r) : null;
      if (this.#store && !disk) diskFailed = true;
      // On disk, the request's buffer is free again at once.
      if (disk) this.#recycle(r);
      const e: QueueEntry = { seq, collection, collectedAt, points: r.points, size: r.bytes.length, bytes: disk ? null : r.bytes, slab: disk ? null : (r.slab ?? null), disk, inFlight: false, attempts: 0, delayed };
      this.#entries.push(e);
      if (disk) this.#diskBytes += e.size;
      else this.#memoryBytes += e.size;
    }
    // Make room: the oldest first, never what is in flight, never the collection just added.
    for (let i = 0; i < this.#entries.length && this.#over(); ) {
      const e = this.#entries[i]!;
      if (e.inFlight || e.collection === collection) {
        i++;
        continue;
      }
      // Only drop what relieves the bound that is over.
      if ((e.disk && this.#diskOver()) || (!e.disk && this.#memoryOver())) {
        this.#remove(i);
        dropped.push(e);
      } else i++;
    }
    return { dropped, diskFailed };
  }

  #memoryOver(): boolean {
    return this.#memoryBytes > this.#maxMemoryBytes;
  }

  #diskOver(): boolean {
    return this.#store !== null && this.#diskBytes > this.#store.maxBytes;
  }

  #over(): boolean {
    return this.#memoryOver() || this.#diskOver();
  }

  /** The entries that may be sent now: of the oldest collection, not in flight, up to `max`. */
  sendable(max: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    const head = this.#entries[0];
    if (!head) return out;
    for (const e of this.#entries) {
      if (e.collection !== head.collection || out.length >= max) break;
      if (!e.inFlight) out.push(e);
    }
    return out;
  }

  /** Entries not in flight whose collection is older than `before` (ms since the epoch). */
  expired(before: number): QueueEntry[] {
    return this.#entries.filter((e) => !e.inFlight && e.collectedAt < before);
  }

  /** The request bytes of an entry (read from disk when it is there). */
  load(e: QueueEntry): Buffer {
    return e.bytes ?? this.#store!.read(e);
  }

  /** Delivered or dropped: out of the queue (and off the disk). */
  done(e: QueueEntry): void {
    const i = this.#entries.indexOf(e);
    if (i >= 0) this.#remove(i);
    // Reused only when no send of it ever timed out or failed midway: then nothing may
    // still be reading the bytes.
    if (e.slab && e.attempts === 0 && !e.inFlight && e.bytes) this.#recycle({ bytes: e.bytes, points: e.points, slab: e.slab });
    e.bytes = null;
    e.slab = null;
  }

  #remove(i: number): void {
    const [e] = this.#entries.splice(i, 1);
    if (!e) return;
    if (e.disk) {
      this.#diskBytes -= e.size;
      this.#store!.release(e);
    } else this.#memoryBytes -= e.size;
  }

  /** Closes the disk files (what is queued there stays for the next start). */
  close(): void {
    this.#store?.close();
  }

  /** Marks every queued entry as having waited behind a failure. */
  delayAll(): void {
    for (const e of this.#entries) e.delayed = true;
  }
}
