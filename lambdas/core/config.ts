import { z } from 'zod';
import { BUILTIN_TOOL_NAMES, ConfigError } from './config-env';
import { clientTimeoutMs, positiveInt, ToolConfigSchema } from './config-tools';
import { contextWindowOf, outputReserveIssues } from './context-windows';
import { bedrockReasoningKind, REASONING_BUDGETS } from './model-params';
import { schemaProblem } from './output';
import { priceOf } from './pricing';
import { PROVIDERS } from './types';

export { approvalRequiredTools, BUILTIN_TOOL_NAMES, CONFIG_ENV, ConfigError, configEnvValue, configJsonOf } from './config-env';
export { HttpToolSchema, LambdaToolSchema, McpToolSchema, RetrieverToolSchema, ToolConfigSchema } from './config-tools';

/**
 * The one config schema (`agent.config.json`), used by the CDK app, the Lambda handlers and the offline engine.
 * Every key has a default, so a config gives only what it changes. Unknown keys are errors. Each default is written
 * once, on its key: a section that is absent is `.prefault({})`, i.e. parsed from `{}` so its keys' defaults apply.
 */

/** Longest instructions text (they travel in the handlers' configuration). */
export const MAX_INSTRUCTIONS_CHARS = 100_000;

export const ModelConfigSchema = z
  .strictObject({
    provider: z.enum(PROVIDERS).describe('Who answers: the offline demo model, an OpenAI-compatible API, Anthropic, or Bedrock (Converse).'),
    model: z.string().min(1).describe('The model id as the provider names it (demo: default, wander, repeat or fail).'),
    baseUrl: z.url().optional().describe('openai/anthropic: the API root (e.g. http://127.0.0.1:11434/v1); bedrock: endpoint override.'),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional()
      .describe('Name of the environment variable holding the API key (local runs).'),
    apiKeySecret: z.string().min(1).optional().describe('Secrets Manager secret (name or ARN) holding the API key in AWS; the stack grants read on it.'),
    region: z.string().min(1).optional().describe("Bedrock region (defaults to the stack's)."),
    timeoutMs: clientTimeoutMs(20_000, 'Client timeout of one model call.'),
    maxOutputTokens: positiveInt(200_000)
      .default(1024)
      .describe('Cap on output tokens per call (the token budget may lower it further); it is the output reserve of the context window too.'),
    temperature: z.number().min(0).max(2).optional().describe("Sampling temperature (openai 0-2; anthropic, bedrock 0-1). The provider's default when absent."),
    topP: z.number().min(0).max(1).optional().describe("Nucleus sampling (0-1). The provider's default when absent."),
    stopSequences: z.array(z.string().min(1).max(200)).min(1).max(16).optional().describe('Sequences that end the answer (openai and bedrock take at most 4).'),
    reasoningEffort: z
      .enum(['low', 'medium', 'high'])
      .optional()
      .describe(
        'How hard the model thinks: openai `reasoning_effort`; anthropic extended thinking with a thinking budget derived from it (docs/agent.md); bedrock through `additionalModelRequestFields` for the Claude and gpt-oss models.',
      ),
    contextWindowTokens: positiveInt(10_000_000)
      .min(1024)
      .optional()
      .describe('Input + output tokens the model accepts in one request; well-known models have it built in (lambdas/core/context-windows.ts).'),
  })
  .superRefine((m, ctx) => {
    for (const issue of [...modelParamIssues(m), ...windowIssues(m), ...outputReserveIssues(m)]) ctx.addIssue({ code: 'custom', path: [issue.key], message: issue.message });
  })
  .describe(
    'a model: {provider, model, baseUrl?, apiKeyEnv?, apiKeySecret?, timeoutMs?, maxOutputTokens?, temperature?, topP?, stopSequences?, reasoningEffort?, contextWindowTokens?}',
  );

export { bedrockReasoningKind, REASONING_BUDGETS } from './model-params';

