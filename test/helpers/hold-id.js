// SPDX-License-Identifier: Apache-2.0
// Child process for holdMapById(): opens a map by id, says "held", holds it until killed.
// Plain JavaScript on the built fixtures addon, with none of the test runner's loaders.
'use strict';
const path = require('node:path');

require(path.join(__dirname, '..', 'fixtures', 'build', 'Release', 'emp_fixtures.node')).mapFdById(Number(process.argv[2]));
process.stdout.write('held\n');
setInterval(() => {}, 1 << 30);
