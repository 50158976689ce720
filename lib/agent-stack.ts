import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../lambdas/core/metrics';
import { AgentApi } from './api';
import type { AgentConfig } from './config';
import { TraceExporter } from './exporter';
import { AgentFunction, type HandlerName } from './functions';
import { assertHistoryFits } from './history';
import { AgentMonitoring } from './monitoring';
import { AgentStore } from './store';
import { assertTimeoutChain, deriveTimeoutChain } from './timeouts';
import { AgentWorkflow } from './workflow';

export interface AgentStackProps extends StackProps {
  /** The validated config (lib/config.ts). */
  readonly config: AgentConfig;
}

/** Environment variables share a 4 KB limit in Lambda. */
const MAX_CONFIG_BYTES = 3000;
/** Built-in tools (calculator, keyword search) finish well within this. */
const BUILTIN_TOOL_TIMEOUT_MS = 10_000;

/** The agent: store, handlers, the state machine, and the API. */
export class AgentStack extends Stack {
  readonly workflow: AgentWorkflow;
  readonly store: AgentStore;
  readonly functions: lambda.IFunction[];

  constructor(scope: Construct, id: string, props: AgentStackProps) {
    super(scope, id, props);
    const { config } = props;
    // localTokens are the local server's bearer tokens: secrets that never belong in a deployed environment.
    const { localTokens: _localOnly, ...deployed } = config;
    const configJson = JSON.stringify(deployed);
    if (Buffer.byteLength(configJson) > MAX_CONFIG_BYTES) {
      throw new Error(`agent config is ${Buffer.byteLength(configJson)} bytes serialized; at most ${MAX_CONFIG_BYTES} fit in the handlers' environment`);
    }
    assertHistoryFits(config);
    const modelTimeoutMs = Math.max(config.models.primary.timeoutMs, config.models.fallback?.timeoutMs ?? 0);
    const toolTimeoutMs = Math.max(BUILTIN_TOOL_TIMEOUT_MS, ...config.tools.map((t) => t.timeoutMs));
    const modelChain = assertTimeoutChain('model calls', deriveTimeoutChain(modelTimeoutMs));
    const toolChain = assertTimeoutChain('tool calls', deriveTimeoutChain(toolTimeoutMs));
    const bookkeeping = assertTimeoutChain('bookkeeping', deriveTimeoutChain(5000));

    const store = new AgentStore(this, 'Store');
    this.store = store;
    const table = store.table;
    const fn = (id: string, handler: HandlerName, timeoutSeconds: number, extra: { withDocs?: boolean } = {}) =>
      new AgentFunction(this, id, { handler, table, configJson, timeoutSeconds, ...extra }).fn;
    const loadRun = fn('LoadRunFunction', 'load-run', bookkeeping.lambdaTimeoutSeconds);
    const callModel = fn('CallModelFunction', 'call-model', modelChain.lambdaTimeoutSeconds);
    const callTool = fn('CallToolFunction', 'call-tool', toolChain.lambdaTimeoutSeconds, { withDocs: true });
    callTool.addEnvironment('IDEMPOTENCY_TABLE_NAME', store.idempotencyTable.tableName);
    store.idempotencyTable.grantReadWriteData(callTool);
    const finalize = fn('FinalizeFunction', 'finalize', bookkeeping.lambdaTimeoutSeconds);
    const pause = fn('PauseFunction', 'pause', bookkeeping.lambdaTimeoutSeconds);

    // Model API keys live in Secrets Manager; the model handler reads each once per container.
    const secretIds = [config.models.primary, config.models.fallback].flatMap((m) => (m?.apiKeySecret ? [m.apiKeySecret] : []));
    [...new Set(secretIds)].forEach((id, i) => {
      const secret = id.startsWith('arn:')
        ? secretsmanager.Secret.fromSecretCompleteArn(this, `ModelKey${i}`, id)
        : secretsmanager.Secret.fromSecretNameV2(this, `ModelKey${i}`, id);
      secret.grantRead(callModel);
    });

    this.workflow = new AgentWorkflow(this, 'Workflow', {
      loadRun,
      callModel,
      callTool,
      finalize,
      pause,
      timeouts: { model: modelChain.taskTimeoutSeconds, tool: toolChain.taskTimeoutSeconds, bookkeeping: bookkeeping.taskTimeoutSeconds },
      retry: config.retry,
      hasFallbackModel: config.models.fallback !== undefined,
      toolConcurrency: config.toolConcurrency,
    });

    const apiFn = fn('ApiFunction', 'api', bookkeeping.lambdaTimeoutSeconds);
    apiFn.addEnvironment('STATE_MACHINE_ARN', this.workflow.stateMachine.stateMachineArn);
    this.workflow.stateMachine.grantStartExecution(apiFn);
    this.workflow.stateMachine.grantTaskResponse(apiFn);
    this.workflow.stateMachine.grantExecution(apiFn, 'states:StopExecution', 'states:DescribeExecution');
    const api = new AgentApi(this, 'Api', {
      handler: apiFn,
      userPool: config.api.userPoolId ? cognito.UserPool.fromUserPoolId(this, 'ExistingUsers', config.api.userPoolId) : undefined,
      corsOrigin: config.api.corsOrigin,
      throttle: config.api.throttle,
    });
    if (config.api.corsOrigin) apiFn.addEnvironment('CORS_ORIGIN', config.api.corsOrigin);

    if (config.observability.langfuse) {
      const exporter = fn('ExportTraceFunction', 'export-trace', 60);
      new TraceExporter(this, 'TraceExporter', { table, exporter, secret: config.observability.langfuse.secret });
    }

    this.functions = [loadRun, callModel, callTool, finalize, pause, apiFn];
    new AgentMonitoring(this, 'Monitoring', {
      stateMachine: this.workflow.stateMachine,
      api: api.api,
      functions: this.functions,
      namespace: METRICS_NAMESPACE,
    });

    new CfnOutput(this, 'ApiUrl', { value: api.api.url });
    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'UserPoolId', { value: api.userPool.userPoolId });
  }
}
