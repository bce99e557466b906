// SPDX-License-Identifier: Apache-2.0
// Why a listener could not bind, as a coded error: a host that is no address of this host is a
// configuration mistake (EMP_BAD_HOST, exit 2) naming the key, the value and the fix; anything
// else is the endpoint's own listen error.
import t from 'tap';
import { listenError } from '../src/listen';

const sys = (code: string, syscall: string) => Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
const prometheus = { what: 'prometheus endpoint', section: 'prometheus', host: 'metrics.invalid', port: 9464, hostEnv: 'OTEL_EXPORTER_PROMETHEUS_HOST', otherwise: 'EMP_PORT_IN_USE' } as const;

t.test('a host that does not resolve or is not on this host: EMP_BAD_HOST, exit 2', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['ENOTFOUND', 'getaddrinfo', /does not resolve \(getaddrinfo ENOTFOUND\)/],
    ['EAI_AGAIN', 'getaddrinfo', /does not resolve \(the resolver failed for now\)/],
    ['EAI_NONAME', 'getaddrinfo', /does not resolve/],
    ['EADDRNOTAVAIL', 'listen', /is not an address of this host \(listen EADDRNOTAVAIL\)/],
  ];
  for (const [code, syscall, why] of cases) {
    const e = listenError(sys(code, syscall), prometheus);
    t.equal(e.code, 'EMP_BAD_HOST', code);
    t.equal(e.exitCode, 2, `${code}: a configuration error`);
    t.match(e.message, /^prometheus\.host "metrics\.invalid" /, `${code}: the key and the value`);
    t.match(e.message, why, `${code}: why`);
    t.match(e.hint, /^set prometheus\.host \(--prometheus\.host, OTEL_EXPORTER_PROMETHEUS_HOST\) to an address of this host: 127\.0\.0\.1/, `${code}: the fix`);
    t.equal(e.syscall, syscall);
  }
});

t.test('anything else is the listener\'s own error', async (t) => {
  const inUse = listenError(sys('EADDRINUSE', 'listen'), prometheus);
  t.equal(inUse.code, 'EMP_PORT_IN_USE');
  t.equal(inUse.message, 'prometheus endpoint cannot listen on metrics.invalid:9464: EADDRINUSE');
  t.equal(inUse.hint, "another process listens on port 9464 (`ss -ltnp 'sport = :9464'` names it): stop it, or set prometheus.port (--prometheus.port) to a free port", 'taken: who holds it, and the key');
  const health = listenError(sys('EACCES', 'listen'), { ...prometheus, what: 'health endpoint', section: 'health', port: 80, otherwise: 'EMP_HEALTH_LISTEN', otherwiseHint: 'not this one' });
  t.equal(health.code, 'EMP_HEALTH_LISTEN');
  t.match(health.hint, /^port 80 is privileged \(below net\.ipv4\.ip_unprivileged_port_start, 1024 by default\) and the agent lacks CAP_NET_BIND_SERVICE: set health\.port \(--health\.port\) to 1024 or above/, 'privileged: not "stop what holds it"');
  const other = listenError(sys('EMFILE', 'listen'), { ...prometheus, otherwiseHint: 'the hint given' });
  t.equal(other.hint, 'the hint given', 'any other errno: the listener\'s hint');
  t.equal(listenError(Object.assign(new Error('x'), { code: 'ENOTFOUND' }), prometheus).message, 'prometheus.host "metrics.invalid" does not resolve (ENOTFOUND): the prometheus endpoint cannot listen on it', 'no syscall: the code alone');
  t.equal(listenError(new Error('odd'), prometheus).message, 'prometheus endpoint cannot listen on metrics.invalid:9464: odd', 'no errno: the message');
});