/** What each provider accepts of the model parameters, checked per model: the message names what is allowed. */
export function modelParamIssues(m: {
  provider: string;
  model: string;
  maxOutputTokens: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
  reasoningEffort?: 'low' | 'medium' | 'high';
}): { key: string; message: string }[] {
  const issues: { key: string; message: string }[] = [];
  const p = m.provider;
  if (m.temperature !== undefined && (p === 'anthropic' || p === 'bedrock') && m.temperature > 1) {
    issues.push({ key: 'temperature', message: `${p} accepts a temperature from 0 to 1 (got ${m.temperature}); openai accepts 0 to 2` });
  }
  if (m.stopSequences && (p === 'openai' || p === 'bedrock') && m.stopSequences.length > 4) {
    issues.push({ key: 'stopSequences', message: `${p} accepts at most 4 stop sequences (got ${m.stopSequences.length})` });
  }
  if (m.reasoningEffort) {
    const thinking = p === 'anthropic' || (p === 'bedrock' && bedrockReasoningKind(m.model) === 'anthropic');
    if (p === 'openai' && (m.temperature !== undefined || m.topP !== undefined)) {
      issues.push({
        key: m.temperature !== undefined ? 'temperature' : 'topP',
        message: 'openai reasoning models (reasoningEffort) take no temperature or topP: remove one of them',
      });
    }
    if (p === 'bedrock' && !bedrockReasoningKind(m.model)) {
      issues.push({
        key: 'reasoningEffort',
        message: `bedrock takes a reasoning setting only for the Claude 3.7/Sonnet 4/Opus 4 and gpt-oss models (got "${m.model}"); remove reasoningEffort for this model`,
      });
    }
    if (thinking) {
      const budget = REASONING_BUDGETS[m.reasoningEffort];
      if (m.maxOutputTokens <= budget) {
        issues.push({
          key: 'maxOutputTokens',
          message: `must be above the thinking budget of reasoningEffort "${m.reasoningEffort}" (${budget} tokens; low ${REASONING_BUDGETS.low}, medium ${REASONING_BUDGETS.medium}, high ${REASONING_BUDGETS.high}): got ${m.maxOutputTokens}`,
        });
      }
      if (m.temperature !== undefined)
        issues.push({ key: 'temperature', message: 'anthropic extended thinking (reasoningEffort) does not take a temperature: remove one of them' });
      if (m.topP !== undefined && m.topP < 0.95) issues.push({ key: 'topP', message: `anthropic extended thinking (reasoningEffort) accepts topP from 0.95 to 1 (got ${m.topP})` });
    }
  }
  return issues;
}

export const BreakerConfigSchema = z.strictObject({
  failureThreshold: positiveInt(1000).default(5).describe('Failures within the window that open the breaker.'),
  windowSeconds: positiveInt(3600).default(60).describe('The sliding window the failures are counted in.'),
  minimumCalls: positiveInt(1000).default(5).describe('Calls within the window before the breaker may open at all.'),
  cooldownSeconds: positiveInt(3600).default(30).describe('How long an open breaker refuses calls before one probe goes through (half-open).'),
  probeLeaseSeconds: positiveInt(3600).optional().describe('How long a half-open probe may hold its lease before another caller may probe.'),
  enabled: z.boolean().default(true).describe('false: no breaker in front of the dependency.'),
});

/** CloudWatch log retention periods (days) CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

export const MonitoringConfigSchema = z
  .strictObject({
    alarms: z.boolean().default(true).describe('The CloudWatch alarms (lib/monitoring.ts): about US$1.20 a month in all, idle or not.'),
    dashboard: z.boolean().default(true).describe("The CloudWatch dashboard: US$3 a month beyond an account's first three."),
    logRetentionDays: z
      .number()
      .int()
      .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
      .default(30)
      .describe(`How long every log group of the stack keeps its logs, in days: one of ${LOG_RETENTION_DAYS.join(', ')}.`),
    alarmEmail: z
      .email('must be an email address, e.g. oncall@example.com')
      .optional()
      .describe('Alarm notifications by email: an SNS topic with this address subscribed, which every alarm notifies (ALARM and OK).'),
    alarmTopicArn: z
      .string()
      .regex(/^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/, 'must be an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:oncall')
      .optional()
      .describe('An existing SNS topic every alarm notifies (ALARM and OK); with alarmEmail too, the address is subscribed to it.'),
    alarmsNotifyNobody: z
      .string()
      .min(1)
      .optional()
      .describe(
        'With neither alarmEmail nor alarmTopicArn, `cdk synth` fails on the readiness finding that the alarms notify nobody (AgentReadiness-AlarmsNotify); this acknowledges it, saying why (e.g. "a developer stack; nobody is on call").',
      ),
  })
  .superRefine((m, ctx) => {
    if (m.alarmsNotifyNobody && (m.alarmEmail || m.alarmTopicArn)) {
      ctx.addIssue({ code: 'custom', path: ['alarmsNotifyNobody'], message: 'only applies when neither alarmEmail nor alarmTopicArn is set (then the alarms do notify someone)' });
    }
  });

// ---------------------------------------------------------------------------------------------------------------
// Spend control (docs/spend.md): prices, dollar limits, admins.

/** A model's price in US dollars per million tokens. */
export const PriceSchema = z.strictObject({
  inputPerMTokUsd: z.number().min(0).max(10_000).describe('US dollars per million input tokens.'),
  outputPerMTokUsd: z.number().min(0).max(10_000).describe('US dollars per million output tokens.'),
});

