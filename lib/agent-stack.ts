import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../lambdas/core/metrics';
import { AgentApi } from './api';
import { type AgentConfig, handlerConfig } from './config';
import { TraceExporter } from './exporter';
import { AgentFunction, type HandlerName } from './functions';
import { assertHistoryFits } from './history';
import { AgentMonitoring } from './monitoring';
import { ExecutionStatusRule } from './status-rule';
import { AgentStore } from './store';
import { assertTimeoutChain, deriveExecutionTimeout, deriveTimeoutChain } from './timeouts';
import { AgentVersions } from './versions';
import { AgentWorkflow, PAUSE_TIMEOUT_SECONDS } from './workflow';

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
  readonly versions: AgentVersions;
  readonly functions: lambda.IFunction[];

  constructor(scope: Construct, id: string, props: AgentStackProps) {
    super(scope, id, props);
    const { config } = props;
    const configJson = JSON.stringify(handlerConfig(config));
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

    const executionTimeoutSeconds = deriveExecutionTimeout({
      maxSteps: config.budgets.maxSteps,
      modelTaskSeconds: modelChain.taskTimeoutSeconds,
      toolTaskSeconds: toolChain.taskTimeoutSeconds,
      bookkeepingTaskSeconds: bookkeeping.taskTimeoutSeconds,
      maxAttempts: config.retry.maxAttempts,
      maxDelaySeconds: config.retry.maxDelaySeconds,
      hasFallbackModel: config.models.fallback !== undefined,
      maxToolCallsPerStep: config.budgets.maxToolCallsPerStep,
      toolConcurrency: config.toolConcurrency,
      longestWaitSeconds: PAUSE_TIMEOUT_SECONDS,
    });
    this.workflow = new AgentWorkflow(this, 'Workflow', {
      executionTimeoutSeconds,
      // Each state machine version invokes the Lambda versions published with it, never $LATEST.
      loadRun: loadRun.currentVersion,
      callModel: callModel.currentVersion,
      callTool: callTool.currentVersion,
      finalize: finalize.currentVersion,
      pause: pause.currentVersion,
      timeouts: { model: modelChain.taskTimeoutSeconds, tool: toolChain.taskTimeoutSeconds, bookkeeping: bookkeeping.taskTimeoutSeconds },
      retry: config.retry,
      hasFallbackModel: config.models.fallback !== undefined,
      toolConcurrency: config.toolConcurrency,
    });

    // Every deploy publishes a version behind the alias `live`, which the API starts runs on.
    this.versions = new AgentVersions(this, 'Versions', { stateMachine: this.workflow.stateMachine, canary: config.deploy.canary });

    // An execution that fails, times out or is stopped outside the API closes its run (FAILED / CANCELLED).
    const executionStatus = fn('ExecutionStatusFunction', 'execution-status', bookkeeping.lambdaTimeoutSeconds);
    new ExecutionStatusRule(this, 'ExecutionStatus', { stateMachine: this.workflow.stateMachine, handler: executionStatus });

    const apiFn = fn('ApiFunction', 'api', bookkeeping.lambdaTimeoutSeconds);
    // Runs start on the alias (new runs and resumes from a checkpoint alike), never on the unqualified machine.
    apiFn.addEnvironment('STATE_MACHINE_ARN', this.versions.aliasArn);
    apiFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.versions.aliasArn] }));
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

    this.functions = [loadRun, callModel, callTool, finalize, pause, executionStatus, apiFn];
    const monitoring = new AgentMonitoring(this, 'Monitoring', {
      stateMachine: this.workflow.stateMachine,
      api: api.api,
      functions: this.functions,
      namespace: METRICS_NAMESPACE,
    });

    // A canary rolls back when an execution fails or times out meanwhile.
    this.versions.rollBackOn(monitoring.alarms.filter((a) => /^Executions(Failed|TimedOut)$/.test(a.node.id)));

    new CfnOutput(this, 'ApiUrl', { value: api.api.url });
    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'StateMachineAliasArn', { value: this.versions.aliasArn, description: 'npm run rollback -- --alias <this>' });
    new CfnOutput(this, 'StateMachineVersionArn', { value: this.versions.versionArn });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'UserPoolId', { value: api.userPool.userPoolId });
  }
}
