#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { AgentError } from '../lambdas/core/errors';
import { ConfigError, loadConfig } from '../lib/config';
import { adminCommand } from './cli/admin';
import { chatCommand } from './cli/chat';
import { type CliCommand, UsageError } from './cli/common';
import { evalCommand } from './cli/eval';
import { keysCommand } from './cli/keys';
import { loginCommand, usersCommand } from './cli/login';
import { approveCommand, cancelCommand, pauseCommand, rejectCommand, resumeCommand, runsCommand, showCommand, traceCommand } from './cli/remote';
import { replayCommand } from './cli/replay';
import { runCommand } from './cli/run';
import { serveCommand } from './cli/serve';

/** The commands; each lives in bin/cli/<name>.ts. */
const COMMANDS: Record<string, CliCommand> = {
  run: runCommand,
  chat: chatCommand,
  serve: serveCommand,
  runs: runsCommand,
  show: showCommand,
  trace: traceCommand,
  pause: pauseCommand,
  resume: resumeCommand,
  cancel: cancelCommand,
  approve: approveCommand,
  reject: rejectCommand,
  replay: replayCommand,
  admin: adminCommand,
  keys: keysCommand,
  login: loginCommand,
  users: usersCommand,
  eval: evalCommand,
};

const usage = () => `Usage: agent <command> [options]

Commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}`)
  .join('\n')}

Options:
  --config <file>    config file (default: agent.config.json, or AGENT_CONFIG)
  --json             print JSON on stdout
  --max-steps <n>    run: lower the step budget for this request
  --max-tokens <n>   run: lower the token budget for this request
  --max-cost-usd <d> run: lower the dollar budget for this request
  --port <n>         serve: port; the others: where to look for the local server (default: PORT or 3000)
  --data <dir>       serve, run, runs, show, trace, replay: the local data dir, where the offline DynamoDB keeps
                     runs (default: .agent-data); read directly when no local server answers on --port
  --api <url>        talk to a deployed stack instead of the local engine
  --token <jwt>      bearer token for --api (default: the session of agent login --api <url>)
  --username <email> login: who signs in (default: asked); the password is read from stdin
  --pool-id <id>     login, users: the user pool (default: from <api>/config)
  --client-id <id>   login: the public app client (default: from <api>/config)
  --region <name>    login, users: the pool's region (default: from the pool id); keys --stack: the stack's region
  --cognito-endpoint <url>  login, users: a local Cognito emulator (or AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER)
  --admin            users add: also add to the agent-admins group; keys create: an admin key
  --stack <name>     keys: write to a deployed stack's table with AWS credentials (the first admin key)
  --temporary-password <p>  users add: the first password (default: Cognito makes one and emails it)
  --export <file>    trace: write {run, events} to a file (for replay --file)
  --verbose          trace: also print the instructions the run used
  --output-schema <f> run: the answer must be JSON satisfying this JSON Schema file (at most 16 KB)
  --file <file>      replay, eval add: an exported trace (agent trace <id> --export)
  --user <id>        admin stop|runs: one user's runs only; keys create|list: the key's user
  --status <s>       admin runs: only runs in this status
  --from, --to <d>   admin runs: created in this range (ISO date or instant)
  --cursor <c>       admin runs: the next page
  --thread <id>      chat: continue this thread (default: a new one)
  --call <id>        approve/reject: the waiting tool call (needed when several wait)
  --reason <text>    approve/reject: why (the model reads a rejection's reason)
  --baseline <file>  eval: a second config run on the same suite, side by side; fewer passes than it fail the eval
  --concurrency <n>  eval: cases run at once (default 4)
  --min-pass <0..1>  eval: the share of cases that must pass (default 1)
  --out <dir>        eval: write report.json, report.md and the runs' traces there
  --suite <file>     eval add: the suite (JSON Lines) the case is appended to
  -h, --help         this text`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      'max-steps': { type: 'string' },
      'max-tokens': { type: 'string' },
      'max-cost-usd': { type: 'string' },
      port: { type: 'string' },
      data: { type: 'string' },
      api: { type: 'string' },
      token: { type: 'string' },
      username: { type: 'string' },
      'pool-id': { type: 'string' },
      'client-id': { type: 'string' },
      region: { type: 'string' },
      stack: { type: 'string' },
      'cognito-endpoint': { type: 'string' },
      admin: { type: 'boolean', default: false },
      'temporary-password': { type: 'string' },
      file: { type: 'string' },
      export: { type: 'string' },
      user: { type: 'string' },
      status: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      cursor: { type: 'string' },
      call: { type: 'string' },
      thread: { type: 'string' },
      reason: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      'output-schema': { type: 'string' },
      baseline: { type: 'string' },
      concurrency: { type: 'string' },
      'min-pass': { type: 'string' },
      out: { type: 'string' },
      suite: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [name, ...rest] = positionals;
  if (values.help || !name) {
    process.stdout.write(`${usage()}\n`);
    return name || values.help ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"\n\n${usage()}`);
  return command.run({ config: loadConfig(values.config), positionals: rest, values });
}

/** Runs the CLI and exits with its code: 0 done, 1 a fault, 2 bad input or config. */
export function runCli(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (err) => {
      const known = err instanceof ConfigError || err instanceof UsageError || err instanceof AgentError || String((err as { code?: string }).code).startsWith('ERR_PARSE_ARGS');
      process.stderr.write(`agent: ${known ? (err as Error).message : ((err as Error).stack ?? err)}\n`);
      process.exit(known ? 2 : 1);
    },
  );
}

if (require.main === module) runCli(process.argv.slice(2));
