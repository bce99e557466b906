// SPDX-License-Identifier: Apache-2.0
/**
 * `run`: the agent until SIGTERM or SIGINT; then a final collection and flush, exit 0.
 * SIGHUP loads the configuration again and applies what it can (./reload.ts).
 */
import { Agent } from '../agent';
import type { AgentConfig } from '../config';
import { startHealthServer } from '../health';
import type { LevelledLogger } from '../log';
import { type Loaded, reload } from './reload';

/** Seconds a stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 10_000;

/** `load` loads the configuration again from the same sources (SIGHUP); without it SIGHUP only says so. */
export async function run(config: AgentConfig, log: LevelledLogger, load?: () => Loaded, printable = ''): Promise<Agent> {
  const agent = new Agent(config, log);
  // Before the first collection, so liveness answers while the iterator loads (/readyz: 503).
  const health = config.health.enabled
    ? await startHealthServer(agent, { host: config.health.host, port: config.health.port, intervalMs: config.intervalMs })
    : null;
  if (health) log.info('health endpoint listening', { url: `http://${config.health.host}:${health.port}/readyz` });
  try {
    await agent.start();
  } catch (e) {
    await health?.close();
    throw e;
  }
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping: final collection and flush', { signal });
    const deadline = setTimeout(() => {
      log.error('stop took too long; exiting', { deadline_ms: STOP_DEADLINE_MS });
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    void agent.stop().then(
      async () => {
        await health?.close();
        log.info('stopped');
        process.exit(0);
      },
      (e: Error) => {
        log.error('stop failed', { error: e.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let running: Loaded = { config, printable };
  process.on('SIGHUP', () => {
    if (stopping) return;
    if (!load) {
      log.warn('SIGHUP: this agent was started without a configuration to reload; nothing changed');
      return;
    }
    running = reload(
      running,
      load,
      { setLogLevel: (l) => log.setLevel(l), setPressure: (p) => agent.pressure.tracker.reconfigure(p), setMetrics: (m) => agent.metrics.set(m) },
      log,
    );
  });
  return agent;
}
