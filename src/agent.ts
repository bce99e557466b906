// SPDX-License-Identifier: Apache-2.0
/**
 * The agent: a collection every interval, handed to whoever listens (metrics, pressure
 * levels, views), then exported (each collection drives one export of itself), and a clean
 * stop. A failed collection is logged when failing starts and when it ends, and never stops
 * the agent.
 */
import type { Collection, Collector } from './collector';
import { createCollector } from './collector-setup';
import type { AgentConfig } from './config';
import { AgentError, isAgentError } from './errors';
import { prepareQueueDir } from './export/disk-queue';
import { type Logger, logDetail } from './log';
import { MetricSelection } from './metrics/selection';
import { SelfTelemetry } from './metrics/self';
import { toAgentError } from './native';
import { PressureMonitor } from './pressure/monitor';
import type { PressureReadout } from './pressure/tracker';
import { buildResource } from './resource';
import { startTelemetry, type Telemetry } from './telemetry';

export type CollectionListener = (c: Collection) => void;

export class Agent {
  readonly #config: AgentConfig;
  readonly #log: Logger;
  readonly #listeners: CollectionListener[] = [];
  #collector: Collector | null = null;
  #telemetry: Telemetry | null = null;
  #latest: Collection | null = null;
  #timer: NodeJS.Timeout | null = null;
  #failing: string | null = null;
  #lastError: AgentError | null = null;
  /** The partial failures already logged (memory, walks): each once per agent. */
  readonly #warned = new Set<string>();
  #stopping: Promise<void> | null = null;
  /** Before the first collection: the start time of every per-map point. */
  readonly #startedAt = Date.now();

  /**
   * Levels, forecasts, transition log lines and webhooks: the first collection listener. It
   * computes from the first collection on, and speaks once start() has succeeded.
   */
  readonly pressure: PressureMonitor;
  /** The agent's own telemetry: every collection's outcome, and every export's. */
  readonly self: SelfTelemetry;
  /** The metrics exported (metrics.<name>.enabled); a reload sets it, the next export follows. */
  readonly metrics: MetricSelection;

  constructor(config: AgentConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.pressure = new PressureMonitor(config, log);
    this.self = new SelfTelemetry({ readMemory: config.counting.memory });
    this.metrics = new MetricSelection(config.metrics);
    this.#listeners.push((c) => this.pressure.update(c));
  }

  latest(): Collection | null {
    return this.#latest;
  }

  /** The error of the last collection attempt; null once one succeeds (for /readyz). */
  lastError(): AgentError | null {
    return this.#lastError;
  }

  latestPressure(): PressureReadout | null {
    return this.pressure.latest();
  }

  onCollection(listener: CollectionListener): void {
    this.#listeners.push(listener);
  }

  get telemetry(): Telemetry | null {
    return this.#telemetry;
  }

