#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
'use strict';
const { main } = require('../dist/cli/main.js');

main(process.argv.slice(2)).then((code) => {
  // -1: the agent runs on; it exits from its signal handler.
  if (code >= 0) process.exitCode = code;
});
