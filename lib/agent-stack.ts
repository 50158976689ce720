import { gzipSync } from 'node:zlib';
import { CfnOutput, CfnResource, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { SIGN_IN_ENV } from '../lambdas/api/public-config';
import { METRICS_NAMESPACE, STACK_DIMENSION } from '../lambdas/core/metrics';
import { AgentApi } from './api';
import { bedrockModelArns } from './bedrock';
import { nodeModulesOf } from './bundling';
import { type AgentConfig, approvalRequiredTools, ConfigError, configEnvValue, handlerConfig } from './config';
import { TraceExporter } from './exporter';
import { AgentFunction, type HandlerName } from './functions';
import { assertHistoryFits } from './history';
import { HybridWorkflow } from './hybrid-workflow';
import { AgentMonitoring } from './monitoring';
import { ExecutionStatusRule } from './status-rule';
import { AgentStore } from './store';
import { assertTimeoutChain, deriveExecutionTimeout, deriveTimeoutChain } from './timeouts';
import { AgentVersions, LIVE_ALIAS } from './versions';
import { AgentWorkflow, PAUSE_TIMEOUT_SECONDS } from './workflow';

export interface AgentStackProps extends StackProps {
  /** The validated config (lib/config.ts). */
  readonly config: AgentConfig;
}

/** Environment variables share a 4 KB limit in Lambda. */
const MAX_CONFIG_BYTES = 3000;
/** How long one event stream (GET /runs/{id}/events) stays open: API Gateway's limit for a streamed response. */
const EVENT_STREAM_SECONDS = 900;
/** Built-in tools (calculator, keyword search) finish well within this. */
const BUILTIN_TOOL_TIMEOUT_MS = 10_000;

/** The agent: store, handlers, the state machine, and the API. */
export class AgentStack extends Stack {
  readonly workflow: AgentWorkflow | HybridWorkflow;
  readonly store: AgentStore;
  readonly versions: AgentVersions;
  readonly functions: lambda.IFunction[];
  /** Why alarms that notify nobody are fine here (config observability.monitoring.alarmsNotifyNobody), if so. */
  readonly alarmsNotifyNobody?: string;
  /** What the model function may invoke on Bedrock: the configured bedrock models' ARNs (lib/bedrock.ts). */
  readonly bedrockModelArns: string[];

  constructor(scope: Construct, id: string, props: AgentStackProps) {
    super(scope, id, props);
    const { config } = props;
    // localTokens and adminTokens are the local server's bearer tokens: secrets that never belong in a deployed environment.
    const { localTokens: _localOnly, adminTokens: _localAdmins, ...deployed } = handlerConfig(config);
    if (typeof config.instructions === 'object') {
      throw new Error(
        `instructions: the file "${config.instructions.file}" was not read; load the config with loadConfig (lib/config.ts), which reads it relative to the config file`,
      );
    }
    const plainJson = JSON.stringify(deployed);
    // Plain JSON while it fits; compressed past that (long instructions, an output schema): lambdas/core/config-env.ts.
    const configJson = configEnvValue(plainJson, MAX_CONFIG_BYTES);
    if (configJson === undefined) {
      const packed = Buffer.byteLength(gzipSync(plainJson, { level: 9 }).toString('base64'));
      throw new ConfigError(
        `the agent config does not fit the handlers' environment: ${Buffer.byteLength(plainJson)} bytes serialized (instructions ${Buffer.byteLength(JSON.stringify(config.instructions ?? ''))}, output schema ${Buffer.byteLength(JSON.stringify(config.output ?? ''))}), about ${packed} compressed, where ${MAX_CONFIG_BYTES} bytes are available (Lambda allows 4 KB of environment variables per function): shorten the instructions or the output schema (docs/agent.md, "Instructions")`,
      );
    }
    assertHistoryFits(config);
    // A model call may first list the MCP servers' tools (in parallel, each within its timeout): the model Lambda outlives both.
    const mcpListingMs = Math.max(0, ...config.tools.map((t) => (t.kind === 'mcp' ? t.timeoutMs : 0)));
    const modelTimeoutMs = Math.max(config.models.primary.timeoutMs, config.models.fallback?.timeoutMs ?? 0) + mcpListingMs;
    // An MCP call in a cold container lists the server's tools first: two requests, each within timeoutMs.
    const toolTimeoutMs = Math.max(BUILTIN_TOOL_TIMEOUT_MS, ...config.tools.map((t) => (t.kind === 'mcp' ? 2 * t.timeoutMs : t.timeoutMs)));
    const modelChain = assertTimeoutChain('model calls', deriveTimeoutChain(modelTimeoutMs));
    const toolChain = assertTimeoutChain('tool calls', deriveTimeoutChain(toolTimeoutMs));
    const bookkeeping = assertTimeoutChain('bookkeeping', deriveTimeoutChain(5000));

    const store = new AgentStore(this, 'Store');
    this.store = store;
    const table = store.table;
    const fn = (id: string, handler: HandlerName, timeoutSeconds: number, extra: { withDocs?: boolean } = {}) =>
      new AgentFunction(this, id, { handler, table, configJson, timeoutSeconds, nodeModules: nodeModulesOf(handler, config.tools), ...extra }).fn;
    const loadRun = fn('LoadRunFunction', 'load-run', bookkeeping.lambdaTimeoutSeconds);
    const callModel = fn('CallModelFunction', 'call-model', modelChain.lambdaTimeoutSeconds);
    const callTool = fn('CallToolFunction', 'call-tool', toolChain.lambdaTimeoutSeconds, { withDocs: true });
    callTool.addEnvironment('IDEMPOTENCY_TABLE_NAME', store.idempotencyTable.tableName);
    store.idempotencyTable.grantReadWriteData(callTool);
    // `lambda` tools: the tool handler may invoke exactly the configured functions, nothing else.
    const lambdaToolArns = [...new Set(config.tools.flatMap((t) => (t.kind === 'lambda' ? [t.functionArn] : [])))];
    if (lambdaToolArns.length > 0) callTool.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: lambdaToolArns }));
    const finalize = fn('FinalizeFunction', 'finalize', bookkeeping.lambdaTimeoutSeconds);
    const pause = fn('PauseFunction', 'pause', bookkeeping.lambdaTimeoutSeconds);
    // Approval-required tools: the AwaitApproval state and its Lambda exist only when some tool needs approval.
    const approvalTools = approvalRequiredTools(config);
    const awaitApproval = approvalTools.length ? fn('AwaitApprovalFunction', 'await-approval', bookkeeping.lambdaTimeoutSeconds) : undefined;

    // Model API keys live in Secrets Manager; the model handler reads each once per container.
    const secretIds = [config.models.primary, config.models.fallback].flatMap((m) => (m?.apiKeySecret ? [m.apiKeySecret] : []));
    [...new Set(secretIds)].forEach((id, i) => {
      const secret = id.startsWith('arn:')
        ? secretsmanager.Secret.fromSecretCompleteArn(this, `ModelKey${i}`, id)
        : secretsmanager.Secret.fromSecretNameV2(this, `ModelKey${i}`, id);
      secret.grantRead(callModel);
    });

    // MCP servers' secret headers: read by the functions that call the servers (call-model lists, call-tool calls).
    [...new Set(config.tools.flatMap((t) => (t.kind === 'mcp' && t.headersSecret ? [t.headersSecret] : [])))].forEach((id, i) => {
      const secret = id.startsWith('arn:')
        ? secretsmanager.Secret.fromSecretCompleteArn(this, `McpHeaders${i}`, id)
        : secretsmanager.Secret.fromSecretNameV2(this, `McpHeaders${i}`, id);
      secret.grantRead(callModel);
      secret.grantRead(callTool);
    });

    // Bedrock models: the model handler may invoke exactly the configured models (primary, fallback), nothing else.
    this.bedrockModelArns = [...new Set([config.models.primary, config.models.fallback].flatMap((m) => (m?.provider === 'bedrock' ? bedrockModelArns(m) : [])))];
    if (this.bedrockModelArns.length > 0) callModel.addToRolePolicy(new iam.PolicyStatement({ actions: ['bedrock:InvokeModel'], resources: this.bedrockModelArns }));

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
      approvalTimeoutSeconds: awaitApproval ? config.approvalTimeoutSeconds : undefined,
    });
    const workflowProps = {
      executionTimeoutSeconds,
      // Each state machine version invokes the Lambda versions published with it, never $LATEST.
      loadRun: loadRun.currentVersion,
      callModel: callModel.currentVersion,
      callTool: callTool.currentVersion,
      finalize: finalize.currentVersion,
      pause: pause.currentVersion,
      approval: awaitApproval ? { handler: awaitApproval.currentVersion, timeoutSeconds: config.approvalTimeoutSeconds } : undefined,
      timeouts: { model: modelChain.taskTimeoutSeconds, tool: toolChain.taskTimeoutSeconds, bookkeeping: bookkeeping.taskTimeoutSeconds },
      retry: config.retry,
      hasFallbackModel: config.models.fallback !== undefined,
      toolConcurrency: config.toolConcurrency,
    };
    // `engine`: one Standard machine, or a Standard parent with Express segments (docs/hybrid.md).
    this.workflow =
      config.engine === 'hybrid'
        ? new HybridWorkflow(this, 'Workflow', { ...workflowProps, segmentSteps: config.hybrid.segmentSteps, segmentSeconds: config.hybrid.segmentSeconds })
        : new AgentWorkflow(this, 'Workflow', workflowProps);

    // The machine has one role for all its versions, and a deploy replaces its policy: it may invoke every published
    // version of its functions, so a run in flight on an older version still reaches that version's code after a
    // deploy (found by IAM offline: the grant of the current versions alone denied them).
    const taskFunctions = [loadRun, callModel, callTool, finalize, pause, ...(awaitApproval ? [awaitApproval] : [])];
    const invokeVersions = new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: taskFunctions.map((f) => `${f.functionArn}:*`) });
    this.workflow.stateMachine.addToRolePolicy(invokeVersions);
    if (this.workflow instanceof HybridWorkflow) this.workflow.segmentMachine.addToRolePolicy(invokeVersions);

    // Every deploy publishes a version behind the alias `live`, which the API starts runs on.
    this.versions = new AgentVersions(this, 'Versions', { stateMachine: this.workflow.stateMachine, canary: config.deploy.canary });

    // An execution that fails, times out or is stopped outside the API closes its run (FAILED / CANCELLED).
    const executionStatus = fn('ExecutionStatusFunction', 'execution-status', bookkeeping.lambdaTimeoutSeconds);
    new ExecutionStatusRule(this, 'ExecutionStatus', { stateMachine: this.workflow.stateMachine, handler: executionStatus });
    // ...and starts the run queued behind it on its thread (docs/threads.md), on the alias like every start.
    executionStatus.addEnvironment('STATE_MACHINE_ARN', this.versions.aliasArn);
    this.grantStartOnLive(executionStatus);

    const apiFn = fn('ApiFunction', 'api', bookkeeping.lambdaTimeoutSeconds);
    // API keys (docs/auth.md): a Lambda REQUEST authorizer in front of every route.
    const keyAuthorizer = config.api.auth === 'cognito' ? undefined : fn('AuthorizerFunction', 'authorizer', bookkeeping.lambdaTimeoutSeconds);
    // Runs start on the alias (new runs and resumes from a checkpoint alike), never on the unqualified machine.
    apiFn.addEnvironment('STATE_MACHINE_ARN', this.versions.aliasArn);
    this.grantStartOnLive(apiFn);
    this.workflow.stateMachine.grantTaskResponse(apiFn);
    this.workflow.stateMachine.grantExecution(apiFn, 'states:StopExecution', 'states:DescribeExecution');
    // GET /runs/{id}/events: a streaming function (API Gateway's streams last up to 15 minutes; the client resumes).
    const eventsFn = fn('RunEventsFunction', 'run-events', EVENT_STREAM_SECONDS);
    const api = new AgentApi(this, 'Api', {
      handler: apiFn,
      eventsHandler: eventsFn,
      auth: config.api.auth,
      authorizer: keyAuthorizer,
      authorizerCacheSeconds: config.api.authorizerCacheSeconds,
      userPool: config.api.userPoolId ? cognito.UserPool.fromUserPoolId(this, 'ExistingUsers', config.api.userPoolId) : undefined,
      corsOrigin: config.api.corsOrigin,
      throttle: config.api.throttle,
      existingClient: { clientId: config.api.userPoolClientId, authDomain: config.api.authDomain },
      domainPrefix: config.api.domainPrefix,
      cloudWatchRole: config.api.cloudWatchRole,
    });
    if (config.api.corsOrigin) apiFn.addEnvironment('CORS_ORIGIN', config.api.corsOrigin);
    // GET /config reports these (public values): the viewer and `agent login` find the pool and client there.
    if (api.signIn) {
      apiFn.addEnvironment(SIGN_IN_ENV.userPoolId, api.signIn.userPoolId);
      if (api.signIn.clientId) apiFn.addEnvironment(SIGN_IN_ENV.clientId, api.signIn.clientId);
      if (api.signIn.authDomain) apiFn.addEnvironment(SIGN_IN_ENV.authDomain, api.signIn.authDomain);
      // "both": the authorizer verifies the pool's ID tokens for its app client.
      if (keyAuthorizer) {
        keyAuthorizer.addEnvironment(SIGN_IN_ENV.userPoolId, api.signIn.userPoolId);
        if (api.signIn.clientId) keyAuthorizer.addEnvironment(SIGN_IN_ENV.clientId, api.signIn.clientId);
      }
    }

    if (config.observability.langfuse) {
      const exporter = fn('ExportTraceFunction', 'export-trace', 60);
      new TraceExporter(this, 'TraceExporter', { table, exporter, secret: config.observability.langfuse.secret });
    }

    this.functions = [
      loadRun,
      callModel,
      callTool,
      finalize,
      pause,
      ...(awaitApproval ? [awaitApproval] : []),
      executionStatus,
      apiFn,
      eventsFn,
      ...(keyAuthorizer ? [keyAuthorizer] : []),
    ];
    const { monitoring } = config.observability;
    this.alarmsNotifyNobody = monitoring.alarmsNotifyNobody;
    if (monitoring.alarms || monitoring.dashboard) {
      // Who the alarms reach: an existing topic, and/or a new one with an email subscription (docs/operations.md).
      const alarmTopic = monitoring.alarmTopicArn
        ? sns.Topic.fromTopicArn(this, 'AlarmTopic', monitoring.alarmTopicArn)
        : monitoring.alarmEmail
          ? new sns.Topic(this, 'AlarmTopic', { displayName: `${this.stackName} alarms`, enforceSSL: true })
          : undefined;
      if (alarmTopic && monitoring.alarmEmail) alarmTopic.addSubscription(new subscriptions.EmailSubscription(monitoring.alarmEmail));
      const watch = new AgentMonitoring(this, 'Monitoring', {
        stateMachine: this.workflow.stateMachine,
        api: api.api,
        functions: this.functions,
        namespace: METRICS_NAMESPACE,
        // The dimensions the handlers' metrics carry (lambdas/runtime/base.ts): this stack's own.
        dimensions: { service: 'agent', [STACK_DIMENSION]: this.stackName },
        alarmTopic,
        alarms: monitoring.alarms,
        dashboard: monitoring.dashboard,
        dailySpendAlarmUsd: config.spend.alarmDailyUsd ?? (config.spend.dailyUsdTotal !== undefined ? config.spend.dailyUsdTotal * 0.8 : undefined),
      });
      // A canary rolls back when an execution fails or times out meanwhile.
      this.versions.rollBackOn(watch.alarms.filter((x) => /^Executions(Failed|TimedOut)$/.test(x.node.id)));
    }
    // One retention for every log group of the stack (functions, state machine, API access logs).
    for (const c of this.node.findAll()) if (c instanceof logs.CfnLogGroup) c.retentionInDays = monitoring.logRetentionDays;
    // What `cdk destroy` keeps (deploy.removal, docs/operations.md): "retain" keeps the tables, the user pool and the
    // log groups (and the published versions, for runs in flight); "destroy" keeps nothing, a developer stack's whole.
    for (const c of this.node.findAll()) {
      if (!(c instanceof CfnResource)) continue;
      if (config.deploy.removal === 'destroy') c.applyRemovalPolicy(RemovalPolicy.DESTROY);
      else if (c instanceof logs.CfnLogGroup) c.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }

    // Every value a client needs (docs/deploy.md; `npm run smoke -- --stack <name>` reads them).
    new CfnOutput(this, 'ApiUrl', { value: api.viewerUrl, description: 'The HTTP API (agent --api <url>)' });
    new CfnOutput(this, 'ViewerUrl', { value: api.viewerUrl, description: api.signIn ? 'The trace viewer: sign in through managed login' : 'The trace viewer: paste an API key' });
    new CfnOutput(this, 'Region', { value: this.region });
    new CfnOutput(this, 'Auth', { value: config.api.auth, description: 'Who may call the API: cognito | apiKeys | both (docs/auth.md)' });
    if (api.userPool) new CfnOutput(this, 'UserPoolId', { value: api.userPool.userPoolId });
    if (api.signIn?.clientId) new CfnOutput(this, 'UserPoolClientId', { value: api.signIn.clientId, description: 'Public app client (no secret)' });
    if (api.signIn?.authDomain) new CfnOutput(this, 'AuthDomain', { value: api.signIn.authDomain, description: 'Managed login base URL' });
    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'StateMachineAliasArn', { value: this.versions.aliasArn, description: 'npm run rollback -- --alias <this>' });
    new CfnOutput(this, 'StateMachineVersionArn', { value: this.versions.versionArn });
    new CfnOutput(this, 'TableName', { value: table.tableName });
  }

  /**
   * states:StartExecution on the alias `live` only. Step Functions authorizes a StartExecution on an alias against the
   * unqualified machine ARN, with the alias name in the multivalued key states:StateMachineQualifier
   * (docs/local-vs-aws.md, "IAM offline"): a grant on the alias ARN allows nothing.
   */
  private grantStartOnLive(fn: lambda.IFunction): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [this.workflow.stateMachine.stateMachineArn],
        conditions: { 'ForAnyValue:StringEquals': { 'states:StateMachineQualifier': [LIVE_ALIAS] } },
      }),
    );
  }
}