  /** Loads the iterator, makes the first collection, starts exporting. Throws AgentError. */
  async start(): Promise<void> {
    // An unusable queue directory is a configuration error: found before the iterator loads.
    if (this.#config.export.queue.dir && this.#config.exporters.includes('otlp') && !this.#config.sdkDisabled) prepareQueueDir(this.#config.export.queue.dir);
    this.#collector = createCollector(this.#config, this.#log);
    try {
      // The first collection must work: a permission problem is fatal at start, not later.
      await this.#collectOnce(true);
      this.#telemetry = await startTelemetry({
        config: this.#config,
        resource: buildResource({ machineIdFile: this.#config.paths.machineId }),
        log: this.#log,
        self: this.self,
        startMs: this.#startedAt,
        metrics: this.metrics,
      });
      await this.#export(this.#latest);
    } catch (e) {
      // A failed start detaches the iterator it loaded.
      await this.#collector.close();
      this.#collector = null;
      throw e;
    }
    this.#log.info('agent started', {
      maps: this.#latest?.maps.length ?? 0,
      interval_ms: this.#config.intervalMs,
      exporters: this.#telemetry.describe.join(', ') || 'none',
      kfunc: this.#collector.kfuncAvailable,
      // From the process's start: what a supervisor waits before the agent is up.
      startup_ms: Math.round(process.uptime() * 1000),
    });
    // Only now may the pressure layer speak: a start that failed above said nothing.
    this.pressure.begin();
    this.#schedule();
  }

  #schedule(): void {
    // setTimeout, not setInterval: a slow collection delays the next instead of piling up.
    // The timer is left ref'd: it is what keeps the agent alive.
    this.#timer = setTimeout(() => {
      void this.#collectOnce(false).finally(() => {
        if (!this.#stopping) this.#schedule();
      });
    }, this.#config.intervalMs);
  }

  #warnOnce(error: AgentError | null, message: string): void {
    if (!error || this.#warned.has(error.code)) return;
    this.#warned.add(error.code);
    this.#log.warn(message, { code: error.code, error: error.message, hint: error.hint });
  }

  /** One export of one collection attempt (null: it failed); never throws. */
  async #export(c: Collection | null): Promise<void> {
    if (!this.#telemetry) return;
    try {
      await this.#telemetry.export(c, c ? this.pressure.latest() : null);
    } catch (e) {
      this.#warnOnce(isAgentError(e) ? e : new AgentError('EMP_EXPORT_FAILED', (e as Error).message), 'an export could not be prepared');
    }
  }

  /** A collection and its export now, then waits (at most export_timeout) for delivery. For tests and tools. */
  async collectNow(): Promise<void> {
    await this.#collectOnce(false);
    await this.#telemetry?.flush();
  }

  async #collectOnce(fatal: boolean): Promise<void> {
    const started = performance.now();
    let collected: Collection | null = null;
    try {
      const c = await this.#collector!.collect();
      this.#latest = collected = c;
      this.self.collected(c);
      this.#lastError = null;
      if (this.#failing) {
        this.#log.info('collection recovered', { previous_error: this.#failing });
        this.#failing = null;
      }
      this.#warnOnce(c.memoryError, 'map memory is not readable; ebpf.map.memory will be missing');
      this.#warnOnce(c.walkError, 'maps that need an element walk are not counted');
      this.#warnOnce(c.walkUnsupported, 'this kernel does not run every element-walk program; the maps only a walk can count report no entries');
      const owners = c.ownerProblems;
      this.#warnOnce(owners?.unsupported ?? null, 'owners: part of each map\'s owners is unknown on this kernel (each map says which)');
      this.#warnOnce(owners?.failed ?? null, 'owners: an owner pass failed; the previous owners are kept');
      this.#warnOnce(owners?.pins ?? null, 'owners: pins are not all readable; maps pinned there lack those pins');
      for (const listener of this.#listeners) {
        try {
          listener(c);
        } catch (e) {
          this.#log.error('a collection listener failed', { error: (e as Error).message });
        }
      }
    } catch (e) {
      const err: AgentError = isAgentError(e) ? e : toAgentError(e);
      this.self.failed(err.code, performance.now() - started);
      this.#lastError = err;
      if (fatal) throw err;
      if (this.#failing !== err.code) {
        this.#failing = err.code;
        this.#log.error('collection failed; retrying every interval', { code: err.code, error: err.message, hint: err.hint });
        logDetail(this.#log, err);
      }
    }
    await this.#export(collected);
  }

  /** A final collection and flush, then detach. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#timer) clearTimeout(this.#timer);
      if (this.#collector) await this.#collectOnce(false);
      await Promise.all([
        this.#telemetry?.shutdown().catch((e: Error) => this.#log.warn('final export failed', { code: 'EMP_EXPORT_FAILED', error: e.message })),
        this.pressure.close(),
      ]);
      await this.#collector?.close();
    })();
    return this.#stopping;
  }
}
