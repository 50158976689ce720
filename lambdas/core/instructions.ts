import { createHash } from 'node:crypto';
import { ConfigError } from './config-env';

/**
 * The agent's instructions: the system prompt of every model call (docs/agent.md). They come from the config
 * (`instructions`: the text, or a file the CLI and the stack read next to the config file), travel in the handlers'
 * configuration (so a deploy changes them and a rollback restores them), and the trace records which ones a run used.
 */

/** The instructions when the config gives none (the demo's). */
export const DEFAULT_INSTRUCTIONS = 'You are a careful assistant. Use the tools when they help; answer concisely once you have what you need.';

/** The instructions a run uses, as the trace records them: the text and a short hash that names it. */
export interface Instructions {
  text: string;
  /** The first 16 hex digits of the SHA-256 of the text. */
  hash: string;
}

/** The short hash that names an instructions text in the trace. */
export function instructionsHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

/**
 * The instructions of a config. A `{file}` reference must have been read into the text before (lib/config.ts
 * `loadConfig` does it, relative to the config file); one that reaches a handler is a ConfigError that says so.
 */
export function instructionsOf(config: { instructions?: string | { file: string } }): Instructions {
  const value = config.instructions ?? DEFAULT_INSTRUCTIONS;
  if (typeof value !== 'string') {
    throw new ConfigError(`instructions: the file "${value.file}" was not read; load the config with lib/config.ts loadConfig (it reads the file relative to the config file)`);
  }
  return { text: value, hash: instructionsHash(value) };
}
