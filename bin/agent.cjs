#!/usr/bin/env node
// `npx agent …`: runs the TypeScript CLI through tsx (on node_modules/.bin/node, Node 22, under npx).
require('tsx/cjs');
require('./agent.ts').runCli(process.argv.slice(2));
