// SPDX-License-Identifier: Apache-2.0
/**
 * The delivery loop: takes the queue's requests in collection order and sends them, at most
 * `maxInFlight` at once and only of one collection at a time (requests of one collection
 * carry different series; a later collection's point of a series never overtakes an
 * earlier one). Retryable failures wait out an exponential backoff with jitter, or the
 * server's own delay (gRPC RetryInfo, HTTP Retry-After); requests the endpoint rejects for
 * good are dropped and counted. Requests older than `maxAgeMs` are dropped before sending.
 *
 * Logging: one line when delivery starts failing, one when it has recovered and the backlog
 * is delivered (how many requests came late, how many were dropped and why); a rejection
 * kind, a partial_success and a full queue are each logged once. Never one line per interval.
 */
import type { Logger } from '../log';
import type { EncodedRequest } from './encode';
import type { DeliveryQueue, QueueEntry, QueueStats } from './queue';
import type { SendOutcome, Transport } from './transport';

export const DROP_REASONS = ['queue_full', 'max_age', 'rejected', 'shutdown'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface DeliveryCounters {
  delivered: number;
  deliveredPoints: number;
  /** Sends that failed (retryable or not). */
  failures: number;
  retries: number;
  /** Requests delivered after waiting behind a failure. */
  late: number;
  dropped: Record<DropReason, number>;
  /** Data points the endpoint reported rejected in partial_success. */
  rejectedPoints: number;
}

export interface DeliveryOptions {
  transport: Transport;
  queue: DeliveryQueue;
  maxInFlight: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxAgeMs: number;
  log: Logger;
  /** Told after every send (self-telemetry). */
  onSend?: (outcome: SendOutcome, request: QueueEntry) => void;
  random?: () => number;
  now?: () => number;
}

/** Backoff before retry `n` (1-based): initial × 2^(n-1), at most max, times a jitter in [0.5, 1.5). */
export function backoffMs(n: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(n - 1, 30));
  return Math.min(maxMs, base * (0.5 + random()));
}

export class Delivery {
  readonly #o: DeliveryOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly counters: DeliveryCounters = { delivered: 0, deliveredPoints: 0, failures: 0, retries: 0, late: 0, dropped: { queue_full: 0, max_age: 0, rejected: 0, shutdown: 0 }, rejectedPoints: 0 };
  #inFlight = 0;
  /** Consecutive failed sends (the backoff's exponent). */
  #failures = 0;
  #retryAt = 0;
  /** The wait is the server's (RetryInfo, Retry-After): a new collection must not cut it short. */
  #serverDelay = false;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Set while delivery is failing: what the recovery line reports. */
  #outage: { since: number; error: string; lateAtStart: number; droppedAtStart: Record<DropReason, number>; recoveredAt: number | null; backlogSeq: number } | null = null;
  readonly #loggedOnce = new Set<string>();
  #idle: Array<() => void> = [];

  constructor(o: DeliveryOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#random = o.random ?? Math.random;
  }

  get failing(): boolean {
    return this.#outage !== null && this.#outage.recoveredAt === null;
  }

