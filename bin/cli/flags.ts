import type { ParseArgsConfig } from 'node:util';
import { ADMINS_GROUP } from '../../lambdas/api/public-config';

/** One option of the CLI: its type, the placeholder of its value, and its line of help. */
interface Flag {
  type: 'string' | 'boolean';
  value?: string;
  help: string;
}

/** Every option of `agent`, once: the parser's options and the help text are both read from here. */
export const FLAGS = {
  config: { type: 'string', value: '<file>', help: 'config file (default: agent.config.json, or AGENT_CONFIG)' },
  json: { type: 'boolean', help: 'print JSON on stdout' },
  'max-steps': { type: 'string', value: '<n>', help: 'run: lower the step budget for this request' },
  'max-tokens': { type: 'string', value: '<n>', help: 'run: lower the token budget for this request' },
  'max-cost-usd': { type: 'string', value: '<d>', help: 'run: lower the dollar budget for this request' },
  port: { type: 'string', value: '<n>', help: 'serve: port; the others: where to look for the local server (default: PORT or 3000)' },
  data: {
    type: 'string',
    value: '<dir>',
    help: 'serve, run, runs, show, trace, replay: the local data dir, where the offline DynamoDB keeps runs (default: .agent-data); read directly when no local server answers on --port',
  },
  api: { type: 'string', value: '<url>', help: 'talk to a deployed stack instead of the local engine' },
  token: { type: 'string', value: '<jwt>', help: 'bearer token for --api (default: the session of agent login --api <url>)' },
  username: { type: 'string', value: '<email>', help: 'login: who signs in (default: asked); the password is read from stdin' },
  'pool-id': { type: 'string', value: '<id>', help: 'login, users: the user pool (default: from <api>/config)' },
  'client-id': { type: 'string', value: '<id>', help: 'login: the public app client (default: from <api>/config)' },
  region: { type: 'string', value: '<name>', help: "login, users: the pool's region (default: from the pool id); keys --stack: the stack's region" },
  'cognito-endpoint': { type: 'string', value: '<url>', help: 'login, users: a local Cognito emulator (or AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER)' },
  admin: { type: 'boolean', help: `users add: also add to the ${ADMINS_GROUP} group; keys create: an admin key` },
  stack: { type: 'string', value: '<name>', help: "keys: write to a deployed stack's table with AWS credentials (the first admin key)" },
  'temporary-password': { type: 'string', value: '<p>', help: 'users add: the first password (default: Cognito makes one and emails it)' },
  export: { type: 'string', value: '<file>', help: 'trace: write {run, events} to a file (for replay --file)' },
  verbose: { type: 'boolean', help: 'trace: also print the instructions the run used' },
  'output-schema': { type: 'string', value: '<f>', help: 'run: the answer must be JSON satisfying this JSON Schema file (at most 16 KB)' },
  file: { type: 'string', value: '<file>', help: 'replay, eval add: an exported trace (agent trace <id> --export)' },
  user: { type: 'string', value: '<id>', help: "admin stop|runs: one user's runs only; keys create|list: the key's user" },
  status: { type: 'string', value: '<s>', help: 'admin runs: only runs in this status' },
  from: { type: 'string', value: '<d>', help: 'admin runs: created at or after (ISO date or instant)' },
  to: { type: 'string', value: '<d>', help: 'admin runs: created at or before (ISO date or instant)' },
  cursor: { type: 'string', value: '<c>', help: 'admin runs: the next page' },
  thread: { type: 'string', value: '<id>', help: 'chat: continue this thread (default: a new one)' },
  call: { type: 'string', value: '<id>', help: 'approve/reject: the waiting tool call (needed when several wait)' },
  reason: { type: 'string', value: '<text>', help: "approve/reject: why (the model reads a rejection's reason)" },
  baseline: { type: 'string', value: '<file>', help: 'eval: a second config run on the same suite, side by side; fewer passes than it fail the eval' },
  concurrency: { type: 'string', value: '<n>', help: 'eval: cases run at once (default 4)' },
  'min-pass': { type: 'string', value: '<0..1>', help: 'eval: the share of cases that must pass (default 1)' },
  out: { type: 'string', value: '<dir>', help: "eval: write report.json, report.md and the runs' traces there" },
  suite: { type: 'string', value: '<file>', help: 'eval add: the suite (JSON Lines) the case is appended to' },
  help: { type: 'boolean', help: 'this text' },
} satisfies Record<string, Flag>;

/** The options as node:util parseArgs takes them (booleans default to false; `-h` is --help). */
export const PARSE_OPTIONS: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(
  Object.entries(FLAGS as Record<string, Flag>).map(([name, f]) => [
    name,
    f.type === 'boolean' ? { type: 'boolean', default: false, ...(name === 'help' ? { short: 'h' } : {}) } : { type: 'string' },
  ]),
);

/** The "Options:" lines of the help text. */
export function flagsUsage(): string {
  return Object.entries(FLAGS as Record<string, Flag>)
    .map(([name, f]) => {
      const left = `${name === 'help' ? '-h, ' : ''}--${name}${f.value ? ` ${f.value}` : ''}`;
      return `  ${left.padEnd(17)}  ${f.help}`;
    })
    .join('\n');
}
