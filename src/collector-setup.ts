// SPDX-License-Identifier: Apache-2.0
/**
 * The Collector a configuration asks for: the reader's options, the map filter and the owner
 * resolver. Shared by the agent (`run`) and the one-shot commands (`snapshot`, `top`), which
 * load this and not the export stack.
 */
import { Collector } from './collector';
import type { AgentConfig } from './config';
import { filters, makeFilter } from './filter';
import { createLogger, type Logger } from './log';
import { OwnersReader } from './native';
import { PodNames } from './owners/kubernetes';
import { OwnerResolver, procCgroupReader } from './owners/resolver';

/** The owner resolver a configuration asks for, or null when owners are off. */
export function createOwnerResolver(config: AgentConfig, log: Logger): OwnerResolver | null {
  const o = config.owners;
  if (!o.enabled) return null;
  const source = new OwnersReader({ btfPath: config.paths.btf, bpffs: config.paths.bpffs, procfs: config.paths.procfs, pins: o.pins, maxPins: o.maxPins });
  const kube = { podLogs: config.paths.podLogs, containerLogs: config.paths.containerLogs, kubeletUrl: o.kubelet.url };
  const names =
    kube.kubeletUrl || kube.podLogs || kube.containerLogs
      ? new PodNames({ ...kube, kubeletTokenFile: o.kubelet.tokenFile, refreshMs: o.kubelet.refreshMs, timeoutMs: o.kubelet.timeoutMs }, log)
      : null;
  return new OwnerResolver(
    source,
    { intervalMs: o.intervalMs, collectionIntervalMs: config.intervalMs, budgetMs: o.budgetMs, maxPerMap: o.maxPerMap, pins: o.pins, bpffs: config.paths.bpffs },
    { readCgroup: procCgroupReader(config.paths.procfs), names },
  );
}

/** Builds the collector a configuration asks for. */
export function createCollector(config: AgentConfig, log: Logger = createLogger(config.logLevel)): Collector {
  const owners = createOwnerResolver(config, log);
  return new Collector({
    ...(owners && { owners }),
    // A map's first collection waits for its owners only when they are copied onto its series,
    // and at most half an interval: the collection still ends well within it.
    ...(owners && config.owners.copyAttributes.length > 0 && { ownersWaitMs: config.intervalMs / 2 }),
    reader: {
      useKfunc: config.counting.kfunc,
      useKernelState: config.counting.kernelState,
      readMemory: config.counting.memory,
      walk: config.walk.enabled,
      walkMaxEntries: config.walk.maxEntries,
      walkBudgetMs: config.walk.budgetMs,
      btfPath: config.paths.btf,
      procfs: config.paths.procfs,
    },
    ...(filters(config.filter) && { filter: makeFilter(config.filter) }),
  });
}
