import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { type AgentConfig, configFromEnv } from '../../lib/config';
import { CircuitBreaker } from '../core/breaker';
import type { LoopDeps, Tier } from '../core/loop';
import { METRICS_NAMESPACE, metricsOf } from '../core/metrics';
import { priceOf } from '../core/pricing';
import type { ModelProvider, TraceEvent } from '../core/types';
import { createProvider, createSecretReader, type SecretReader } from '../providers';
import { DynamoBreakerStore } from '../store/breaker-store';
import { createDocumentClient } from '../store/client';
import { idempotentToolRunner } from '../store/idempotent-tools';
import { RunStore } from '../store/run-store';
import { SpendStore } from '../store/spend-store';
import { buildToolRegistry, runTool, toolSpecs } from '../tools/registry';

/** Everything a handler needs, built once per container (or once per local engine). */
export interface Runtime extends LoopDeps {
  config: AgentConfig;
  runs: RunStore;
  /** Daily spend counters, the disable flag, the admin read log, support queries. */
  spend: SpendStore;
  logger: Logger;
  breaker: CircuitBreaker;
  metrics?: Metrics;
  /**
   * AWS clients the API handler uses: absent in AWS (the SDK's defaults, endpoints from AWS_ENDPOINT_URL_<SERVICE>,
   * the machine from STATE_MACHINE_ARN); the local engine binds them to its endpoints.
   */
  aws?: { sfn?: SFNClient; stateMachineArn?: string };
  /** Called by handlers with their Lambda context (Powertools idempotency needs the remaining time). */
  registerLambdaContext: (context: Context) => void;
}

/** The run and step an invocation works on, so that breaker transitions land in that run's trace. */
export const invocationContext = new AsyncLocalStorage<{ runId?: string; step?: number }>();

export interface RuntimeOptions {
  config: AgentConfig;
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** The Powertools idempotency table of tool executions; without it tools are not wrapped (unit tests only). */
  idempotencyTableName?: string;
  /** Config of the DynamoDB client Powertools creates (the endpoint offline). */
  dynamoClientConfig?: DynamoDBClientConfig;
  /** The DynamoDB client of the idempotency table, when given (offline: signing as the calling function's role). */
  idempotencyClient?: DynamoDBClient;
  docsDir?: string;
  fetchImpl?: typeof fetch;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Reads model API keys from Secrets Manager (AWS). */
  secrets?: SecretReader;
  /** Called after each trace event is written (the CLI prints progress from these). */
  onEvent?: (runId: string, event: TraceEvent) => void;
  /** Powertools metrics (in AWS): every trace event becomes its metrics (lambdas/core/metrics.ts). */
  metrics?: Metrics;
}

/** Wires the store, the models (each behind its breaker) and the tools from config. */
export function createRuntime(options: RuntimeOptions): Runtime {
  const { config } = options;
  const logger = options.logger ?? new Logger({ serviceName: 'agent' });
  const runs = new RunStore(options.doc, options.tableName, {
    onEvent: (runId, event) => {
      options.onEvent?.(runId, event);
      if (options.metrics) publish(options.metrics, event);
    },
  });
  const breaker = new CircuitBreaker({
    store: new DynamoBreakerStore(options.doc, options.tableName),
    config: config.breaker,
    overrides: config.breakers,
    onTransition: (t) => {
      logger.warn('breaker transition', { ...t });
      const ctx = invocationContext.getStore();
      if (ctx?.runId) {
        runs
          .appendEvent(ctx.runId, { type: 'breaker', step: ctx.step ?? 0, dependency: t.dependency, from: t.from, to: t.to, reason: t.reason, window: t.window })
          .catch((err) => logger.error('could not trace a breaker transition', { err }));
      }
    },
    onStoreError: (err, info) => logger.error('breaker store failed', { err, ...info }),
  });
  const models = new Map<Tier, ModelProvider | undefined>();
  const modelFor = (tier: Tier): ModelProvider | undefined => {
    if (!models.has(tier)) {
      const cfg = tier === 'primary' ? config.models.primary : config.models.fallback;
      models.set(tier, cfg ? guarded(createProvider(cfg, { env: options.env, fetchImpl: options.fetchImpl, secrets: options.secrets }), `model:${tier}`, breaker) : undefined);
    }
    return models.get(tier);
  };
  const tools = buildToolRegistry(config.tools, { docsDir: options.docsDir, fetchImpl: options.fetchImpl, guard: breaker.guard });
  const plainRun = (call: Parameters<typeof runTool>[1], ctx: Parameters<typeof runTool>[2]) => runTool(tools, call, ctx);
  const idempotent = options.idempotencyTableName
    ? idempotentToolRunner(plainRun, { tableName: options.idempotencyTableName, client: options.idempotencyClient ?? new DynamoDBClient({ ...options.dynamoClientConfig }) })
    : undefined;
  return {
    config,
    runs,
    spend: new SpendStore(options.doc, options.tableName),
    caps: config.spend,
    priceOf: (model) => priceOf(model, config.pricing),
    logger,
    breaker,
    metrics: options.metrics,
    model: modelFor,
    toolSpecs: toolSpecs(tools),
    runTool: idempotent?.run ?? plainRun,
    registerLambdaContext: (context) => idempotent?.registerLambdaContext(context),
    maxOutputTokens: (tier) => (tier === 'primary' ? config.models.primary : (config.models.fallback ?? config.models.primary)).maxOutputTokens,
    reserveRatio: config.budgets.surrenderReserveRatio,
    maxToolCallsPerStep: config.budgets.maxToolCallsPerStep,
    maxRetryDelaySeconds: config.retry.maxDelaySeconds,
    log: (message, fields) => logger.info(message, fields),
  };
}

function publish(metrics: Metrics, event: TraceEvent): void {
  for (const point of metricsOf(event)) {
    const unit = point.unit === 'Milliseconds' ? MetricUnit.Milliseconds : MetricUnit.Count;
    // The aggregate (the alarms read it), and the breakdown by its dimension (the dashboard can).
    metrics.addMetric(point.name, unit, point.value);
    if (point.dimension) metrics.singleMetric().addDimension(point.dimension.name, point.dimension.value).addMetric(point.name, unit, point.value);
  }
}

/** A model whose every call goes through its breaker (CircuitOpen when open; no request sent). */
function guarded(model: ModelProvider, dependency: string, breaker: CircuitBreaker): ModelProvider {
  return { provider: model.provider, model: model.model, complete: (request) => breaker.call(dependency, () => model.complete(request)) };
}

let cached: Runtime | undefined;
/** The runtime of a deployed handler: config and table from the environment the stack set. */
export function runtimeFromEnv(env: NodeJS.ProcessEnv = process.env): Runtime {
  if (cached) return cached;
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new Error('Environment variable TABLE_NAME is missing: the stack sets it on every handler');
  cached = createRuntime({
    config: configFromEnv(env),
    doc: createDocumentClient(),
    tableName,
    idempotencyTableName: env.IDEMPOTENCY_TABLE_NAME,
    docsDir: env.DOCS_DIR,
    env,
    secrets: createSecretReader(),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'agent' }),
  });
  return cached;
}
