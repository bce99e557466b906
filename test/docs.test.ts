// Generated docs match the code they are generated from (run `npm run docs` to refresh).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { GENERATED } from '../scripts/gen-docs';
import { ERRORS } from '../src/errors';

for (const [file, gen] of Object.entries(GENERATED)) {
  t.test(`${file} is up to date`, async (t) => {
    t.equal(readFileSync(path.join(__dirname, '..', file), 'utf8'), gen(), `run npm run docs`);
  });
}

t.test('every error code is documented in docs/errors.md, and only those', async (t) => {
  const doc = readFileSync(path.join(__dirname, '..', 'docs/errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `(EMP_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  t.same(documented.sort(), Object.keys(ERRORS).sort());
});