const usd = z.number().positive().max(10_000_000);

export const SpendConfigSchema = z.strictObject({
  dailyUsdPerUser: usd.optional().describe('Model spend a user may cause per UTC day; past it their new runs get 429 and their runs in flight stop.'),
  dailyUsdTotal: usd.optional().describe('Model spend of the whole deployment per UTC day.'),
  fallbackAt: z.number().gt(0).lt(1).optional().describe('Share of a daily cap past which the fallback model answers instead of the primary (cheaper; the run says so).'),
  alarmDailyUsd: usd.optional().describe('The daily-spend alarm fires past this many dollars (default: 80% of dailyUsdTotal when set).'),
});

/** Local server: bearer tokens of admins → admin id. */
export const AdminTokensSchema = z.record(z.string().min(16), z.string().min(1));

/** The dollar limits a config sets (each needs every configured model to have a price). */
export function dollarLimits(cfg: { budgets: { maxCostUsd?: number }; spend: z.output<typeof SpendConfigSchema> }): string[] {
  return [
    ...(cfg.budgets.maxCostUsd !== undefined ? ['budgets.maxCostUsd'] : []),
    ...(cfg.spend.dailyUsdPerUser !== undefined ? ['spend.dailyUsdPerUser'] : []),
    ...(cfg.spend.dailyUsdTotal !== undefined ? ['spend.dailyUsdTotal'] : []),
  ];
}

/**
 * A model whose context window is unknown: not in the built-in table (./context-windows.ts) and no
 * `contextWindowTokens`. Refused wherever a config is parsed (synth, the handlers, the local engine, `agent run`), so
 * every run has a window to compact against; the message names the model and the key to set.
 */
function windowIssues(m: { provider: string; model: string; contextWindowTokens?: number }): { key: string; message: string }[] {
  if (contextWindowOf(m) !== undefined) return [];
  const message = `model "${m.model}" (${m.provider}) has no built-in context window; set contextWindowTokens to the tokens (input + output) the model accepts, e.g. 128000 (built-in windows: docs/agent.md)`;
  return [{ key: 'contextWindowTokens', message }];
}

/** The step ceiling a deployment may set without `allowHighStepBudget`. */
export const STEP_CEILING = 50;

/** Instructions: the text itself, or a file relative to the config file (read at synth and by the local engine). */
export const InstructionsSchema = z.union([
  z.string().trim().min(1, 'must be non-empty text').max(MAX_INSTRUCTIONS_CHARS, `must be at most ${MAX_INSTRUCTIONS_CHARS} characters`),
  z.strictObject({ file: z.string().min(1, 'must name a file relative to the config file, e.g. "prompts/agent.md"') }),
]);

/** A JSON Schema the final answer must satisfy (`output` in the config, `outputSchema` on POST /runs). */
export const OutputSpecSchema = z.strictObject({
  schema: z
    .record(z.string(), z.unknown())
    .refine((s) => Object.keys(s).length > 0 && !schemaProblem(s), {
      error: (i) => schemaProblem(i.input) ?? 'must be a JSON Schema object, e.g. {"type": "object", "properties": {…}}',
    })
    .describe('The JSON Schema the final answer must satisfy.'),
  name: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -')
    .default('final_answer')
    .describe("The name the provider is given for the schema (OpenAI `json_schema.name`, the forced tool's name)."),
});

