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
  const health = listenError(sys('EACCES', 'listen'), { ...prometheus, what: 'health endpoint', section: 'health', otherwise: 'EMP_HEALTH_LISTEN', otherwiseHint: 'choose another health.port' });
  t.equal(health.code, 'EMP_HEALTH_LISTEN');
  t.equal(health.hint, 'choose another health.port', 'the hint given');
  t.equal(listenError(Object.assign(new Error('x'), { code: 'ENOTFOUND' }), prometheus).message, 'prometheus.host "metrics.invalid" does not resolve (ENOTFOUND): the prometheus endpoint cannot listen on it', 'no syscall: the code alone');
  t.equal(listenError(new Error('odd'), prometheus).message, 'prometheus endpoint cannot listen on metrics.invalid:9464: odd', 'no errno: the message');
});
