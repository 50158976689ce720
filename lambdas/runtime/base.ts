import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { approvalPolicy } from '../core/approvals';
import type { AgentConfig } from '../core/config';
import { approvalRequiredTools, deployedConfigFromEnv } from '../core/config-env';
import { instructionsOf } from '../core/instructions';
import type { LoopDeps } from '../core/loop';
import { METRICS_NAMESPACE, metricsOf, STACK_DIMENSION, STACK_NAME_ENV } from '../core/metrics';
import type { TraceEvent } from '../core/types';
import type { BedrockDeps } from '../providers/bedrock';
import type { SecretReader } from '../providers/secrets';
import { createDocumentClient } from '../store/client';
import { DynamoModelCallClaims } from '../store/model-claims';
import { RunItems } from '../store/run-erase';
import { RunStore } from '../store/run-store';
import { ThreadStore } from '../store/thread-store';

/**
 * The part of the runtime every handler needs: config, store, logger, metrics. The breaker (./breaker.ts), the
 * spend counters and prices (./spend.ts), the tools (./tools.ts) and the models (./models.ts) are wired on top by
 * the handlers that use them, so a handler bundles only what it uses (no tokenizer outside call-model, no tool
 * clients outside call-tool/call-model, no breaker where no external call is made, no spend store outside
 * call-model and the API).
 */
export interface BaseRuntime
  extends Pick<LoopDeps, 'runs' | 'modelClaims' | 'reserveRatio' | 'maxToolCallsPerStep' | 'maxRetryDelaySeconds' | 'log' | 'approvals' | 'instructions' | 'output'> {
  config: AgentConfig;
  runs: RunStore;
  /** Thread items (docs/threads.md): the API's thread routes, and the execution-status handler's queue. */
  threads: ThreadStore;
  /** A run's items for the live event stream and for erasure (docs/threads.md). */
  runItems: RunItems;
  logger: Logger;
  metrics?: Metrics;
  /**
   * AWS clients the API handler uses: absent in AWS (the SDK's defaults, endpoints from AWS_ENDPOINT_URL_<SERVICE>,
   * the machine from STATE_MACHINE_ARN); the local engine binds them to its endpoints.
   */
  aws?: { sfn?: SFNClient; stateMachineArn?: string };
  /** Called by handlers with their Lambda context (Powertools idempotency needs the remaining time). */
  registerLambdaContext: (context: Context) => void;
  /** Reads Secrets Manager (the Langfuse keys): given by the handlers that read secrets, and by the local engine. */
  secrets?: SecretReader;
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
  /** Reads Secrets Manager: model API keys (`apiKeySecret`), the Langfuse keys (in AWS, and offline through the local endpoint). */
  secrets?: SecretReader;
  /** Called after each trace event is written (the CLI prints progress from these). */
  onEvent?: (runId: string, event: TraceEvent) => void;
  /** Powertools metrics (in AWS): every trace event becomes its metrics (lambdas/core/metrics.ts). */
  metrics?: Metrics;
  /**
   * The Lambda clients of `lambda` tools, by region: absent in AWS (the SDK's defaults); the local engine binds them
   * to its Lambda endpoint (local/lambda-api.ts), where the tool's `localHandler` stands in for the function.
   */
  lambdaClientFor?: (region: string) => LambdaClient;
  /**
   * The Bedrock client config of `bedrock` models: absent in AWS (the SDK's defaults, the function's role); the local
   * engine binds it to its Bedrock Runtime endpoint (local/bedrock.ts) with the calling function's credentials.
   */
  bedrock?: BedrockDeps;
}

/** Wires the store, the logger and the metrics from config. */
export function createBaseRuntime(options: RuntimeOptions): BaseRuntime {
  const { config } = options;
  const logger = options.logger ?? new Logger({ serviceName: 'agent' });
  const runs = new RunStore(options.doc, options.tableName, {
    onEvent: (runId, event) => {
      options.onEvent?.(runId, event);
      if (options.metrics) publish(options.metrics, event);
    },
  });
  return {
    config,
    runs,
    threads: new ThreadStore(options.doc, options.tableName),
    runItems: new RunItems(options.doc, options.tableName),
    modelClaims: new DynamoModelCallClaims(options.doc, options.tableName),
    logger,
    metrics: options.metrics,
    registerLambdaContext: () => {},
    ...(options.secrets ? { secrets: options.secrets } : {}),
    reserveRatio: config.budgets.surrenderReserveRatio,
    maxToolCallsPerStep: config.budgets.maxToolCallsPerStep,
    maxRetryDelaySeconds: config.retry.maxDelaySeconds,
    approvals: approvalPolicy(approvalRequiredTools(config), config.approvalTimeoutSeconds),
    // The system prompt of every call and the structured output, as deployed with this handler's version.
    instructions: instructionsOf(config),
    ...(config.output ? { output: config.output } : {}),
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

/** The handlers' Powertools metrics: every point carries the stack's name, the dimension its alarms filter on. */
export function metricsFor(stackName: string): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'agent', defaultDimensions: { [STACK_DIMENSION]: stackName } });
}

/**
 * The options of a deployed handler, from the environment the stack set: the config synth validated (parsed, not
 * validated again), the table, the client, the metrics.
 */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env, secrets?: SecretReader): RuntimeOptions {
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new Error('Environment variable TABLE_NAME is missing: the stack sets it on every handler');
  const stackName = env[STACK_NAME_ENV];
  if (!stackName) throw new Error(`Environment variable ${STACK_NAME_ENV} is missing: the stack sets it on every handler`);
  return {
    config: deployedConfigFromEnv(env),
    doc: createDocumentClient(),
    tableName,
    idempotencyTableName: env.IDEMPOTENCY_TABLE_NAME,
    docsDir: env.DOCS_DIR,
    env,
    secrets,
    metrics: metricsFor(stackName),
  };
}

/** The runtime of a deployed handler that needs only the base (load-run, finalize, pause, api, ...). */
export function baseRuntimeFromEnv(env: NodeJS.ProcessEnv = process.env): BaseRuntime {
  return createBaseRuntime(optionsFromEnv(env));
}
