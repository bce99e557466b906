// SPDX-License-Identifier: Apache-2.0
/**
 * The pressure layer as the agent runs it: each collection goes through the tracker, each
 * transition is logged and handed to the webhooks, and a summary line goes out when due.
 * Everything reads the Collection; webhook I/O is queued, so update() returns at once.
 */
import type { Collection } from '../collector';
import type { Logger } from '../log';
import { AlertLog } from './alerts';
import type { PressureConfig, WebhookConfig } from './settings';
import { type PressureReadout, PressureTracker, type Transition } from './tracker';
import { WebhookNotifier } from './webhook';

export type TransitionListener = (t: Transition) => void;

export class PressureMonitor {
  readonly tracker: PressureTracker;
  readonly notifier: WebhookNotifier;
  readonly #alerts: AlertLog;
  readonly #listeners: TransitionListener[] = [];
  readonly #log: Logger;

  constructor(config: { pressure: PressureConfig; webhook: WebhookConfig }, log: Logger, options: { host?: string } = {}) {
    this.#log = log;
    this.tracker = new PressureTracker(config.pressure);
    this.#alerts = new AlertLog(log, config.pressure.summaryIntervalMs);
    this.notifier = new WebhookNotifier(config.webhook, log, options);
  }

  /** Called with every transition after it is logged (the demo uses it). */
  onTransition(listener: TransitionListener): void {
    this.#listeners.push(listener);
  }

  latest(): PressureReadout | null {
    return this.tracker.latest();
  }

  update(c: Collection): void {
    const { readout, transitions } = this.tracker.update(c);
    for (const t of transitions) {
      this.#alerts.transition(t);
      this.notifier.notify(t);
      for (const l of this.#listeners) {
        try {
          l(t);
        } catch (e) {
          this.#log.error('a transition listener failed', { error: (e as Error).message });
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
