// SPDX-License-Identifier: Apache-2.0
/**
 * Level transitions to webhooks: a generic JSON payload or a Slack-compatible one, to every
 * configured URL. One notification per collection, listing the maps that changed level (the
 * most severe first, at most webhook.max_maps, with the count of the rest), and one when the
 * agent has started listing the maps already past a threshold — never one per map, so a host
 * full of maps past their thresholds is one request, not thousands. Per map, reaching the same
 * level again within the cooldown is left out. Each URL has its own bounded queue and one
 * request in flight, so a slow or dead endpoint delays nothing but itself; notify() only
 * enqueues and never waits, so the collection never does either. A request has a timeout;
 * failures (network, timeout, 429, 5xx) are retried a bounded number of times with
 * exponential backoff. The operator hears once per URL when it starts failing and once when it
 * recovers. URLs are logged as scheme://host/*** only.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { hostname } from 'node:os';
import type { AgentConfig } from '../config';
import type { Logger } from '../log';
import { VERSION } from '../version';
import { transitionText } from './alerts';
import type { MapLevel } from './levels';
import { redactWebhookUrl } from './settings';
import type { Transition } from './tracker';

/** Webhook settings (the `webhook` section of the configuration). */
export type WebhookSettings = AgentConfig['webhook'];

const MAX_BACKOFF_MS = 30_000;
/** Cooldown entries past which the expired ones are dropped. */
const COOLDOWN_PRUNE_AT = 1000;

/** What one notification carries: the transitions of one collection (or the state at start). */
export interface Notification {
  /** `start`: the maps past a threshold when the agent started; `change`: one collection's transitions. */
  readonly event: 'start' | 'change';
  /** Collection time, ms since the epoch. */
  readonly time: number;
  /** Most severe first (see bySeverity). */
  readonly transitions: readonly Transition[];
  /** Maps per level after this collection. */
  readonly counts: Readonly<Record<MapLevel, number>>;
}

function countsText(ts: readonly Transition[]): string {
  const to = { critical: 0, warning: 0, normal: 0 };
  for (const t of ts) to[t.to]++;
  const parts = [];
  if (to.critical) parts.push(`${to.critical} critical`);
  if (to.warning) parts.push(`${to.warning} warning`);
  if (to.normal) parts.push(`${to.normal} back to normal`);
  return parts.join(', ');
}

/** The first line of a notification's text. */
export function headline(n: Notification, host: string): string {
  const k = n.transitions.length;
  return n.event === 'start'
    ? `eBPF maps on ${host} at agent start: ${k} past a threshold (${countsText(n.transitions)})`
    : `eBPF maps on ${host}: ${k} changed level (${countsText(n.transitions)})`;
}

/** The listed transitions and how many more there are. */
function listed(n: Notification, maxMaps: number): { shown: readonly Transition[]; more: number } {
  const shown = n.transitions.slice(0, maxMaps);
  return { shown, more: n.transitions.length - shown.length };
}

/** The generic JSON payload (keys are stable: receivers parse them). */
export function genericPayload(n: Notification, host: string, maxMaps: number): Record<string, unknown> {
  const { shown, more } = listed(n, maxMaps);
  const lines = shown.map(transitionText);
  if (more) lines.push(`... and ${more} more`);
  return {
    source: 'ebpf-map-pressure',
    host,
    time: new Date(n.time).toISOString(),
    event: n.event,
    counts: { ...n.counts },
    transitions: shown.map((t) => {
      const m = t.map;
      return {
        map: { id: m.id, name: m.name, type: m.type },
        owner: t.owner ?? null,
        from: t.from,
        to: t.to,
        entries: m.fill,
        max_entries: m.maxEntries,
        utilization: m.utilization,
        growth_per_s: m.growthPerS,
        time_to_full_s: m.timeToFullS,
        peak_entries: m.peakFill,
        suggested_max_entries: m.suggestedMaxEntries,
        text: transitionText(t),
      };
    }),
    more,
    text: [headline(n, host), ...lines].join('\n'),
  };
}

/** Slack's mrkdwn reserves &, < and > (links, mentions): they must go as entities. */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const SLACK_ICON = { normal: ':large_green_circle:', warning: ':warning:', critical: ':red_circle:' } as const;

/** A Slack-compatible payload (incoming webhooks; Mattermost and others take it too): a line per map. */
export function slackPayload(n: Notification, host: string, maxMaps: number): Record<string, unknown> {
  const { shown, more } = listed(n, maxMaps);
  const lines = shown.map((t) => {
    // transitionText's name is the map's own; backticks would end Slack's code span.
    const text = slackEscape(transitionText({ ...t, map: { ...t.map, name: (t.map.name || '(no name)').replace(/`/g, "'") } }));
    return `${SLACK_ICON[t.to]} *${t.to}* ${text}`;
  });
  if (more) lines.push(`... and ${more} more`);
  return { text: [`*${slackEscape(headline(n, host))}*`, ...lines].join('\n') };
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
   * Queues one notification for every URL with the transitions not in cooldown (per map and
   * level, on collection time: it follows what was seen); returns whether one was queued.
   */
  notify(n: Notification): boolean {
    if (!this.#accepting || this.#targets.length === 0) return false;
    const now = n.time;
    const due = n.transitions.filter((t) => {
      const last = this.#cooldown.get(`${t.map.id}:${t.to}`);
      return last === undefined || now - last >= this.#s.cooldownMs;
    });
    const held = n.transitions.length - due.length;
    if (held) this.#log.debug('webhook: transitions within cooldown, not sent', { maps: held });
    if (due.length === 0) return false;
    if (this.#cooldown.size + due.length > COOLDOWN_PRUNE_AT) {
      for (const [k, at] of this.#cooldown) if (now - at >= this.#s.cooldownMs) this.#cooldown.delete(k);
    }
    for (const t of due) this.#cooldown.set(`${t.map.id}:${t.to}`, now);
    const batch: Notification = { ...n, transitions: due };
    const payload = this.#s.format === 'slack' ? slackPayload(batch, this.#host, this.#s.maxMaps) : genericPayload(batch, this.#host, this.#s.maxMaps);
    const body = JSON.stringify(payload);
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
