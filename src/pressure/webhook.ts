// SPDX-License-Identifier: Apache-2.0
/**
 * Level transitions to webhooks: a generic JSON payload or a Slack-compatible one, to every
 * configured URL. Each URL has its own bounded queue and one request in flight, so a slow or
 * dead endpoint delays nothing but itself; notify() only enqueues and never waits, so the
 * collection never does either. Per map, reaching the same level again within the cooldown
 * is not re-sent. A request has a timeout; failures (network, timeout, 429, 5xx) are retried
 * a bounded number of times with exponential backoff. The operator hears once per URL when
 * it starts failing and once when it recovers. URLs are logged as scheme://host/*** only.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { hostname } from 'node:os';
import type { Logger } from '../log';
import { VERSION } from '../version';
import { transitionText } from './alerts';
import { formatTimeToFull } from './format';
import { redactWebhookUrl, type WebhookConfig } from './settings';
import type { Transition } from './tracker';

/** Webhook settings (the `webhook` section of the configuration). */
export type WebhookSettings = WebhookConfig;

const MAX_BACKOFF_MS = 30_000;

/** The generic JSON payload (keys are stable: receivers parse them). */
export function genericPayload(t: Transition, host: string): Record<string, unknown> {
  const m = t.map;
  return {
    source: 'ebpf-map-pressure',
    host,
    time: new Date(t.time).toISOString(),
    map: { id: m.id, name: m.name, type: m.type },
    owner: t.owner ?? null,
    from: t.from,
    to: t.to,
    entries: m.fill,
    max_entries: m.maxEntries,
    utilization: m.utilization,
    growth_per_s: m.growthPerS,
    time_to_full_s: m.timeToFullS,
    text: transitionText(t),
  };
}

/** Slack's mrkdwn reserves &, < and > (links, mentions): they must go as entities. */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const SLACK_ICON = { normal: ':large_green_circle:', warning: ':warning:', critical: ':red_circle:' } as const;