export const AgentConfigSchema = z
  .strictObject({
    instructions: InstructionsSchema.optional().describe(
      'The system prompt of every model call: the text, or {"file": "<path>"} relative to the config file (the demo\'s default when absent; docs/agent.md).',
    ),
    output: OutputSpecSchema.optional().describe('Structured output: the final answer is JSON satisfying `schema` (docs/agent.md).'),
    models: z
      .strictObject({
        primary: ModelConfigSchema.prefault({ provider: 'demo', model: 'default' }).describe('The model every step calls first.'),
        fallback: ModelConfigSchema.optional().describe('The model that answers when the primary fails (after its retries) or its breaker is open; none: the run degrades.'),
      })
      .prefault({})
      .describe('The models the agent calls.'),
    budgets: z
      .strictObject({
        maxSteps: positiveInt(10_000).default(20).describe('Model calls per run; the run ends UNFINISHED / STEP_BUDGET at the budget (above 50 needs allowHighStepBudget).'),
        maxTokens: positiveInt(100_000_000).default(100_000).describe('Tokens (input and output) per run, checked before each call; UNFINISHED / TOKEN_BUDGET.'),
        surrenderReserveRatio: z
          .number()
          .min(0)
          .max(0.5)
          .default(0)
          .describe('Share of maxTokens kept for a closing summary call when a run surrenders (0 = never call the model).'),
        allowHighStepBudget: z.boolean().default(false).describe('Must be true to set maxSteps above 50 (a panic button, not a budget).'),
        maxToolCallsPerStep: positiveInt(40).default(8).describe('Tool calls run per step; further calls of the same step are answered with an error the model sees.'),
        maxCostUsd: usd.optional().describe('Model spend of one run in US dollars (checked before each call, like maxTokens; needs priced models).'),
      })
      .prefault({})
      .describe('The per-run budgets; POST /runs may only lower them.'),
    retry: z
      .strictObject({
        maxAttempts: positiveInt(5).default(3).describe("All attempts of one call, the first included (the state machine's MaxAttempts is one less)."),
        intervalSeconds: positiveInt(300).default(1).describe('Wait before the first retry.'),
        backoffRate: z.number().min(1).max(10).default(2).describe('Each further wait is the previous one times this.'),
        maxDelaySeconds: positiveInt(3600).default(20).describe('The longest wait between attempts (full jitter below it).'),
      })
      .prefault({})
      .describe('Retries of transient failures (5xx, 429, timeouts) of model and tool calls, by the state machine.'),
    breaker: BreakerConfigSchema.prefault({}).describe('The circuit breaker in front of every external dependency (model, tool).'),
    breakers: z
      .record(z.string(), BreakerConfigSchema.partial())
      .default({})
      .describe('Per-dependency breaker overrides, keyed by dependency name (e.g. "model:primary", "tool:retrieve").'),
    tools: z.array(ToolConfigSchema).default([]).describe('Tools beyond the built-ins (calculator, search_docs), one entry each; `kind` picks the fields.'),
    toolApprovals: z
      .record(z.string(), z.literal('required'))
      .default({})
      .describe(
        'Approval per tool name, for any tool (built-ins have no entry of their own in `tools`): `{"calculator": "required"}`. A configured tool may say it in its own entry instead (`"approval": "required"`).',
      ),
    approvalTimeoutSeconds: positiveInt(30 * 24 * 3600)
      .default(86_400)
      .describe('How long a tool call waits for its approval before the run ends UNFINISHED / APPROVAL_EXPIRED (default 24 h).'),
    toolConcurrency: positiveInt(40).default(4).describe("How many tool calls of one step run at once (the Map state's MaxConcurrency)."),
    engine: z
      .enum(['standard', 'hybrid'], { error: 'must be "standard" (one Standard state machine) or "hybrid" (Express segments under a Standard parent)' })
      .default('standard')
      .describe("The engine's shape (docs/hybrid.md): one Standard machine, or a Standard parent running the loop in Express segments."),
    hybrid: z
      .strictObject({
        segmentSteps: positiveInt(50).default(10).describe("A segment's budget of model steps (docs/hybrid.md)."),
        segmentSeconds: z
          .number()
          .int()
          .min(10, 'must be at least 10 seconds')
          .max(290, "must be under Express's 300-second limit")
          .default(230)
          .describe('Seconds after which a segment hands back at its next tool-call boundary (docs/hybrid.md).'),
      })
      .default({ segmentSteps: 10, segmentSeconds: 230 })
      .describe('The hybrid engine\'s segments (with `engine: "hybrid"`).'),
    api: z
      .strictObject({
        userPoolId: z
          .string()
          .regex(/^[\w-]+_[0-9a-zA-Z]+$/, 'must be a Cognito user pool id like us-east-1_AbCdEf123')
          .optional()
          .describe('Verify callers against this existing Cognito user pool instead of creating one.'),
        corsOrigin: z.url().optional().describe("The one browser origin CORS allows (the trace viewer's); none when absent."),
        throttle: z
          .strictObject({
            rateLimit: z.number().positive().max(10_000).describe('Requests per second, steady.'),
            burstLimit: z.number().int().positive().max(5000).describe('Requests at once.'),
          })
          .optional()
          .describe("The stage's throttling (default 20 requests per second, bursts of 40)."),
        userPoolClientId: z
          .string()
          .regex(/^[a-z0-9]{1,128}$/, 'must be a Cognito app client id (lower-case letters and digits)')
          .optional()
          .describe("With userPoolId: that pool's public app client the CLI and the viewer sign in with (docs/deploy.md)."),
        authDomain: z.url().optional().describe("With userPoolId: that pool's managed login domain, e.g. https://my-agent.auth.us-east-1.amazoncognito.com."),
        domainPrefix: z
          .string()
          .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be 1-63 lower-case letters, digits or hyphens')
          .refine((p) => !/aws|amazon|cognito/.test(p), 'may not contain "aws", "amazon" or "cognito"')
          .optional()
          .describe('New pool: the managed login domain prefix (default: "agent-" and the stack\'s id, stable for the stack\'s life).'),
        auth: z
          .enum(['cognito', 'apiKeys', 'both'])
          .default('cognito')
          .describe(
            'Who may call the API (docs/auth.md): Cognito users ("cognito"), API keys verified by a Lambda authorizer ("apiKeys": no user pool at all), or either ("both": the Lambda authorizer also takes Cognito ID tokens).',
          ),
        authorizerCacheSeconds: z
          .number()
          .int()
          .min(0)
          .max(3600)
          .default(60)
          .describe("How long API Gateway caches the Lambda authorizer's answer for a key: a revoked key works this long at most (0: no cache)."),
        cloudWatchRole: z
          .boolean()
          .default(false)
          .describe(
            "Create API Gateway's CloudWatch role and set it on the region's account settings (AWS::ApiGateway::Account, one per account and region: every stack that sets it overwrites it). Off by default: the stage's logs need the setting once per account and region (docs/operations.md).",
          ),
      })
      .superRefine((api, ctx) => {
        if (api.auth === 'apiKeys') {
          for (const key of ['userPoolId', 'userPoolClientId', 'authDomain', 'domainPrefix'] as const) {
            if (api[key])
              ctx.addIssue({ code: 'custom', path: [key], message: 'does not apply with api.auth "apiKeys" (no user pool); use "cognito" or "both" for Cognito users' });
          }
        }
        for (const key of ['userPoolClientId', 'authDomain'] as const) {
          if (api[key] && !api.userPoolId)
            ctx.addIssue({ code: 'custom', path: [key], message: 'only applies with api.userPoolId (an existing pool); a new pool gets its own client and domain' });
        }
        if (api.domainPrefix && api.userPoolId)
          ctx.addIssue({ code: 'custom', path: ['domainPrefix'], message: 'only applies to a new pool; with api.userPoolId give api.authDomain' });
      })
      .prefault({})
      .describe('The API in AWS (docs/api.md): its user pool, CORS and throttling.'),
    observability: z
      .strictObject({
        langfuse: z
          .strictObject({
            baseUrl: z.url().describe('The Langfuse API root.'),
            publicKeyEnv: z.string().default('LANGFUSE_PUBLIC_KEY').describe('Environment variable holding the public key (local runs).'),
            secretKeyEnv: z.string().default('LANGFUSE_SECRET_KEY').describe('Environment variable holding the secret key (local runs).'),
            secret: z.string().min(1).optional().describe('Secrets Manager secret (name or ARN) with {"publicKey", "secretKey"} (AWS).'),
          })
          .optional()
          .describe("Export every finished run's trace to Langfuse (off the hot path)."),
        monitoring: MonitoringConfigSchema.prefault({}).describe('What the idle stack pays for (docs/operations.md, idle cost): CloudWatch alarms, the dashboard, log retention.'),
      })
      .prefault({})
      .describe('Traces out, alarms and logs (docs/observability.md).'),
    deploy: z
      .strictObject({
        canary: z
          .strictObject({
            percent: z.number().int().min(1).max(99).describe('Share of new runs the new version takes first.'),
            minutes: z.number().int().min(1).max(2100).describe('How long the canary lasts before all runs go to the new version.'),
          })
          .optional()
          .describe(
            'CloudFormation first routes `percent` of new runs to the new version for `minutes`, then all of them (and rolls the alias back when an alarm fires meanwhile).',
          ),
        removal: z
          .enum(['retain', 'destroy'])
          .default('retain')
          .describe(
            'What `cdk destroy` keeps (docs/operations.md): "retain" keeps the tables, the user pool and the log groups (and the published versions); "destroy" (a developer stack) keeps nothing.',
          ),
      })
      .prefault({})
      .describe('Deploys (lib/versions.ts): every deploy publishes a state machine version behind the alias `live`.'),
    localTokens: z
      .record(z.string().min(16), z.string().min(1))
      .optional()
      .describe('Local server: bearer tokens mapped to user ids (never used in AWS, where Cognito verifies identity).'),
    pricing: z.record(z.string().min(1), PriceSchema).default({}).describe('Prices by configured model name (USD per million tokens); well-known models have built-in prices.'),
    spend: SpendConfigSchema.default({}).describe('Daily dollar caps (docs/spend.md).'),
    adminTokens: AdminTokensSchema.optional().describe('Local server: bearer tokens of admins → admin id (in AWS the Cognito group agent-admins decides).'),
    localJwt: z
      .strictObject({
        issuer: z.url().describe("The token issuer (the pool's URL, or the emulator's)."),
        clientId: z.string().min(1).describe('The app client the tokens are for.'),
        jwksUri: z.url().optional().describe("Where the signing keys are (default: the issuer's /.well-known/jwks.json)."),
      })
      .optional()
      .describe(
        "Local server: also accept Cognito ID tokens from this issuer (a loopback Cognito emulator such as cognito-local, or a real pool), verified as API Gateway's authorizer would (local/jwt-auth.ts). Static tokens still work.",
      ),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.budgets.maxSteps > STEP_CEILING && !cfg.budgets.allowHighStepBudget) {
      ctx.addIssue({
        code: 'custom',
        path: ['budgets', 'maxSteps'],
        message: `must be at most ${STEP_CEILING} (got ${cfg.budgets.maxSteps}); set budgets.allowHighStepBudget to true to go higher`,
      });
    }
    const limits = dollarLimits(cfg);
    if (limits.length) {
      for (const [tier, model] of [
        ['primary', cfg.models.primary],
        ['fallback', cfg.models.fallback],
      ] as const) {
        if (model && !priceOf(model, cfg.pricing)) {
          ctx.addIssue({
            code: 'custom',
            path: ['pricing', model.model],
            message: `model "${model.model}" (${model.provider}, models.${tier}) has no price, and ${limits.join(', ')} is a dollar limit: add "pricing": {"${model.model}": {"inputPerMTokUsd": …, "outputPerMTokUsd": …}}`,
          });
        }
      }
    }
    if (cfg.spend.fallbackAt !== undefined && (!cfg.models.fallback || (cfg.spend.dailyUsdPerUser ?? cfg.spend.dailyUsdTotal) === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['spend', 'fallbackAt'], message: 'needs models.fallback and a daily cap (spend.dailyUsdPerUser or spend.dailyUsdTotal)' });
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
      if (t.kind === 'mcp' && t.approval === 'required' && !t.allow) {
        ctx.addIssue({
          code: 'custom',
          path: ['tools', i, 'approval'],
          message: 'an MCP server\'s approval needs "allow": the names of its tools whose calls wait for a decision',
        });
      }
    });
    for (const name of Object.keys(cfg.toolApprovals)) {
      if (!names.has(name)) {
        ctx.addIssue({ code: 'custom', path: ['toolApprovals', name], message: `names no tool (tools: ${[...names].join(', ')})` });
      }
    }
  });

export type AgentConfig = z.output<typeof AgentConfigSchema>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;
export type ModelConfig = z.output<typeof ModelConfigSchema>;
export type ToolConfig = z.output<typeof ToolConfigSchema>;
export type BreakerConfig = z.output<typeof BreakerConfigSchema>;
export type SpendConfig = z.output<typeof SpendConfigSchema>;
export type OutputSpec = z.output<typeof OutputSpecSchema>;

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
      return `- ${key}: unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')} (allowed keys: docs/config.md)`;
    }
    return `- ${key}: ${issue.message}`;
  });
  throw new ConfigError(`Invalid ${source}:\n${lines.join('\n')}`);
}

/**
 * The config the handlers receive: all of it but `deploy` and the engine's shape (`engine`, `hybrid`), which only
 * shape the deploy (so turning a canary on or off, or switching engines, does not change the handlers, hence does
 * not publish new Lambda versions).
 */
export function handlerConfig(config: AgentConfig): Omit<AgentConfig, 'deploy' | 'engine' | 'hybrid'> {
  const { deploy: _deploy, engine: _engine, hybrid: _hybrid, ...rest } = config;
  return rest;
}
