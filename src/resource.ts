// SPDX-License-Identifier: Apache-2.0
/**
 * The resource every metric carries: who is reporting (service.*) and about which host
 * (host.*, os.*), merged under OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { type Resource, envDetector, resourceFromAttributes, detectResources } from '@opentelemetry/resources';
import { VERSION } from './version';

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm32', ia32: 'x86', ppc64: 'ppc64', s390x: 's390x' };

/** The host's machine id (systemd's /etc/machine-id), or undefined when absent. */
export function readMachineId(file: string): string | undefined {
  try {
    const id = readFileSync(file, 'utf8').trim();
    return /^[0-9a-f]{32}$/i.test(id) ? id.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/** A UUID derived from the machine id: stable across restarts of the agent on one host. */
export function instanceId(machineId: string | undefined, hostname: string): string {
  const h = createHash('sha256').update(`ebpf-map-pressure:${machineId ?? hostname}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function buildResource(options: { machineIdFile: string }): Resource {
  const hostname = os.hostname();
  const machineId = readMachineId(options.machineIdFile);
  const base = resourceFromAttributes({
    'service.name': 'ebpf-map-pressure',
    'service.version': VERSION,
    'service.instance.id': instanceId(machineId, hostname),
    'host.name': hostname,
    ...(machineId !== undefined && { 'host.id': machineId }),
    'host.arch': ARCH[os.arch()] ?? os.arch(),
    'os.type': os.platform(),
    'os.version': os.release(),
  });
  // envDetector reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME from process.env.
  return base.merge(detectResources({ detectors: [envDetector] }));
}
