#!/usr/bin/env node
// `npx agent …`: runs the TypeScript CLI through tsx (on node_modules/.bin/node, Node 22, under npx). tsx is registered
// for both module systems: the CLI `require`s its modules, and each command loads what it runs with `import()`, which
// goes through Node's ESM loader (tsx's CommonJS hook alone leaves it unable to resolve a `.ts` file).
require('tsx/esm/api').register();
require('tsx/cjs');
require('./agent.ts').runCli(process.argv.slice(2));
