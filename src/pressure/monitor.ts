// SPDX-License-Identifier: Apache-2.0
/**
 * The pressure layer as the agent runs it: each collection goes through the tracker; once the
 * agent has started (begin()), each collection's transitions are logged (bounded) and handed
 * to the webhooks as one notification, and a summary line goes out when due.
 *
 * Before begin() levels, forecasts and peaks are computed but nothing is said: an agent that
 * fails to start (a port taken, an exporter refused) and is restarted by its supervisor must
 * not page once per attempt. begin() then says, once, where the maps stand: one log line and
 * one notification listing the maps already past a threshold.
 *
 * Everything reads the Collection; webhook I/O is queued, so update() returns at once.
 */
import type { Collection } from '../collector';
import type { AgentConfig } from '../config';
import type { Logger } from '../log';
import { AlertLog, bySeverity, levelCounts } from './alerts';
import { type PressureReadout, PressureTracker, type Transition } from './tracker';
import { WebhookNotifier } from './webhook';

export type TransitionListener = (t: Transition) => void;

export class PressureMonitor {
  readonly tracker: PressureTracker;
  readonly notifier: WebhookNotifier;
  readonly #alerts: AlertLog;
  readonly #listeners: TransitionListener[] = [];
  readonly #log: Logger;
  #live = false;

  constructor(config: Pick<AgentConfig, 'pressure' | 'webhook'>, log: Logger, options: { host?: string } = {}) {
    this.#log = log;
    this.tracker = new PressureTracker(config.pressure);
    this.#alerts = new AlertLog(log, { summaryIntervalMs: config.pressure.summaryIntervalMs, maxTransitionLines: config.pressure.maxTransitionLines });
    this.notifier = new WebhookNotifier(config.webhook, log, options);
  }

  /** Called with every transition after it is logged (after begin() only). */
  onTransition(listener: TransitionListener): void {
    this.#listeners.push(listener);
  }

  latest(): PressureReadout | null {
    return this.tracker.latest();
  }

  /** Whether begin() was called: transitions are being logged and sent. */
  get live(): boolean {
    return this.#live;
  }

  /**
   * The agent has started: from now on transitions are logged and sent. Says where the maps
   * stand at this point, once: one log line, and one notification of the maps past a threshold.
   */
  begin(): void {
    if (this.#live) return;
    this.#live = true;
    const r = this.tracker.latest();
    if (!r) return;
    this.#alerts.started(r);
    const past: Transition[] = [];
    for (const m of r.maps.values()) {
      // A copy: the readout changes in place at the next collection, the notification goes later.
      if (m.level === 'warning' || m.level === 'critical') past.push({ map: Object.freeze({ ...m }), from: null, to: m.level, time: r.time, owner: m.owner });
    }
    past.sort(bySeverity);
    if (past.length) this.notifier.notify({ event: 'start', time: r.time, transitions: past, counts: levelCounts(r) });
  }

  update(c: Collection): void {
    const { readout, transitions } = this.tracker.update(c);
    if (!this.#live) return;
    if (transitions.length) {
      const sorted = [...transitions].sort(bySeverity);
      this.#alerts.transitions(sorted);
      this.notifier.notify({ event: 'change', time: readout.time, transitions: sorted, counts: levelCounts(readout) });
      for (const t of sorted) {
        for (const l of this.#listeners) {
          try {
            l(t);
          } catch (e) {
            this.#log.error('a transition listener failed', { error: (e as Error).message });
          }
        }
      }
    }
    this.#alerts.collection(readout);
  }

  /** Gives queued webhooks up to flushMs, then abandons them. */
  close(flushMs = 3000): Promise<void> {
    return this.notifier.close(flushMs);
  }
}
