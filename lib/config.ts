import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * The one config schema (`agent.config.json`), used by the CDK app, the Lambda handlers and the offline engine.
 * Every key has a default, so a config gives only what it changes. Unknown keys are errors.
 */

const positiveInt = (max: number) => z.number().int().positive().max(max);

export const ModelConfigSchema = z
  .strictObject({
    provider: z.enum(['demo', 'openai', 'anthropic', 'bedrock']),
    model: z.string().min(1),
    /** openai/anthropic: the API root (e.g. http://127.0.0.1:11434/v1); bedrock: endpoint override. */
    baseUrl: z.url().optional(),
    /** Name of the environment variable holding the API key (local runs). */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional(),
    /** Secrets Manager secret (name or ARN) holding the API key in AWS; the stack grants read on it. */
    apiKeySecret: z.string().min(1).optional(),
    /** Bedrock region (defaults to the stack's). */
    region: z.string().min(1).optional(),
    /** Client timeout of one model call. */
    timeoutMs: z.number().int().min(100).max(840_000).default(20_000),
    /** Cap on output tokens per call (the token budget may lower it further). */
    maxOutputTokens: positiveInt(200_000).default(1024),
  })
  .describe('a model: {provider, model, baseUrl?, apiKeyEnv?, apiKeySecret?, timeoutMs?, maxOutputTokens?}');

const jsonSchemaObject = z.record(z.string(), z.unknown());

export const HttpToolSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, _ or -, starting with a letter'),
  kind: z.literal('http'),
  url: z.url(),
  description: z.string().min(1).default('An HTTP tool.'),
  parameters: jsonSchemaObject.default({ type: 'object', properties: {} }),
  timeoutMs: z.number().int().min(100).max(840_000).default(5000),
});

export const RetrieverToolSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, _ or -, starting with a letter'),
  kind: z.literal('retriever'),
  url: z.url(),
  description: z.string().min(1).default('Searches the knowledge base and returns the most relevant passages.'),
  timeoutMs: z.number().int().min(100).max(840_000).default(3000),
  fallback: z.enum(['keyword']).default('keyword'),
});

export const ToolConfigSchema = z.discriminatedUnion('kind', [HttpToolSchema, RetrieverToolSchema]);

export const BreakerConfigSchema = z.strictObject({
  failureThreshold: positiveInt(1000).default(5),
  windowSeconds: positiveInt(3600).default(60),
  minimumCalls: positiveInt(1000).default(5),
  cooldownSeconds: positiveInt(3600).default(30),
  /** How long a half-open probe may hold its lease before another caller may probe. */
  probeLeaseSeconds: positiveInt(3600).optional(),
  enabled: z.boolean().default(true),
});

/** Tools every agent has; a configured tool may not take their names. */
export const BUILTIN_TOOL_NAMES = ['calculator', 'search_docs'] as const;

/** The step ceiling a deployment may set without `allowHighStepBudget`. */
export const STEP_CEILING = 50;

