// SPDX-License-Identifier: Apache-2.0
// Child process for holdMapById(): opens a map by id, says "held", holds it until killed.
import { fixtures } from './fixtures';

fixtures().mapFdById(Number(process.argv[2]));
process.stdout.write('held\n');
setInterval(() => {}, 1 << 30);
