#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { AgentError } from '../lambdas/core/errors';
import { ConfigError, loadConfig } from '../lib/config';
import { adminCommand } from './cli/admin';
import { chatCommand } from './cli/chat';
import { type CliCommand, type CliValues, UsageError } from './cli/common';
import { evalCommand } from './cli/eval';
import { flagsUsage, PARSE_OPTIONS } from './cli/flags';
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
${flagsUsage()}`;

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs({ args: argv, allowPositionals: true, options: PARSE_OPTIONS });
  // No option is `multiple`: every value is a string or a boolean.
  const values = parsed.values as CliValues;
  const { positionals } = parsed;
  const [name, ...rest] = positionals;
  if (values.help || !name) {
    process.stdout.write(`${usage()}\n`);
    return name || values.help ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"\n\n${usage()}`);
  return command.run({ config: loadConfig(values.config as string | undefined), positionals: rest, values });
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