export const AgentConfigSchema = z
  .strictObject({
    models: z
      .strictObject({
        primary: ModelConfigSchema.default({ provider: 'demo', model: 'default', timeoutMs: 20_000, maxOutputTokens: 1024 }),
        fallback: ModelConfigSchema.optional(),
      })
      .default({
        primary: { provider: 'demo', model: 'default', timeoutMs: 20_000, maxOutputTokens: 1024 },
      }),
    budgets: z
      .strictObject({
        maxSteps: positiveInt(10_000).default(20),
        maxTokens: positiveInt(100_000_000).default(100_000),
        /** Share of maxTokens kept for a closing summary call when a run surrenders (0 = never call the model). */
        surrenderReserveRatio: z.number().min(0).max(0.5).default(0),
        /** Must be true to set maxSteps above 50 (a panic button, not a budget). */
        allowHighStepBudget: z.boolean().default(false),
        /** Tool calls run per step; further calls of the same step are answered with an error the model sees. */
        maxToolCallsPerStep: positiveInt(40).default(8),
      })
      .default({ maxSteps: 20, maxTokens: 100_000, surrenderReserveRatio: 0, allowHighStepBudget: false, maxToolCallsPerStep: 8 }),
    retry: z
      .strictObject({
        maxAttempts: positiveInt(5).default(3),
        intervalSeconds: positiveInt(300).default(1),
        backoffRate: z.number().min(1).max(10).default(2),
        maxDelaySeconds: positiveInt(3600).default(20),
      })
      .default({ maxAttempts: 3, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 20 }),
    breaker: BreakerConfigSchema.default({
      failureThreshold: 5,
      windowSeconds: 60,
      minimumCalls: 5,
      cooldownSeconds: 30,
      enabled: true,
    }),
    /** Per-dependency breaker overrides, keyed by dependency name (e.g. "model:primary", "tool:retrieve"). */
    breakers: z.record(z.string(), BreakerConfigSchema.partial()).default({}),
    tools: z.array(ToolConfigSchema).default([]),
    /** How many tool calls of one step run at once (the Map state's MaxConcurrency). */
    toolConcurrency: positiveInt(40).default(4),
    /** The API in AWS. */
    api: z
      .strictObject({
        /** Verify callers against this existing Cognito user pool instead of creating one. */
        userPoolId: z.string().regex(/^[\w-]+_[0-9a-zA-Z]+$/, 'must be a Cognito user pool id like us-east-1_AbCdEf123').optional(),
        /** The one browser origin CORS allows (the trace viewer's); none when absent. */
        corsOrigin: z.url().optional(),
        throttle: z.strictObject({ rateLimit: z.number().positive().max(10_000), burstLimit: z.number().int().positive().max(5000) }).optional(),
      })
      .default({}),
    observability: z
      .strictObject({
        /** Export every finished run's trace to Langfuse (off the hot path). */
        langfuse: z
          .strictObject({
            baseUrl: z.url(),
            /** Environment variables holding the keys (local runs). */
            publicKeyEnv: z.string().default('LANGFUSE_PUBLIC_KEY'),
            secretKeyEnv: z.string().default('LANGFUSE_SECRET_KEY'),
            /** Secrets Manager secret (name or ARN) with {"publicKey", "secretKey"} (AWS). */
            secret: z.string().min(1).optional(),
          })
          .optional(),
      })
      .default({}),
    /** Local server: bearer tokens mapped to user ids (never used in AWS, where Cognito verifies identity). */
    localTokens: z.record(z.string().min(16), z.string().min(1)).optional(),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.budgets.maxSteps > STEP_CEILING && !cfg.budgets.allowHighStepBudget) {
      ctx.addIssue({
        code: 'custom',
        path: ['budgets', 'maxSteps'],
        message: `must be at most ${STEP_CEILING} (got ${cfg.budgets.maxSteps}); set budgets.allowHighStepBudget to true to go higher`,
      });
    }
    const names = new Set<string>(BUILTIN_TOOL_NAMES);
    cfg.tools.forEach((t, i) => {
      if (names.has(t.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tools', i, 'name'],
          message: `"${t.name}" is already taken (built-ins: calculator, search_docs; names must be unique)`,
        });
      }
      names.add(t.name);
    });
  });

export type AgentConfig = z.output<typeof AgentConfigSchema>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;
export type ModelConfig = z.output<typeof ModelConfigSchema>;
export type ToolConfig = z.output<typeof ToolConfigSchema>;
export type BreakerConfig = z.output<typeof BreakerConfigSchema>;

/** A config that failed validation; the message lists every bad key with what is allowed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

/** Validates raw config; throws ConfigError naming each bad key and what is allowed. */
export function parseConfig(raw: unknown, source = 'config'): AgentConfig {
  const result = AgentConfigSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const key = formatPath(issue.path) || '(root)';
    if (issue.code === 'unrecognized_keys') {
      return `- ${key}: unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')} (allowed keys: README.md "Configuration" and the schema in lib/config.ts)`;
    }
    return `- ${key}: ${issue.message}`;
  });
  throw new ConfigError(`Invalid ${source}:\n${lines.join('\n')}`);
}

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

/** The environment variable through which the deployed handlers receive the validated config. */
export const CONFIG_ENV = 'AGENT_CONFIG_JSON';

/** Reads the config a handler was deployed with (validated again: one schema everywhere). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const json = env[CONFIG_ENV];
  if (!json) throw new ConfigError(`Environment variable ${CONFIG_ENV} is missing: the stack sets it on every handler`);
  return parseConfig(JSON.parse(json), CONFIG_ENV);
}
