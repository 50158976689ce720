import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { type AgentConfig, configFromEnv } from '../../lib/config';
import type { LoopDeps, Tier } from '../core/loop';
import type { ModelProvider, TraceEvent } from '../core/types';
import { createDemoProvider } from '../providers/demo';
import { createDocumentClient } from '../store/client';
import { RunStore } from '../store/run-store';
import { buildToolRegistry, runTool, toolSpecs } from '../tools/registry';

/** Everything a handler needs, built once per container (or once per local engine). */
export interface Runtime extends LoopDeps {
  config: AgentConfig;
  runs: RunStore;
  logger: Logger;
}

export interface RuntimeOptions {
  config: AgentConfig;
  doc: DynamoDBDocumentClient;
  tableName: string;
  docsDir?: string;
  fetchImpl?: typeof fetch;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Called after each trace event is written (the CLI prints progress from these). */
  onEvent?: (runId: string, event: TraceEvent) => void;
}

/** Wires the store, the models (each behind its breaker) and the tools from config. */
export function createRuntime(options: RuntimeOptions): Runtime {
  const { config } = options;
  const logger = options.logger ?? new Logger({ serviceName: 'agent' });
  const runs = new RunStore(options.doc, options.tableName, { onEvent: options.onEvent });
  const models = new Map<Tier, ModelProvider | undefined>();
  const modelFor = (tier: Tier): ModelProvider | undefined => {
    if (!models.has(tier)) {
      const cfg = tier === 'primary' ? config.models.primary : config.models.fallback;
      models.set(tier, cfg ? createModel(cfg) : undefined);
    }
    return models.get(tier);
  };
  const tools = buildToolRegistry(config.tools, { docsDir: options.docsDir, fetchImpl: options.fetchImpl });
  return {
    config,
    runs,
    logger,
    model: modelFor,
    toolSpecs: toolSpecs(tools),
    runTool: (call, ctx) => runTool(tools, call, ctx),
    maxOutputTokens: (tier) => (tier === 'primary' ? config.models.primary : (config.models.fallback ?? config.models.primary)).maxOutputTokens,
    reserveRatio: config.budgets.surrenderReserveRatio,
    maxToolCallsPerStep: config.budgets.maxToolCallsPerStep,
    maxRetryDelaySeconds: config.retry.maxDelaySeconds,
    log: (message, fields) => logger.info(message, fields),
  };
}

function createModel(cfg: AgentConfig['models']['primary']): ModelProvider {
  if (cfg.provider === 'demo') return createDemoProvider(cfg.model);
  throw new Error(`provider ${cfg.provider} is not wired yet`);
}

let cached: Runtime | undefined;
/** The runtime of a deployed handler: config and table from the environment the stack set. */
export function runtimeFromEnv(env: NodeJS.ProcessEnv = process.env): Runtime {
  if (cached) return cached;
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new Error('Environment variable TABLE_NAME is missing: the stack sets it on every handler');
  cached = createRuntime({ config: configFromEnv(env), doc: createDocumentClient(), tableName, docsDir: env.DOCS_DIR, env });
  return cached;
}
