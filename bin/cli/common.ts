import { resolve } from 'node:path';
import type { AgentConfig } from '../../lib/config';
import { DEFAULT_PORT } from '../../local/listen';

/** A usage or input error: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Options every command receives (parsed by bin/agent.ts). */
export type CliValues = Record<string, string | boolean | undefined>;

/** One CLI command. `positionals` are the words after the command name. */
export interface CliCommand {
  /** One line for the help text, e.g. 'run "<prompt>"   run one request offline'. */
  usage: string;
  run(ctx: { config: AgentConfig; positionals: string[]; values: CliValues }): Promise<number>;
}

/** The local server's port: `--port`, else PORT, else the default (where `serve` listens and the other commands look). */
export function localPort(values: CliValues): number {
  return Number(values.port ?? process.env.PORT ?? DEFAULT_PORT);
}

/** Where the local server keeps its data (and its development token): `--data`, else .agent-data. */
export function localDataDir(values: CliValues): string {
  return resolve((values.data as string | undefined) ?? '.agent-data');
}

/** A positive number of dollars (`--max-cost-usd 0.25`). */
export function usdOption(name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number of dollars (got "${value}")`);
  return n;
}

export function intOption(name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number of at least 1 (got "${value}")`);
  return n;
}

/** Refuses a data dir another process has open (a server, another `agent run`): its database opens in one process at a time. */
export async function assertDataDirFree(dataDir: string): Promise<void> {
  const { dataDirHolder } = await import('../../local/data-dir-lock');
  const holder = dataDirHolder(dataDir);
  if (holder) {
    const who = holder.url ? `the local server on ${holder.url} (pid ${holder.pid})` : `another agent process (pid ${holder.pid})`;
    throw new UsageError(`${dataDir} is in use by ${who}: wait for it to finish, talk to that server with --api <its url> --token <its token>, or pass --data <another dir>`);
  }
}
