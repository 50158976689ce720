#!/usr/bin/env node
// `npx agent …`: runs the TypeScript CLI through tsx (node 20 and 22 alike).
require('tsx/cjs');
require('./agent.ts').runCli(process.argv.slice(2));
