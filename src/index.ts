// SPDX-License-Identifier: Apache-2.0
/** The library surface: collect map stats in-process, or run the agent. */
export { Agent } from './agent';
export { createCollector } from './collector-setup';
export { type Collection, Collector, type MapStats } from './collector';
export { type AgentConfig, loadConfig } from './config';
export { AgentError, ERRORS, type ErrorCode } from './errors';
export { MAP_TYPES, mapType } from './map-types';
export { ALL_METRICS, METRICS, prometheusName } from './metrics/table';
export { MapStatsReader } from './native';