/** A Slack-compatible payload (incoming webhooks; Mattermost and others take it too). */
export function slackPayload(t: Transition, host: string): Record<string, unknown> {
  const m = t.map;
  const name = slackEscape(m.name || '(no name)').replace(/`/g, "'");
  const pct = m.utilization === null ? '-' : `${(m.utilization * 100).toFixed(1)}%`;
  const forecast = m.timeToFullS === null ? 'not growing' : `full in ${formatTimeToFull(m.timeToFullS)}`;
  return {
    text:
      `${SLACK_ICON[t.to]} *${t.to}* eBPF map \`${name}\` (id ${m.id}, ${m.type}${t.owner ? `, owned by ${slackEscape(t.owner.label).replace(/`/g, "'")}` : ''}) on ${slackEscape(host)}: ` +
      `${t.from} -> ${t.to}, ${m.fill ?? '-'}/${m.maxEntries} (${pct}), ${forecast}`,
  };
}

interface Target {
  readonly url: URL;
  readonly label: string;
  readonly queue: string[];
  busy: boolean;
  failing: boolean;
  /** Notifications given up on since it started failing. */
  lost: number;
  overflowWarned: boolean;
  current: http.ClientRequest | null;
  sent: number;
  failed: number;
  dropped: number;
}

type Attempt = { ok: true } | { ok: false; reason: string; retryable: boolean };

export interface WebhookStats {
  label: string;
  sent: number;
  failed: number;
  dropped: number;
  queued: number;
  failing: boolean;
}

export class WebhookNotifier {
  readonly #s: WebhookSettings;
  readonly #log: Logger;
  readonly #host: string;
  readonly #targets: Target[];
  readonly #cooldown = new Map<string, number>();
  readonly #agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout; wake(): void }>();
  readonly #idle = new Set<() => void>();
  #accepting = true;
  #aborted = false;

  constructor(settings: WebhookSettings, log: Logger, options: { host?: string } = {}) {
    this.#s = settings;
    this.#log = log;
    this.#host = options.host ?? hostname();
    this.#targets = settings.urls.map((u, i) => ({
      url: new URL(u),
      label: `#${i + 1} ${redactWebhookUrl(u)}`,
      queue: [],
      busy: false,
      failing: false,
      lost: 0,
      overflowWarned: false,
      current: null,
      sent: 0,
      failed: 0,
      dropped: 0,
    }));
  }

  get enabled(): boolean {
    return this.#targets.length > 0;
  }

  stats(): WebhookStats[] {
    return this.#targets.map((t) => ({ label: t.label, sent: t.sent, failed: t.failed, dropped: t.dropped, queued: t.queue.length, failing: t.failing }));
  }

  /**
   * Queues the transition for every URL unless in cooldown; returns whether it was queued.
   * The cooldown runs on collection time (the transition's), so it follows what was seen.
   */
  notify(t: Transition, now = t.time): boolean {
    if (!this.#accepting || this.#targets.length === 0) return false;
    const key = `${t.map.id}:${t.to}`;
    const last = this.#cooldown.get(key);
    if (last !== undefined && now - last < this.#s.cooldownMs) {
      this.#log.debug('webhook: transition within cooldown, not sent', { id: t.map.id, to: t.to });
      return false;
    }
    if (this.#cooldown.size >= 1000) {
      for (const [k, at] of this.#cooldown) if (now - at >= this.#s.cooldownMs) this.#cooldown.delete(k);
    }
    this.#cooldown.set(key, now);
    const body = JSON.stringify(this.#s.format === 'slack' ? slackPayload(t, this.#host) : genericPayload(t, this.#host));
    for (const target of this.#targets) this.#enqueue(target, body);
    return true;
  }

  #enqueue(target: Target, body: string): void {
    if (target.queue.length >= this.#s.queueSize) {
      target.queue.shift();
      target.dropped++;
      if (!target.overflowWarned) {
        target.overflowWarned = true;
        this.#log.warn('webhook queue full; dropping the oldest notifications', { webhook: target.label, queue_size: this.#s.queueSize });
      }
    }
    target.queue.push(body);
    if (!target.busy) void this.#pump(target);
  }

  async #pump(target: Target): Promise<void> {
    target.busy = true;
    try {
      while (target.queue.length > 0 && !this.#aborted) {
        const body = target.queue.shift()!;
        const result = await this.#deliver(target, body);
        if (this.#aborted) break;
        if (result.ok) {
          target.sent++;
          if (target.failing) {
            target.failing = false;
            this.#log.info('webhook recovered', { webhook: target.label, lost: target.lost });
            target.lost = 0;
          }
        } else {
          target.failed++;
          target.lost++;
          if (!target.failing) {
            target.failing = true;
            this.#log.warn('webhook delivery failing; notifications are dropped until it recovers (the agent keeps collecting)', {
              webhook: target.label,
              error: result.reason,
              attempts: this.#s.retries + 1,
            });
          } else {
            this.#log.debug('webhook delivery failed again', { webhook: target.label, error: result.reason });
          }
        }
      }
      if (target.queue.length === 0) target.overflowWarned = false;
    } finally {
      target.busy = false;
      if (this.#targets.every((t) => !t.busy)) for (const resolve of this.#idle) resolve();
    }
  }

  async #deliver(target: Target, body: string): Promise<Attempt> {
    let result: Attempt = { ok: false, reason: 'not sent', retryable: false };
    for (let attempt = 0; attempt <= this.#s.retries && !this.#aborted; attempt++) {
      if (attempt > 0) {
        const base = Math.min(MAX_BACKOFF_MS, this.#s.backoffMs * 2 ** (attempt - 1));
        await this.#sleep(base * (0.8 + 0.4 * Math.random()));
        if (this.#aborted) break;
      }
      result = await this.#post(target, body);
      if (result.ok || !result.retryable) return result;
    }
    return result;
  }

  #post(target: Target, body: string): Promise<Attempt> {
    const { url } = target;
    const secure = url.protocol === 'https:';
    return new Promise<Attempt>((resolve) => {
      let done = false;
      const finish = (a: Attempt) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        target.current = null;
        resolve(a);
      };
      const req = (secure ? https : http).request(url, {
        method: 'POST',
        agent: secure ? this.#agents.https : this.#agents.http,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': `ebpf-map-pressure/${VERSION}`,
        },
      });
      target.current = req;
      const timer = setTimeout(() => {
        finish({ ok: false, reason: `timeout after ${this.#s.timeoutMs} ms`, retryable: true });
        req.destroy();
      }, this.#s.timeoutMs);
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) finish({ ok: true });
          else finish({ ok: false, reason: `HTTP ${status}`, retryable: status === 429 || status >= 500 || status === 408 });
        });
        res.on('error', (e) => finish({ ok: false, reason: this.#scrub(target, e), retryable: true }));
      });
      req.on('error', (e) => finish({ ok: false, reason: this.#aborted ? 'aborted' : this.#scrub(target, e), retryable: true }));
      req.end(body);
    });
  }

  /** An error as a reason that names no secret part of the URL. */
  #scrub(target: Target, e: Error): string {
    let s = (e as NodeJS.ErrnoException).code ?? e.message;
    const { url } = target;
    for (const secret of [url.href, url.pathname.length > 1 ? url.pathname : '', url.search, url.password, url.username])
      if (secret) s = s.split(secret).join('***');
    return s;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#sleeps.delete(entry);
          resolve();
        }, ms),
        wake: () => {
          clearTimeout(entry.timer);
          this.#sleeps.delete(entry);
          resolve();
        },
      };
      this.#sleeps.add(entry);
    });
  }

  /** Resolves when every queue is empty and nothing is in flight (or on abort). */
  idle(): Promise<void> {
    if (this.#targets.every((t) => !t.busy)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#idle.delete(done);
        resolve();
      };
      this.#idle.add(done);
    });
  }

  /**
   * Stops taking notifications, gives those queued up to `flushMs` to go out, then abandons
   * the rest (in-flight requests are aborted, backoffs cut short). Idempotent.
   */
  async close(flushMs: number): Promise<void> {
    this.#accepting = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, flushMs)))]);
    clearTimeout(timer);
    this.#aborted = true;
    for (const s of [...this.#sleeps]) s.wake();
    for (const t of this.#targets) {
      t.current?.destroy();
      t.queue.length = 0;
    }
    await this.idle();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}