  stats(): QueueStats & { inFlight: number } {
    return { ...this.#o.queue.stats(), inFlight: this.#inFlight };
  }

  /** Queues one collection's requests and starts sending. */
  enqueue(collectedAt: number, requests: readonly EncodedRequest[]): void {
    if (requests.length === 0) return;
    const { dropped, diskFailed } = this.#o.queue.push(collectedAt, requests, this.failing);
    this.#o.log.debug('export queued', { collected_at: collectedAt, requests: requests.length, points: requests.reduce((n, r) => n + r.points, 0) });
    // During an outage each new collection probes once (the oldest request): delivery
    // resumes within an interval of the endpoint coming back, whatever the backoff has grown to.
    if (!this.#serverDelay) this.#retryAt = Math.min(this.#retryAt, this.#now());
    if (diskFailed) this.#once('disk', () => this.#o.log.warn('the export queue directory cannot take more; queueing in memory meanwhile', { code: 'EMP_QUEUE_DISK' }));
    for (const e of dropped) this.#drop(e, 'queue_full');
    this.#pump();
  }

  /** Resolves once the queue is empty (everything delivered or dropped), or after timeoutMs. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.#o.queue.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#idle = this.#idle.filter((f) => f !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#idle.push(done);
      // A flush does not wait out our backoff (it tries now); a server-given delay it honours.
      if (!this.#serverDelay) this.#retryAt = 0;
      this.#pump();
    });
  }

  /**
   * Stops sending and shuts the transport down. Requests still in memory are dropped and
   * counted (reason shutdown); requests on disk stay there for the next start.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    const lost = this.#o.queue.entries.filter((e) => !e.disk);
    for (const e of lost) this.#drop(e, 'shutdown');
    const kept = this.#o.queue.length;
    if (lost.length || kept)
      this.#o.log.warn('export stopped with requests undelivered', {
        code: 'EMP_EXPORT_FAILED',
        dropped: lost.length,
        kept_on_disk: kept,
        hint: kept ? 'they are sent at the next start' : 'set export.queue.dir to keep undelivered requests across restarts',
      });
    await this.#o.transport.shutdown().catch(() => {});
  }

  /** Closes the queue's files (after stop). */
  close(): void {
    this.#o.queue.close();
  }

  #once(key: string, f: () => void): void {
    if (this.#loggedOnce.has(key)) return;
    this.#loggedOnce.add(key);
    f();
  }

  #drop(e: QueueEntry, reason: DropReason): void {
    this.#o.queue.done(e);
    this.counters.dropped[reason]++;
    if (reason === 'queue_full')
      this.#once('queue_full', () =>
        this.#o.log.warn('export queue full: the oldest requests are dropped to make room (counted in ebpf_map_pressure.export.dropped)', {
          code: 'EMP_EXPORT_DROPPED',
          hint: 'raise export.queue.max_bytes (or set export.queue.dir) to ride out longer outages',
        }),
      );
    if (reason === 'max_age')
      this.#once('max_age', () =>
        this.#o.log.warn('queued requests older than export.queue.max_age are dropped (counted in ebpf_map_pressure.export.dropped)', { code: 'EMP_EXPORT_DROPPED' }),
      );
  }

  #pump(): void {
    if (this.#stopped) return;
    const q = this.#o.queue;
    const now = this.#now();
    for (const e of q.expired(now - this.#o.maxAgeMs)) this.#drop(e, 'max_age');
    this.#checkIdle();
    if (q.length === 0) return;
    if (now < this.#retryAt) {
      this.#arm(this.#retryAt - now);
      return;
    }
    // While failing, one request at a time (a probe); all of max_in_flight once one gets through.
    const limit = this.failing ? 1 : this.#o.maxInFlight;
    for (const e of q.sendable(limit - this.#inFlight)) this.#send(e);
  }

  #arm(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#pump();
    }, ms);
    // The agent's collection timer keeps the process alive; a retry alone must not.
    this.#timer.unref();
  }

  #send(e: QueueEntry): void {
    let bytes: Buffer;
    try {
      bytes = this.#o.queue.load(e);
    } catch (err) {
      // A record that cannot be read back is gone: dropped, counted, said once.
      this.#once('unreadable', () => this.#o.log.warn('a queued request could not be read back; dropped', { code: 'EMP_QUEUE_CORRUPT', error: (err as Error).message }));
      this.#drop(e, 'rejected');
      return;
    }
    e.inFlight = true;
    this.#inFlight++;
    void this.#o.transport.send({ bytes, points: e.points }).then((outcome) => this.#settle(e, outcome));
  }

  #settle(e: QueueEntry, outcome: SendOutcome): void {
    e.inFlight = false;
    this.#inFlight--;
    this.#o.onSend?.(outcome, e);
    if (this.#stopped) return;
    if (outcome.kind === 'delivered') {
      this.#o.queue.done(e);
      this.#failures = 0;
      this.#serverDelay = false;
      this.counters.delivered++;
      this.counters.deliveredPoints += e.points;
      if (e.attempts > 0 || e.delayed) this.counters.late++;
      if (outcome.rejectedPoints > 0) {
        this.counters.rejectedPoints += outcome.rejectedPoints;
        this.#once('partial', () =>
          this.#o.log.warn('the endpoint accepted a request but rejected some of its data points (partial_success); counted in ebpf_map_pressure.export.rejected_points', {
            code: 'EMP_EXPORT_REJECTED',
            rejected: outcome.rejectedPoints,
            error: outcome.rejectMessage || 'no message',
          }),
        );
      }
      this.#recovering();
    } else if (outcome.kind === 'rejected') {
      this.counters.failures++;
      this.#drop(e, 'rejected');
      this.#once(`rejected ${outcome.reason}`, () =>
        this.#o.log.warn('the endpoint rejected a request: dropped, not retried (counted in ebpf_map_pressure.export.dropped)', {
          code: 'EMP_EXPORT_REJECTED',
          exporter: this.#o.transport.describe,
          status: outcome.reason,
          error: outcome.error,
        }),
      );
    } else {
      this.counters.failures++;
      this.counters.retries++;
      e.attempts++;
      this.#failures++;
      const wait = outcome.retryAfterMs ?? backoffMs(this.#failures, this.#o.initialBackoffMs, this.#o.maxBackoffMs, this.#random);
      this.#serverDelay = outcome.retryAfterMs !== null;
      this.#retryAt = Math.max(this.#retryAt, this.#now() + wait);
      this.#failing(outcome);
    }
    this.#pump();
  }

  #failing(outcome: Extract<SendOutcome, { kind: 'retryable' }>): void {
    this.#o.queue.delayAll();
    if (this.#outage && this.#outage.recoveredAt === null) {
      this.#o.log.debug('export failed again; retrying', { code: 'EMP_EXPORT_FAILED', status: outcome.reason, error: outcome.error });
      return;
    }
    if (this.#outage) {
      // Failing again before the backlog of the last outage was delivered: the same outage.
      this.#outage.recoveredAt = null;
      return;
    }
    this.#outage = { since: this.#now(), error: outcome.error, lateAtStart: this.counters.late, droppedAtStart: { ...this.counters.dropped }, recoveredAt: null, backlogSeq: 0 };
    this.#o.log.warn('exporter cannot deliver metrics; collecting goes on, requests wait in the queue and are retried with backoff; one line will say when delivery recovers', {
      code: 'EMP_EXPORT_FAILED',
      exporter: this.#o.transport.describe,
      status: outcome.reason,
      error: outcome.error,
      hint: 'is the collector running and reachable at that endpoint?',
    });
  }

  /** After a delivery: once the outage's backlog is through, the one recovery line. */
  #recovering(): void {
    const o = this.#outage;
    if (!o) return;
    if (o.recoveredAt === null) {
      o.recoveredAt = this.#now();
      const last = this.#o.queue.entries[this.#o.queue.entries.length - 1];
      o.backlogSeq = last ? last.seq : -1;
    }
    if (this.#o.queue.entries.some((e) => e.seq <= o.backlogSeq)) return;
    const dropped = Object.fromEntries(Object.entries(this.counters.dropped).map(([k, v]) => [k, v - o.droppedAtStart[k as DropReason]]));
    this.#outage = null;
    this.#o.log.info('exporter recovered', {
      exporter: this.#o.transport.describe,
      outage_s: Math.round((o.recoveredAt - o.since) / 100) / 10,
      delivered_late: this.counters.late - o.lateAtStart,
      dropped: Object.values(dropped).reduce((a, b) => a + b, 0),
      ...Object.fromEntries(Object.entries(dropped).filter(([, v]) => v > 0).map(([k, v]) => [`dropped_${k}`, v])),
    });
  }

  #checkIdle(): void {
    if (this.#o.queue.length !== 0 || this.#idle.length === 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const f of waiting) f();
  }
}
