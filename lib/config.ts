import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type AgentConfig, ConfigError, MAX_INSTRUCTIONS_CHARS, parseConfig } from '../lambdas/core/config';

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
  const config = parseConfig(raw, file);
  return withInstructionsRead(config, dirname(file));
}

/**
 * The config with `instructions: {"file": …}` replaced by the file's text, read relative to `baseDir` (the config
 * file's folder). The stack ships the text in the handlers' configuration, so a deploy changes the instructions and a
 * rollback restores them. A missing, empty or oversized file is a ConfigError naming it.
 */
export function withInstructionsRead(config: AgentConfig, baseDir: string): AgentConfig {
  const ref = config.instructions;
  if (ref === undefined || typeof ref === 'string') return config;
  const file = isAbsolute(ref.file) ? ref.file : resolve(baseDir, ref.file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`instructions: cannot read ${file} (the file is relative to the config file): ${(err as Error).message}`);
  }
  if (!text) throw new ConfigError(`instructions: ${file} is empty; give the agent's instructions, or remove "instructions" for the default`);
  if (text.length > MAX_INSTRUCTIONS_CHARS) throw new ConfigError(`instructions: ${file} has ${text.length} characters; at most ${MAX_INSTRUCTIONS_CHARS} are allowed`);
  return { ...config, instructions: text };
}
