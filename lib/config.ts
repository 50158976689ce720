import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AgentConfig, ConfigError, parseConfig } from '../lambdas/core/config';

/**
 * Reading `agent.config.json`: the file side of the one config schema. The schema, its types and `parseConfig` are
 * the core's (lambdas/core/config.ts: the core owns its types, lib/ imports them, never the reverse); the handlers
 * read the validated config zod-free (lambdas/core/config-env.ts).
 */
export * from '../lambdas/core/config';

/** The config file path: an explicit one, else AGENT_CONFIG, else agent.config.json in the working directory. */
export function configPath(explicit?: string): string {
  return resolve(explicit || process.env.AGENT_CONFIG || 'agent.config.json');
}

/** Reads and validates a config file. A missing default file means "all defaults". */
export function loadConfig(explicit?: string): AgentConfig {
  const file = configPath(explicit);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!explicit && !process.env.AGENT_CONFIG && (err as NodeJS.ErrnoException).code === 'ENOENT') return parseConfig({});
    throw new ConfigError(`Cannot read config file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(raw, file);
}

