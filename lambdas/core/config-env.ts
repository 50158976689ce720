import { gunzipSync, gzipSync } from 'node:zlib';
import type { AgentConfig } from './config';

/**
 * The zod-free part of the config, for the deployed handlers: the config was validated by the one schema
 * (./config.ts) at synth and serialized whole (defaults applied) into the handlers' environment, so a handler
 * only parses it. Bundling the schema (all of zod) into every handler would cost its size and module init on every
 * cold start for a check that synth already made.
 */

/** The environment variable through which the deployed handlers receive the validated config. */
export const CONFIG_ENV = 'AGENT_CONFIG_JSON';

/** Tools every agent has; a configured tool may not take their names. */
export const BUILTIN_TOOL_NAMES = ['calculator', 'search_docs'] as const;

/** A config that failed validation; the message lists every bad key with what is allowed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Marks a config variable written compressed: `gz:` and the base64 of the gzipped JSON. */
const GZIP_PREFIX = 'gz:';

/**
 * The config JSON as the handlers' environment carries it: the JSON itself while it fits `maxBytes` (readable in the
 * console), else gzipped and base64-encoded behind `gz:` (long instructions or an output schema; Lambda allows 4 KB
 * of variables per function). Undefined when even that does not fit.
 */
export function configEnvValue(json: string, maxBytes: number): string | undefined {
  if (Buffer.byteLength(json, 'utf8') <= maxBytes) return json;
  const packed = `${GZIP_PREFIX}${gzipSync(Buffer.from(json, 'utf8'), { level: 9 }).toString('base64')}`;
  return packed.length <= maxBytes ? packed : undefined;
}

/** The config JSON from the variable's value, written plain or compressed ({@link configEnvValue}). */
export function configJsonOf(value: string): string {
  if (!value.startsWith(GZIP_PREFIX)) return value;
  try {
    return gunzipSync(Buffer.from(value.slice(GZIP_PREFIX.length), 'base64')).toString('utf8');
  } catch (err) {
    throw new ConfigError(`Environment variable ${CONFIG_ENV} is not a valid compressed config: ${(err as Error).message}`);
  }
}

/**
 * The config a handler was deployed with: the output of `parseConfig` at synth (lib/agent-stack.ts serializes it),
 * parsed and trusted. The offline engine and the CLI validate with `parseConfig` themselves.
 */
export function deployedConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const value = env[CONFIG_ENV];
  if (!value) throw new ConfigError(`Environment variable ${CONFIG_ENV} is missing: the stack sets it on every handler`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(configJsonOf(value));
  } catch (err) {
    throw new ConfigError(`Environment variable ${CONFIG_ENV} is not valid JSON: ${(err as Error).message}`);
  }
  // A shape check of what synth always writes (every section has its defaults), so a hand-edited variable fails here.
  const cfg = parsed as Partial<AgentConfig> | null;
  if (!cfg || typeof cfg !== 'object' || !cfg.models?.primary || !cfg.budgets || !cfg.breaker || !Array.isArray(cfg.tools)) {
    throw new ConfigError(`Environment variable ${CONFIG_ENV} is not a validated config: deploy it with the stack (cdk synth validates it)`);
  }
  return cfg as AgentConfig;
}

/** The names of the tools whose calls wait for a person's decision (`approval: "required"` or `toolApprovals`). */
export function approvalRequiredTools(config: Pick<AgentConfig, 'tools' | 'toolApprovals'>): string[] {
  const gated = config.tools
    .filter((t) => t.approval === 'required')
    // An MCP server's tools are offered under their own names (or `<server>__<tool>` when two sources clash).
    .flatMap((t) => (t.kind === 'mcp' ? (t.allow ?? []).flatMap((name) => [name, `${t.name}__${name}`]) : [t.name]));
  return [...new Set([...gated, ...Object.keys(config.toolApprovals)])];
}
