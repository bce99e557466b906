// SPDX-License-Identifier: Apache-2.0
/**
 * Why an endpoint of ours (Prometheus, health) could not listen, as the coded error an
 * operator can act on: a host that is no address of this host is a configuration mistake
 * (EMP_BAD_HOST, exit 2), anything else (the port taken, a privileged port) is the endpoint's
 * own listen error.
 */
import { AgentError, type ErrorCode } from './errors';

/** errno of listen() or getaddrinfo() -> what is wrong with the host. */
const BAD_HOST: Record<string, string> = {
  ENOTFOUND: 'does not resolve',
  EAI_AGAIN: 'does not resolve (the resolver failed for now)',
  EAI_NONAME: 'does not resolve',
  EADDRNOTAVAIL: 'is not an address of this host',
};

export interface Listener {
  /** What listens, for the message: "prometheus endpoint". */
  what: string;
  /** The configuration section of its host and port: "prometheus" (prometheus.host). */
  section: string;
  host: string;
  port: number;
  /** The environment variable of `${section}.host`. */
  hostEnv: string;
  /** The code of any other listen failure. */
  otherwise: ErrorCode;
  /** The hint of a listen failure other than a port taken or privileged (default: the registry's fix). */
  otherwiseHint?: string;
}

export function listenError(e: NodeJS.ErrnoException, l: Listener): AgentError {
  const why = e.code !== undefined ? BAD_HOST[e.code] : undefined;
  const detail = `${e.syscall ? `${e.syscall} ` : ''}${e.code ?? e.message}`;
  if (why !== undefined)
    return new AgentError('EMP_BAD_HOST', `${l.section}.host ${JSON.stringify(l.host)} ${why} (${detail}): the ${l.what} cannot listen on it`, {
      cause: e,
      ...(e.syscall !== undefined && { syscall: e.syscall }),
      hint: `set ${l.section}.host (--${l.section}.host, ${l.hostEnv}) to an address of this host: 127.0.0.1 (loopback, the default), 0.0.0.0 (every interface), or one that \`ip -brief address\` lists`,
    });
  const hint = portHint(e.code, l) ?? l.otherwiseHint;
  return new AgentError(l.otherwise, `${l.what} cannot listen on ${l.host}:${l.port}: ${e.code ?? e.message}`, {
    cause: e,
    ...(hint !== undefined && { hint }),
  });
}

/** The fix for a port taken or privileged: each has its own, and names the key. */
function portHint(code: string | undefined, l: Listener): string | undefined {
  const key = `${l.section}.port (--${l.section}.port)`;
  if (code === 'EADDRINUSE')
    return `another process listens on port ${l.port} (\`ss -ltnp 'sport = :${l.port}'\` names it): stop it, or set ${key} to a free port`;
  if (code === 'EACCES')
    return `port ${l.port} is privileged (below net.ipv4.ip_unprivileged_port_start, 1024 by default) and the agent lacks CAP_NET_BIND_SERVICE: set ${key} to 1024 or above, or grant it that capability`;
  return undefined;
}
