// SPDX-License-Identifier: Apache-2.0
// The map filter on its own: globs on the (escaped) name, type sets, and whether a
// configuration filters at all (if not, the collector skips the selection turn).
import t from 'tap';
import { filters, globToRegExp, makeFilter } from '../src/filter';

const none = { includeNames: [], excludeNames: [], includeTypes: [], excludeTypes: [] };

t.test('globToRegExp: * and ? only, everything else literal', async (t) => {
  t.ok(globToRegExp('cilium_*').test('cilium_ct4_global'));
  t.notOk(globToRegExp('cilium_*').test('xcilium_ct'), 'anchored');
  t.ok(globToRegExp('ct?').test('ct4'));
  t.notOk(globToRegExp('ct?').test('ct44'));
  t.ok(globToRegExp('a.b[1]').test('a.b[1]'), 'dots and brackets are literal');
  t.notOk(globToRegExp('a.b').test('axb'));
  t.ok(globToRegExp('caf\\xe9*').test('caf\\xe9_x'), 'a backslash is literal (escaped names)');
});

t.test('makeFilter: include and exclude by name and type', async (t) => {
  t.ok(makeFilter(none)('anything', 'hash'), 'no rules: everything');
  const f = makeFilter({ includeNames: ['ct_*', 'nat'], excludeNames: ['ct_tmp*'], includeTypes: [], excludeTypes: ['array'] });
  t.ok(f('ct_v4', 'hash'));
  t.ok(f('nat', 'lru_hash'));
  t.notOk(f('ct_tmp1', 'hash'), 'excluded name wins');
  t.notOk(f('ct_v4', 'array'), 'excluded type');
  t.notOk(f('other', 'hash'), 'not included');
  const types = makeFilter({ ...none, includeTypes: ['ringbuf'] });
  t.ok(types('rb', 'ringbuf'));
  t.notOk(types('rb', 'hash'));
});

t.test('filters: whether any rule is set', async (t) => {
  t.equal(filters(none), false);
  for (const key of ['includeNames', 'excludeNames', 'includeTypes', 'excludeTypes'] as const)
    t.equal(filters({ ...none, [key]: ['x'] }), true, key);
});
