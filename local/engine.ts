import './html-loader';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context, DynamoDBRecord } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { createRunControl } from '../lambdas/core/control';
import { EXECUTION_STATUS_DETAIL_TYPE, runIdOf } from '../lambdas/core/execution-status';
import { runView } from '../lambdas/core/loop';
import type { RunControl } from '../lambdas/core/ports';
import { idempotencyKeyFor } from '../lambdas/core/signature';
import { startRun } from '../lambdas/core/start-run';
import { trace } from '../lambdas/core/trace';
import type { RunView, TraceEvent } from '../lambdas/core/types';
import { createHandler as api } from '../lambdas/handlers/api';
import { createHandler as awaitApproval } from '../lambdas/handlers/await-approval';
import { createHandler as callModel } from '../lambdas/handlers/call-model';
import { createHandler as callTool } from '../lambdas/handlers/call-tool';
import { createHandler as executionStatus } from '../lambdas/handlers/execution-status';
import { createHandler as exportTrace } from '../lambdas/handlers/export-trace';
import { createHandler as finalize } from '../lambdas/handlers/finalize';
import { createHandler as loadRun } from '../lambdas/handlers/load-run';
import { createHandler as pause } from '../lambdas/handlers/pause';
import { createSecretReader, type SecretReader } from '../lambdas/providers/secrets';
import { createRuntime, type Runtime } from '../lambdas/runtime';
import { createDocumentClient } from '../lambdas/store/client';
import { releaseInProgressToolCalls } from '../lambdas/store/idempotent-tools';
import { sfnExecutions } from '../lambdas/store/sfn-executions';
import { type AgentConfig, CONFIG_ENV, handlerConfig, parseConfig } from '../lib/config';
import type { HandlerName } from '../lib/handler-names';
import { bedrockDepsOf, bedrockUpstreams, type LocalBedrock, startBedrockRuntime } from './bedrock';
import { ensureTable, type LocalDynamo, startDynalite } from './dynamo';
import { type BusEvent, type LocalRule, matchesPattern, rulesOf } from './events';
import { LocalIam } from './iam/check';
import { asCaller, clientConfigOf, currentCaller, routeByCaller } from './iam/clients';
import { type DynamoFront, startDynamoFront } from './iam/dynamo-front';
import { AccessDenied } from './iam/policy';
import { iamModelOf } from './iam/roles';
import { type LocalLambdaApi, startLambdaApi } from './lambda-api';
import { DEFAULT_HISTORY_LIMIT, dataLimitError, executionInputError, HistoryCounter, historyLimitError, isExecutionEnd, MAX_PAYLOAD_BYTES, namesDataLimit, payloadBytes } from './limits';
import { LocalSecretStore, type LocalSecretsManager, readSecretsFile, secretsFromEnv, startSecretsManager } from './secrets-manager';
import { type LocalSfnApi, startSfnApi } from './sfn-api';
import { attachTableEmulation, type DynamoFaults, type LocalStreamTable, streamMappingsOf, streamTablesOf, type TableEmulation } from './streams';
import {
  aliasOf,
  type CfnTemplate,
  cachedTemplate,
  definitionOf,
  functionsOf,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type LocalFunction,
  lambdaVersionsOf,
  publishesVersion,
  stateMachineOf,
  tablesOf,
  validateDefinitionOnce,
} from './template';
import { type Revision, revisionId, VersionRegistry } from './versions';

/** One event of the engine's execution log (the package does not export the type). */
export type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

type Handler = (event: unknown, context: Context) => Promise<unknown>;
/** A factory per deployed handler (lib/handler-names.ts is the list; the compiler checks none is missing). */
const FACTORIES: Record<HandlerName, (rt: Runtime) => Handler> = {
  'load-run': loadRun as (rt: Runtime) => Handler,
  'call-model': callModel as (rt: Runtime) => Handler,
  'call-tool': callTool as (rt: Runtime) => Handler,
  finalize: finalize as (rt: Runtime) => Handler,
  pause: pause as (rt: Runtime) => Handler,
  'await-approval': awaitApproval as (rt: Runtime) => Handler,
  'execution-status': executionStatus as (rt: Runtime) => Handler,
  api: api as (rt: Runtime) => Handler,
  'export-trace': exportTrace as (rt: Runtime) => Handler,
};

export interface EngineOptions {
  config: AgentConfig;
  /** The synthesized template; synthesized in-process (cached by config and code) when absent. */
  template?: CfnTemplate;
  /** Keep DynamoDB on disk here (npm start); in memory when absent (tests, `agent run`). */
  dataDir?: string;
  /**
   * Retry sleeps: 1 = real (backoff and full jitter as deployed); 0 = no sleep (tests); in between = each
   * retrier's interval scaled, without backoff.
   */
  retryScale?: number;
  fetchImpl?: typeof fetch;
  docsDir?: string;
  /** Every trace event as it is written. */
  onTrace?: (runId: string, event: TraceEvent) => void;
  /** Every engine event (state entered, retried, caught...) of every execution. */
  onStateEvent?: (runId: string, event: EventLog) => void;
  /** Called when delivering an event to a rule's target fails (EventBridge would retry). */
  onDeliveryError?: (rule: string, err: Error) => void;
  /**
   * Called when a stream record's delivery to its function (the Langfuse exporter) failed on every attempt (the run
   * itself is not affected); `runId` is the record's run, when it has one.
   */
  onExportError?: (runId: string, err: Error) => void;
  /** Test knobs for DynamoDB: throttled requests (the SDK retries them) and global secondary index lag. */
  dynamoFaults?: DynamoFaults & { throttle?: (operation: string) => boolean };
  /** Replaces the models and the tool runner (replay serves recorded outputs through these). */
  overrides?: Partial<Pick<Runtime, 'model' | 'runTool' | 'listTools'>>;
  /** Wraps the tool runner of the call-tool step (evals serve recorded tool results through it: local/eval.ts). */
  wrapTools?: (runTool: Runtime['runTool']) => Runtime['runTool'];
  /** Test knob: make an invocation of a function crash (Lambda.Unknown), as an out-of-memory or a process exit would. */
  lambdaFaults?: (fn: { handler: string; logicalId: string }, payload: unknown) => 'crash' | undefined;
  /** Picks among an alias's versions by weight (a canary); Math.random when absent. */
  random?: () => number;
  /** Port of the local Step Functions API (AWS_ENDPOINT_URL_SFN); any free port when absent. */
  sfnPort?: number;
  /** Port of DynamoDB (AWS_ENDPOINT_URL_DYNAMODB: dynalite behind its IAM front); any free port when absent. */
  dynamoPort?: number;
  /** Port of Secrets Manager (AWS_ENDPOINT_URL_SECRETS_MANAGER); any free port when absent. */
  secretsPort?: number;
  /** Port of the Lambda Invoke API of `lambda` tools (AWS_ENDPOINT_URL_LAMBDA); any free port when absent. */
  lambdaPort?: number;
  /** Port of Bedrock Runtime (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, local/bedrock.ts); any free port when absent. */
  bedrockPort?: number;
  /**
   * The local Secrets Manager's secrets, by name or complete ARN (a JSON object value as its JSON). Added to those of
   * `secretsFile` and to those the config's key variables hold (local/secrets-manager.ts), and winning over them.
   */
  secrets?: Record<string, string>;
  /** A JSON file of secrets (the CLI: AGENT_SECRETS_FILE, default .agent-data/secrets.json); none when absent. */
  secretsFile?: string;
  /** Powertools log level of the handlers. @default SILENT (ERROR when AGENT_LOG is set) */
  logLevel?: string;
  /**
   * The execution history quota (events per execution, counted as Step Functions counts them: local/limits.ts
   * HistoryCounter); a test knob to reach it quickly. @default 25,000 (AWS's hard quota)
   */
  historyLimit?: number;
}

/** One finished execution. */
export interface ExecutionResult {
  runId: string;
  run: RunView;
  /** The engine's event log of the execution (for counting billed state transitions). */
  events: EventLog[];
  /** The execution history's length as Step Functions counts it. */
  historyEventCount: number;
  /** Set when the execution itself failed (a real fault, not a guardrail). */
  error?: { name: string; message: string };
}

/** An execution's status, as Step Functions reports it. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** One execution of the local state machine (what DescribeExecution and GetExecutionHistory read). */
export interface LocalExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  /** The engine's event log (the interpreter's events; GetExecutionHistory reads it). */
  events: EventLog[];
  /** The execution history's length as Step Functions counts it (local/limits.ts HistoryCounter). */
  historyEventCount: number;
  /** Settles when the execution has ended and its status change has been delivered. */
  done: Promise<void>;
  abort?: () => void;
  /** The version it runs on and the alias it was started through (DescribeExecution), when started on one. */
  stateMachineVersionArn?: string;
  stateMachineAliasArn?: string;
  /** The definition and handlers it runs on, fixed at its start whatever is deployed meanwhile. */
  revision: Revision;
}

/** A Step Functions API error (its name is the API's error code). */
export class SfnError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** Credentials of the local endpoints (any work; these are the documented ones). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** How long a token stays known as stale after its attempt ended (then it is simply unknown). */
const STALE_TOKENS_KEPT = 10_000;

/**
 * The offline engine: a local Step Functions service running the synthesized state machine, unchanged, with
 * aws-local-stepfunctions (every Lambda Task routed to its handler in-process by the function the definition names;
 * DynamoDB is dynalite), and a local EventBridge that delivers the executions' status changes to the rules the
 * template declares. It emulates those services only: the run's own status is written by the app's handlers.
 */
export class LocalEngine {
  readonly stateMachineArn: string;
  readonly stateMachineName: string;
  rules: LocalRule[];
  /** Revisions, versions and aliases of the state machine (deploy() adds to them). */
  readonly versions: VersionRegistry;
  /** What runs are started on: the ARN the template gives the API (the alias `live`), else the machine. */
  startArn: string;
  /** Every execution of this engine process, by ARN. */
  readonly executions = new Map<string, LocalExecution>();
  /** Executions being started by execute() (so that two calls for one run start one execution). */
  private readonly starting = new Map<string, Promise<LocalExecution>>();
  /** The live execution of each run (joined by execute()). */
  private readonly running = new Map<string, LocalExecution>();
  /** Task tokens of attempts waiting in a .waitForTaskToken state → how to complete them. */
  private readonly waiting = new Map<string, { executionArn: string; resolve: (output: unknown) => void; reject: (err: Error) => void }>();
  /** Tokens whose attempt has ended (timed out, failed over, execution closed): answered with TaskTimedOut. */
  private readonly staleTokens = new Set<string>();
  /** pause/resume/cancel, as the API and the CLI use them: through the AWS SDK against the local endpoint. */
  control!: RunControl;
  /** The local Step Functions API (JSON 1.0 wire protocol). */
  sfnApi!: LocalSfnApi;
  /** An AWS SDK client bound to it, as a handler with AWS_ENDPOINT_URL_SFN gets one. */
  sfn!: SFNClient;
  /** The local Secrets Manager (AWS JSON 1.1): the model keys' and Langfuse's secrets, read by the handlers through it. */
  secretsManager!: LocalSecretsManager;
  /** The local Lambda Invoke API: `lambda` tools' functions, their `localHandler` standing in. */
  lambdaApi!: LocalLambdaApi;
  /** The local Bedrock Runtime (Converse), IAM-checked: `bedrock` models are called through it. */
  bedrock!: LocalBedrock;
  /** Function ARN → `localHandler` of the `lambda` tools of the configs deployed (what the Lambda API serves). */
  lambdaStandIns!: Map<string, string>;
  readonly createdAt = new Date();
  /** IAM offline: the roles of the template, checked by the local endpoints and on every Lambda invoke. */
  readonly iam: LocalIam;
  /** Destroys the per-function clients (local/iam/clients.ts). */
  private readonly destroyClients: (() => void)[] = [];

  private constructor(
    readonly options: EngineOptions,
    public template: CfnTemplate,
    readonly dynamo: LocalDynamo,
    /**
     * The handlers' runtime. Its AWS clients send every request made while a handler runs with that function's own
     * client and credentials (IAM offline); outside a handler (the engine itself, tests) as the administrator.
     */
    readonly runtime: Runtime,
    private readonly makeRuntime: (config: AgentConfig) => Runtime,
    /** DynamoDB as handlers and AWS_ENDPOINT_URL_DYNAMODB reach it: dynalite behind the IAM front. */
    readonly dynamoFront: DynamoFront,
    iam: LocalIam,
    destroyClients: () => void,
  ) {
    this.iam = iam;
    this.destroyClients.push(destroyClients);
    ({ arn: this.stateMachineArn, name: this.stateMachineName } = stateMachineOf(template));
    this.rules = rulesOf(template);
    this.versions = new VersionRegistry(this.stateMachineArn, this.revisionOf(template, () => runtime), options.random);
    this.startArn = this.stateMachineArn;
    this.publishFrom(template);
  }

  /** The latest revision's definition (what the unqualified state machine runs). */
  get definition(): Record<string, unknown> {
    return this.versions.latest.definition;
  }

  /** The latest revision's functions and Lambda versions, by ARN. */
  get functions(): Map<string, LocalFunction> {
    return this.versions.latest.functions;
  }

  /** A template's definition and handlers; `runtimeOf` gives the runtime a function's handler runs with. */
  private revisionOf(template: CfnTemplate, runtimeOf: (fn: LocalFunction) => Runtime): Revision {
    const definition = definitionOf(template);
    const functions = new Map([...functionsOf(template), ...lambdaVersionsOf(template)].map((f) => [f.arn, f]));
    const handlers = new Map<string, Handler>();
    for (const f of functions.values()) {
      const factory = (FACTORIES as Partial<Record<string, (rt: Runtime) => Handler>>)[f.handler];
      if (!factory) continue;
      const handler = factory(runtimeOf(f));
      // Every request the handler makes goes out with its function's credentials (IAM offline).
      handlers.set(f.arn, (event, context) => asCaller(f.logicalId, () => handler(event, context)));
    }
    validateDefinitionOnce(definition);
    const machine = new StateMachine(withTimerSafeTimeouts(definition) as never, { validationOptions: { noValidate: true } });
    return { id: revisionId(definition), definition, machine, functions, handlers };
  }

  /** What CloudFormation does with the template's version and alias: publish a new version, move the alias. */
  private publishFrom(template: CfnTemplate): void {
    const spec = publishesVersion(template);
    if (!spec) return;
    const version = this.versions.publish(spec.description);
    const alias = aliasOf(template);
    if (alias) this.versions.deployAlias(alias, version);
    const apiArn = functionsOf(template).find((f) => f.env.STATE_MACHINE_ARN)?.env.STATE_MACHINE_ARN;
    this.startArn = apiArn ?? alias?.arn ?? this.stateMachineArn;
  }

  /**
   * A deploy of a new template, as `cdk deploy` does it: the machine gets the new definition (its latest revision)
   * and the functions their new code and configuration; the template's version resource publishes a version when
   * the definition changed and the alias moves to it (at once or as a canary). Executions in flight keep the
   * revision they started on: their definition and their handlers, with the configuration they were deployed with.
   * Each Lambda version's handler runs with the configuration in its environment (`config` overrides it).
   */
  deploy(template: CfnTemplate, config?: AgentConfig): void {
    if (stateMachineOf(template).arn !== this.stateMachineArn) throw new Error('the new template names another state machine');
    const runtimes = new Map<string, Runtime>([[JSON.stringify(handlerConfig(this.options.config)), this.runtime]]);
    const runtimeOf = (fn: LocalFunction) => {
      const json = config ? JSON.stringify(handlerConfig(config)) : (fn.env[CONFIG_ENV] ?? JSON.stringify(handlerConfig(this.options.config)));
      let rt = runtimes.get(json);
      if (!rt) {
        rt = this.makeRuntime(config ?? parseConfig(JSON.parse(json), `${fn.logicalId} environment`));
        rt.aws = this.runtime.aws;
        runtimes.set(json, rt);
      }
      return rt;
    };
    this.versions.latest = this.revisionOf(template, runtimeOf);
    this.template = template;
    if (config) this.addStandIns(config);
    // The deploy updates the roles too (the new Lambda versions the machine's role may invoke, …).
    this.iam.model = iamModelOf(template);
    this.rules = rulesOf(template);
    this.publishFrom(template);
    this.control = createRunControl({ runs: this.runtime.runs, executions: sfnExecutions(this.startArn, this.sfn) });
    // Shared by every runtime of the engine: the API handler starts runs where the template says.
    if (this.runtime.aws) this.runtime.aws.stateMachineArn = this.startArn;
  }

  /** The `lambda` tools of a config whose `localHandler` stands in for their function on the Lambda API. */
  private addStandIns(config: AgentConfig): void {
    for (const t of config.tools) if (t.kind === 'lambda' && t.localHandler) this.lambdaStandIns.set(t.functionArn, t.localHandler);
  }

  static async start(options: EngineOptions): Promise<LocalEngine> {
    const template = options.template ?? cachedTemplate(options.config);
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    const dynamo = await startDynalite({ path: options.dataDir });
    for (const table of tablesOf(template)) await ensureTable(dynamo.doc, table);
    // Throttling starts once the tables exist (a deploy is not throttled).
    dynamo.faults.throttle = options.dynamoFaults?.throttle;
    const fns = functionsOf(template);
    const tableName = fns.find((f) => f.env.TABLE_NAME)?.env.TABLE_NAME;
    if (!tableName) throw new Error('no handler in the template has TABLE_NAME');
    const idempotencyTableName = fns.find((f) => f.env.IDEMPOTENCY_TABLE_NAME)?.env.IDEMPOTENCY_TABLE_NAME;
    const logger = new Logger({ serviceName: 'agent', logLevel: (options.logLevel ?? (process.env.AGENT_LOG ? 'ERROR' : 'SILENT')) as never });
    const iam = new LocalIam(iamModelOf(template), (message, fields) => logger.warn(message, fields));
    const front = await startDynamoFront(dynamo.endpoint, iam, { port: options.dynamoPort });
    // Secrets Manager and the Lambda Invoke API of lambda tools, IAM-checked like DynamoDB.
    const secretStore = new LocalSecretStore({ ...secretsFromEnv(options.config, process.env), ...(options.secretsFile ? readSecretsFile(options.secretsFile) : {}), ...options.secrets });
    const secretsManager = await startSecretsManager(secretStore, iam, { port: options.secretsPort });
    const standIns = new Map<string, string>();
    const lambdaApi = await startLambdaApi(() => standIns, iam, { port: options.lambdaPort });
    const bedrock = await startBedrockRuntime(iam, { port: options.bedrockPort, upstreamFor: bedrockUpstreams(options.config) });
    // The handlers' runtimes: each request they send while a handler runs goes out with that function's own
    // client, whose credentials name its role (local/iam/clients.ts).
    const doc = createDocumentClient(dynamo.clientConfig);
    const idempotencyClient = new DynamoDBClient({ ...dynamo.clientConfig });
    // The table's stream and index emulation (local/streams.ts) sees every write, whichever function's client sends it.
    let emulation: TableEmulation | undefined;
    const destroy = [
      routeByCaller(doc, (id) => {
        const client = createDocumentClient(clientConfigOf(id, front.url));
        emulation?.attach(client);
        return client;
      }),
      routeByCaller(idempotencyClient, (id) => new DynamoDBClient(clientConfigOf(id, front.url))),
    ];
    // Lambda tools invoke with the SDK, as in AWS: each function's own client, bound to the local Lambda API.
    const lambdaClient = new LambdaClient({ endpoint: lambdaApi.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    destroy.push(routeByCaller(lambdaClient, (id) => new LambdaClient({ ...clientConfigOf(id, lambdaApi.url), maxAttempts: 1 })));
    // Secrets: each function reads with a reader (and a Powertools cache) of its own, as each Lambda container has.
    const secretReaders = new Map<string, { read: SecretReader; client: SecretsManagerClient }>();
    const secrets: SecretReader = (secretId) => {
      const caller = currentCaller() ?? '';
      let reader = secretReaders.get(caller);
      if (!reader) {
        const client = new SecretsManagerClient(caller ? clientConfigOf(caller, secretsManager.url) : { endpoint: secretsManager.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
        reader = { read: createSecretReader({ client }), client };
        secretReaders.set(caller, reader);
      }
      return reader.read(secretId);
    };
    const makeRuntime = (config: AgentConfig) => {
      const rt = createRuntime({
        config,
        doc,
        tableName,
        idempotencyTableName,
        idempotencyClient,
        dynamoClientConfig: dynamo.clientConfig,
        docsDir: options.docsDir,
        fetchImpl: options.fetchImpl,
        logger,
        onEvent: options.onTrace,
        secrets,
        lambdaClientFor: () => lambdaClient,
        bedrock: bedrockDepsOf(bedrock.url),
      });
      if (options.overrides) Object.assign(rt, options.overrides);
      if (options.wrapTools) rt.runTool = options.wrapTools(rt.runTool);
      return rt;
    };
    const runtime = makeRuntime(options.config);
    const engine = new LocalEngine(options, template, dynamo, runtime, makeRuntime, front, iam, () => {
      for (const d of destroy) d();
      doc.destroy();
      idempotencyClient.destroy();
      lambdaClient.destroy();
      for (const r of secretReaders.values()) r.client.destroy();
    });
    engine.secretsManager = secretsManager;
    engine.lambdaApi = lambdaApi;
    engine.bedrock = bedrock;
    engine.lambdaStandIns = standIns;
    engine.addStandIns(options.config);
    emulation = attachTableEmulation(doc, dynamo.clientConfig, streamTablesOf(template), (table, record) => engine.onStreamRecord(table, record), options.dynamoFaults);
    engine.tableEmulation = emulation;
    engine.sfnApi = await startSfnApi(engine, { port: options.sfnPort });
    engine.sfn = new SFNClient({ endpoint: engine.sfnApi.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    const handlersSfn = new SFNClient({ endpoint: engine.sfnApi.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    engine.destroyClients.push(routeByCaller(handlersSfn, (id) => new SFNClient({ ...clientConfigOf(id, engine.sfnApi.url), maxAttempts: 1 })), () => handlersSfn.destroy());
    // Runs start where the stack's API starts them: on the alias.
    runtime.aws = { sfn: handlersSfn, stateMachineArn: engine.startArn };
    engine.control = createRunControl({ runs: runtime.runs, executions: sfnExecutions(engine.startArn, engine.sfn) });
    return engine;
  }

  // ------------------------------------------------------------------------------------------------------------
  // The app's entry points (what the API and the CLI do), for tests and `agent run`

  /** Starts a run as POST /runs does (lambdas/core/start-run.ts) and waits for its execution to end. */
  async run(input: { input: string; userId?: string; budgets?: { maxSteps?: number; maxTokens?: number; maxCostUsd?: number }; runId?: string }): Promise<ExecutionResult> {
    const { runId } = await startRun(
      { runs: this.runtime.runs, control: this.control, budgets: this.options.config.budgets },
      { userId: input.userId ?? 'local', input: input.input, budgets: input.budgets, runId: input.runId },
    );
    return this.execute(runId, input.userId ?? 'local');
  }

  /**
   * Waits for the run's live execution; starts one (from the checkpoint) when it has none. A run whose recorded
   * execution belonged to a previous engine process gets that execution back (executions outlive a restart in AWS).
   */
  async execute(runId: string, userId: string): Promise<ExecutionResult> {
    const live = this.running.get(runId);
    if (live) return this.resultOf(runId, live);
    let starting = this.starting.get(runId);
    if (!starting) {
      starting = (async () => {
        const run = await this.runtime.runs.getRun(runId);
        const again = this.running.get(runId);
        if (again) return again;
        const input = JSON.stringify({ runId, userId });
        const previous = run?.executionArn;
        return previous && !this.executions.has(previous) && previous.startsWith(this.executionArnPrefix())
          ? this.startExecution({ name: previous.slice(this.executionArnPrefix().length), input, stateMachineArn: this.startArn })
          : this.startExecution({ name: this.freeName(runId), input, stateMachineArn: this.startArn });
      })().finally(() => this.starting.delete(runId));
      this.starting.set(runId, starting);
    }
    return this.resultOf(runId, await starting);
  }

  /** Runs in flight. */
  get inFlight(): string[] {
    return [...this.running.keys()];
  }

  /**
   * Continues every run that was RUNNING when a previous engine process died (the on-disk engine behind npm start),
   * before the engine serves anything: each run is read again (one that is no longer RUNNING is left alone) and
   * gets its execution back, which loads its checkpoint. Returns the run ids.
   */
  async resumeInterrupted(): Promise<string[]> {
    const candidates = await this.runtime.runs.listRunsByStatus(['RUNNING']);
    await this.releaseDeadToolCalls(candidates.map((r) => r.runId));
    const resumed: string[] = [];
    for (const { runId } of candidates) {
      if (this.running.has(runId)) continue;
      const run = await this.runtime.runs.getRun(runId);
      if (run?.status !== 'RUNNING') continue;
      await this.runtime.runs.appendEvent(runId, trace.engineRestarted({ step: run.step }));
      this.execute(runId, run.userId).catch(() => undefined);
      resumed.push(runId);
    }
    return resumed;
  }

  // ------------------------------------------------------------------------------------------------------------
  // The Step Functions service

  /**
   * StartExecution on the machine (its latest revision), one of its versions or an alias (a version picked by the
   * alias's weights). The same name with the same input while it runs returns that execution, as AWS does.
   */
  startExecution(input: { name?: string; input?: string; stateMachineArn?: string }): LocalExecution {
    // The request's constraints are checked before the state machine is looked up (as AWS answers).
    const tooLarge = executionInputError(input.input ?? '{}');
    if (tooLarge) throw new SfnError(tooLarge.name, tooLarge.message);
    const target = this.versions.resolve(input.stateMachineArn ?? this.stateMachineArn);
    const name = input.name ?? randomUUID();
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new SfnError('InvalidName', `invalid execution name ${name}`);
    const text = input.input ?? '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new SfnError('InvalidExecutionInput', 'the execution input must be JSON');
    }
    const executionArn = `${this.executionArnPrefix()}${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === text) return existing;
      throw new SfnError('ExecutionAlreadyExists', `execution ${executionArn} already exists`);
    }
    const execution: LocalExecution = {
      executionArn,
      stateMachineArn: this.stateMachineArn,
      name,
      input: text,
      status: 'RUNNING',
      startDate: new Date(),
      events: [],
      historyEventCount: 0,
      done: Promise.resolve(),
      revision: target.revision,
      ...(target.stateMachineVersionArn ? { stateMachineVersionArn: target.stateMachineVersionArn } : {}),
      ...(target.stateMachineAliasArn ? { stateMachineAliasArn: target.stateMachineAliasArn } : {}),
    };
    this.executions.set(executionArn, execution);
    const runId = runIdOf({ executionArn, name, status: 'RUNNING', input: text });
    if (runId) this.running.set(runId, execution);
    execution.done = this.runExecution(execution, parsed).finally(() => {
      if (runId && this.running.get(runId) === execution) this.running.delete(runId);
    });
    return execution;
  }

  /** StopExecution: the execution is ABORTED at once; its status change is published as in AWS. */
  stopExecution(executionArn: string, error?: string, cause?: string): LocalExecution {
    const execution = this.describeExecution(executionArn);
    if (execution.status !== 'RUNNING') return execution;
    execution.status = 'ABORTED';
    execution.stopDate = new Date();
    execution.error = error;
    execution.cause = cause;
    execution.abort?.();
    return execution;
  }

  /** DescribeExecution. */
  describeExecution(executionArn: string): LocalExecution {
    const execution = this.executions.get(executionArn);
    if (!execution) throw new SfnError('ExecutionDoesNotExist', `execution ${executionArn} does not exist`);
    return execution;
  }

  /** Completes a waiting task (SendTaskSuccess). */
  sendTaskSuccess(token: string, output: string): void {
    let value: unknown;
    try {
      value = JSON.parse(output);
    } catch {
      throw new SfnError('InvalidOutput', 'the task output must be JSON');
    }
    this.takeWaiter(token).resolve(value);
  }

  /** Fails a waiting task (SendTaskFailure): the state sees {Error: error, Cause: cause}, as in AWS. */
  sendTaskFailure(token: string, error?: string, cause?: string): void {
    this.takeWaiter(token).reject(Object.assign(new Error(cause ?? ''), { name: error ?? 'States.TaskFailed' }));
  }

  /** SendTaskHeartbeat: the task is still waited for (the machine declares no HeartbeatSeconds). */
  sendTaskHeartbeat(token: string): void {
    this.peekWaiter(token);
  }

  private peekWaiter(token: string) {
    const waiter = this.waiting.get(token);
    if (waiter) return waiter;
    if (this.staleTokens.has(token)) throw new SfnError('TaskTimedOut', 'the task of this token is no longer waiting (timed out, failed or closed)');
    throw new SfnError('TaskDoesNotExist', `no task waits for token ${token.slice(0, 12)}…`);
  }

  private takeWaiter(token: string) {
    const waiter = this.peekWaiter(token);
    this.retireToken(token);
    return waiter;
  }

  private retireToken(token: string): void {
    this.waiting.delete(token);
    this.staleTokens.add(token);
    if (this.staleTokens.size > STALE_TOKENS_KEPT) this.staleTokens.delete(this.staleTokens.values().next().value as string);
  }

  private executionArnPrefix(): string {
    return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${this.stateMachineName}:`;
  }

  private freeName(runId: string): string {
    for (let i = 0; i < 10_000; i++) {
      const name = i === 0 ? runId : `${runId}-x${i}`;
      if (!this.executions.has(`${this.executionArnPrefix()}${name}`)) return name;
    }
    return `${runId}-${randomUUID()}`;
  }

  private async resultOf(runId: string, execution: LocalExecution): Promise<ExecutionResult> {
    await execution.done;
    // The stream's consumers (the exporter) have seen the run's last writes before the result is reported.
    if (this.streamBusy()) await this.streamIdle();
    const run = await this.runtime.runs.getRun(runId);
    if (!run) throw new Error(`run ${runId} vanished`);
    const failed = execution.status === 'FAILED' || execution.status === 'TIMED_OUT';
    return { runId, run: runView(run), events: execution.events, historyEventCount: execution.historyEventCount, ...(failed ? { error: { name: execution.error ?? execution.status, message: execution.cause ?? '' } } : {}) };
  }

  private async runExecution(execution: LocalExecution, input: unknown): Promise<void> {
    const placeholder = `${execution.executionArn}#task`;
    const run = execution.revision.machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: this.taskHandlers(execution, placeholder), retryIntervalOverrides: this.retryOverrides(execution.revision) },
      context: {
        Execution: { Id: execution.executionArn, Name: execution.name, Input: input, StartTime: execution.startDate.toISOString() },
        StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineName },
        Task: { Token: placeholder },
      } as never,
      noThrowOnAbort: true,
    });
    execution.abort = run.abort;
    const history = this.historyCounter(execution);
    const collecting = (async () => {
      for await (const event of run.eventLogs) {
        execution.events.push(event);
        this.countHistory(execution, history, event);
        this.checkStatePayloads(execution, event);
        this.options.onStateEvent?.(runIdOf({ executionArn: execution.executionArn, name: execution.name, status: execution.status, input: execution.input }) ?? execution.name, event);
      }
    })();
    await this.publishStatus(execution);
    let dropped = false;
    try {
      const output = await run.result;
      // The last states' events are checked (payload limits) before the execution counts as succeeded.
      await collecting;
      if (execution.status === 'RUNNING' && output === null && this.closing) {
        execution.status = 'ABORTED';
        dropped = true;
      } else if (execution.status === 'RUNNING') {
        execution.status = 'SUCCEEDED';
        execution.output = JSON.stringify(output ?? null);
      }
    } catch (err) {
      const e = err as Error & { cause?: { name?: string; message?: string } };
      if (execution.status === 'RUNNING') {
        if (e.name === 'ExecutionTimeoutError') {
          execution.status = 'TIMED_OUT';
          execution.error = 'States.Timeout';
          execution.cause = 'the execution ran past the state machine\'s TimeoutSeconds';
        } else {
          execution.status = 'FAILED';
          execution.error = e.cause?.name ?? e.name;
          execution.cause = e.cause?.message ?? e.message;
        }
      }
    }
    execution.stopDate ??= new Date();
    execution.abort = undefined;
    if (dropped) {
      // Dropped by close(): the process ends, as a crash would; nothing is published, the run stays as it is.
      await collecting;
      return;
    }
    for (const [token, waiter] of this.waiting) if (waiter.executionArn === execution.executionArn) this.retireToken(token);
    await collecting;
    await this.publishStatus(execution);
  }

  // ------------------------------------------------------------------------------------------------------------
  // API Gateway

  /** Invokes the deployed API handler (lambdas/handlers/api.ts) with a REST proxy event, as API Gateway does. */
  async invokeApi(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const fn = [...this.versions.latest.functions.values()].find((f) => f.handler === 'api');
    const handler = fn && this.versions.latest.handlers.get(fn.arn);
    if (!fn || !handler) throw new Error('the template has no API handler');
    try {
      return (await handler(event, lambdaContext(fn))) as APIGatewayProxyResult;
    } catch (err) {
      // An unhandled Lambda error: API Gateway answers 502 without the error's details.
      this.runtime.logger.error('API handler failed', { err });
      return { statusCode: 502, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Internal server error' }) };
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // EventBridge

  /** Publishes the execution's status change on the local default bus ("Step Functions Execution Status Change"). */
  private async publishStatus(execution: LocalExecution): Promise<void> {
    await this.putEvent({
      version: '0',
      id: randomUUID(),
      'detail-type': EXECUTION_STATUS_DETAIL_TYPE,
      source: 'aws.states',
      account: LOCAL_ACCOUNT,
      time: new Date().toISOString(),
      region: LOCAL_REGION,
      resources: [execution.executionArn],
      detail: {
        executionArn: execution.executionArn,
        stateMachineArn: execution.stateMachineArn,
        name: execution.name,
        status: execution.status,
        startDate: execution.startDate.getTime(),
        stopDate: execution.stopDate?.getTime() ?? null,
        input: execution.input,
        output: execution.output ?? null,
        inputDetails: { included: true },
        outputDetails: execution.output ? { included: true } : null,
        error: execution.error ?? null,
        cause: execution.cause ?? null,
        // As the documented event: the machine's unqualified ARN above, the alias and version an execution was
        // started through in their own fields (null when started on the machine itself).
        stateMachineVersionArn: execution.stateMachineVersionArn ?? null,
        stateMachineAliasArn: execution.stateMachineAliasArn ?? null,
      },
    });
  }

  /**
   * Delivers an event to the Lambda targets of every matching rule, as the default bus does; a failed delivery is
   * retried (EventBridge retries for up to 24 hours; here a few times, at once).
   */
  async putEvent(event: BusEvent): Promise<void> {
    for (const rule of this.rules) {
      if (!matchesPattern(rule.pattern, event as unknown as Record<string, unknown>)) continue;
      for (const target of rule.targets) {
        const fn = this.versions.latest.functions.get(target);
        const handler = this.versions.latest.handlers.get(target);
        if (!fn || !handler) continue;
        for (let attempt = 1; attempt <= 3; attempt++) {
          try {
            await handler(event, lambdaContext(fn));
            break;
          } catch (err) {
            this.runtime.logger.error('event delivery failed', { rule: rule.logicalId, target, attempt, err });
            this.options.onDeliveryError?.(rule.logicalId, err as Error);
          }
        }
      }
    }
  }

  /**
   * This engine is the only worker of its data: at start, the tool calls of the last step of an interrupted run ran
   * (if at all) in the Lambda invocations of a process that died. In AWS an invocation's in-progress lease on its
   * idempotency record ends with the invocation; here the process is gone at once, so those calls' in-progress
   * records are released (through Powertools' public API, lambdas/store/idempotent-tools.ts; a completed one stays).
   */
  private async releaseDeadToolCalls(runIds: string[]): Promise<void> {
    const tableName = functionsOf(this.template).find((f) => f.env.IDEMPOTENCY_TABLE_NAME)?.env.IDEMPOTENCY_TABLE_NAME;
    if (!tableName || runIds.length === 0) return;
    const client = new DynamoDBClient({ ...this.dynamo.clientConfig });
    try {
      for (const runId of runIds) {
        const last = (await this.runtime.runs.listMessages(runId)).findLast((m) => m.message.role === 'assistant');
        if (last?.message.role !== 'assistant') continue;
        const calls = last.message.toolCalls.map((call) => ({ call, idempotencyKey: idempotencyKeyFor(runId, last.step, call.id) }));
        await releaseInProgressToolCalls(calls, { tableName, client });
      }
    } finally {
      client.destroy();
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // DynamoDB Streams → Lambda (event source mappings)

  private tableEmulation?: TableEmulation;
  /** Records waiting for delivery, per event source mapping, and the delivery in progress. */
  private readonly streamQueues = new Map<string, { records: DynamoDBRecord[]; pump?: Promise<void> }>();

  /**
   * A table's stream record → every event source mapping of the template on that table whose filters match it
   * (the same patterns Lambda applies), delivered in order in batches of the mapping's BatchSize, each batch
   * retried as the mapping says (at most 3 times here), then dropped.
   */
  onStreamRecord(table: LocalStreamTable, record: DynamoDBRecord): void {
    for (const mapping of streamMappingsOf(this.template)) {
      if (mapping.table !== table.name) continue;
      if (mapping.filters.length && !mapping.filters.some((f) => matchesPattern(f, record as unknown as Record<string, unknown>))) continue;
      const queue = this.streamQueues.get(mapping.logicalId) ?? { records: [] };
      this.streamQueues.set(mapping.logicalId, queue);
      queue.records.push(record);
      queue.pump ??= this.pumpStream(mapping, queue).finally(() => {
        queue.pump = undefined;
      });
    }
  }

  private async pumpStream(mapping: ReturnType<typeof streamMappingsOf>[number], queue: { records: DynamoDBRecord[] }): Promise<void> {
    await new Promise((r) => setImmediate(r));
    while (queue.records.length) {
      const batch = queue.records.splice(0, Math.max(1, mapping.batchSize));
      const fn = [...this.versions.latest.functions.values()].find((f) => f.logicalId === mapping.functionLogicalId);
      const handler = fn && this.versions.latest.handlers.get(fn.arn);
      if (!fn || !handler) continue;
      const attempts = 1 + (mapping.retryAttempts < 0 ? 3 : Math.min(mapping.retryAttempts, 3));
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          await this.invokeLambda(fn, handler, { Records: batch });
          break;
        } catch (err) {
          this.runtime.logger.error('stream batch failed', { mapping: mapping.logicalId, attempt, err });
          if (attempt === attempts) for (const r of batch) this.options.onExportError?.(r.dynamodb?.NewImage?.runId?.S ?? '', err as Error);
        }
      }
    }
  }

  /** Whether a stream record waits for delivery. */
  private streamBusy(): boolean {
    return [...this.streamQueues.values()].some((q) => q.pump);
  }

  /** Settles when every stream record written so far has been delivered (or dropped). */
  async streamIdle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const pumps = [...this.streamQueues.values()].flatMap((q) => (q.pump ? [q.pump] : []));
      if (!pumps.length) return;
      await Promise.allSettled(pumps);
    }
  }

  /** Every Task state → the handler of the function its Parameters name (Lambda tasks return {Payload}). */
  private taskHandlers(execution: LocalExecution, placeholder: string): Record<string, (input: unknown) => Promise<never>> {
    const out: Record<string, (input: unknown) => Promise<never>> = {};
    const { definition, functions, handlers } = execution.revision;
    for (const [name, state] of allStates(definition)) {
      if (state.Type !== 'Task') continue;
      const waitsForToken = String(state.Resource).endsWith('.waitForTaskToken');
      const timeoutMs = Number(state.TimeoutSeconds ?? 60) * 1000;
      const limited = <T>(what: string, value: T): T => this.withinPayloadLimit(execution, state, `${what} of state ${name}`, value);
      out[name] = async (input: unknown) => {
        // The interpreter's log is read asynchronously: let it catch up, so that a task whose TaskScheduled event
        // would pass the history quota is never invoked (the execution has failed by then), as in AWS.
        await new Promise((r) => setImmediate(r));
        if (execution.status !== 'RUNNING') throw Object.assign(new Error(`execution ${execution.status}`), { name: 'States.Runtime' });
        const { FunctionName, Payload } = limited('input', input) as { FunctionName: string; Payload: Record<string, unknown> };
        this.authorizeInvoke(FunctionName);
        const fn = functions.get(FunctionName);
        const handler = handlers.get(FunctionName);
        if (!fn || !handler) throw Object.assign(new Error(`no local handler for ${FunctionName}`), { name: 'Lambda.ResourceNotFoundException' });
        if (!waitsForToken) return limited('task result', await this.invokeLambda(fn, handler, Payload)) as never;
        // .waitForTaskToken: a token of this attempt only; the execution waits until SendTask* completes it, and
        // once the attempt is over (timed out, execution closed) the token is stale.
        const token = `${randomUUID()}${randomUUID()}`.replaceAll('-', '');
        const output = new Promise<unknown>((resolve, reject) => this.waiting.set(token, { executionArn: execution.executionArn, resolve, reject }));
        const timer = setTimeout(() => this.retireToken(token), timeoutMs);
        try {
          await this.invokeLambda(fn, handler, replaceString(Payload, placeholder, token));
          return limited('task result', await output) as never;
        } finally {
          clearTimeout(timer);
          if (this.waiting.has(token)) this.retireToken(token);
        }
      };
    }
    return out;
  }

  /**
   * The 256 KB payload limit, as Step Functions enforces it: a larger value raises States.DataLimitExceeded, which
   * only a Catch or Retry naming it handles; otherwise (States.ALL does not match it) the execution fails at once.
   */
  private withinPayloadLimit<T>(execution: LocalExecution, state: Record<string, unknown>, what: string, value: T): T {
    const bytes = payloadBytes(value);
    if (bytes <= MAX_PAYLOAD_BYTES) return value;
    const err = dataLimitError(what, bytes);
    if (!namesDataLimit(state)) this.failTerminally(execution, err);
    throw err;
  }

  /** Counts an execution's history as Step Functions does (states by name, nested Map states included). */
  private historyCounter(execution: LocalExecution): HistoryCounter {
    const states = new Map(allStates(execution.revision.definition));
    return new HistoryCounter((name) => states.get(name));
  }

  /**
   * The history quota, as Step Functions enforces it: the execution may write 24,999 events (at the default
   * 25,000); when the next one is not ExecutionSucceeded, ExecutionFailed (States.Runtime) is the last event and
   * the execution fails at once, whatever the state's Catch says. Events after the failure are not counted.
   */
  private countHistory(execution: LocalExecution, history: HistoryCounter, event: EventLog): void {
    const limit = this.options.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    if (execution.historyEventCount >= limit) return;
    const events = history.eventsOf(event as never);
    if (isExecutionEnd(event) || execution.historyEventCount + events < limit) {
      execution.historyEventCount += events;
      return;
    }
    execution.historyEventCount = limit;
    this.failTerminally(execution, historyLimitError(limit));
  }

  /** A state's input and output past 256 KB (as the interpreter reports them) fail the execution (terminal). */
  private checkStatePayloads(execution: LocalExecution, event: EventLog): void {
    if (event.type !== 'StateEntered' && event.type !== 'StateExited') return;
    const state = (event as { state?: { name?: string; input?: unknown; output?: unknown } }).state;
    if (!state) return;
    const [what, value] = event.type === 'StateEntered' ? ['input', state.input] : ['output', state.output];
    const bytes = payloadBytes(value);
    if (bytes > MAX_PAYLOAD_BYTES) this.failTerminally(execution, dataLimitError(`${what} of state ${state.name}`, bytes));
  }

  /** Ends the execution FAILED with the error, as Step Functions does with an error no state may catch. */
  private failTerminally(execution: LocalExecution, err: Error): void {
    if (execution.status !== 'RUNNING') return;
    execution.status = 'FAILED';
    execution.error = err.name;
    execution.cause = err.message;
    execution.stopDate = new Date();
    execution.abort?.();
  }

  /**
   * One Lambda invocation as Lambda and the lambda:invoke integration report it: the payload and the result
   * JSON-serialized; the function's configured timeout enforced (Sandbox.Timedout); a function error as
   * Error = errorType, Cause = `{"errorType", "errorMessage", "trace"}`; a crash as Lambda.Unknown. (In-process, a
   * timed-out handler is not frozen: it runs on, its result ignored.)
   */
  private async invokeLambda(fn: LocalFunction, handler: Handler, payload: unknown): Promise<{ Payload: unknown; StatusCode: number; ExecutedVersion: string }> {
    const context = lambdaContext(fn);
    const fault = this.options.lambdaFaults?.({ handler: fn.handler, logicalId: fn.logicalId }, payload);
    if (fault === 'crash') throw lambdaError('Lambda.Unknown', 'The cause could not be determined because Lambda did not return an error type.');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(lambdaError('Sandbox.Timedout', JSON.stringify({ errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${context.awsRequestId} Error: Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds` }))),
        fn.timeoutSeconds * 1000,
      );
    });
    try {
      const result = await Promise.race([handler(JSON.parse(JSON.stringify(payload ?? null)), context), timedOut]);
      return { Payload: JSON.parse(JSON.stringify(result ?? null)), StatusCode: 200, ExecutedVersion: fn.arn.split(':')[7] ?? '$LATEST' };
    } catch (err) {
      if ((err as { lambda?: boolean }).lambda) throw err;
      const e = err instanceof Error ? err : new Error(String(err));
      const errorType = e.name || 'Error';
      throw lambdaError(errorType, JSON.stringify({ errorType, errorMessage: e.message, trace: (e.stack ?? '').split('\n') }));
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The state machine's role must allow lambda:InvokeFunction on the function (its ARN, qualified or not); a denied
   * invoke fails the task as Step Functions reports it (Lambda.AWSLambdaException, the cause naming AccessDenied).
   */
  private authorizeInvoke(functionName: string): void {
    const principal = this.iam.model.stateMachine;
    if (!principal) return;
    try {
      this.iam.authorize(principal, 'lambda:InvokeFunction', [functionName]);
    } catch (err) {
      if (!(err instanceof AccessDenied)) throw err;
      throw Object.assign(new Error(`${err.message} (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException)`), { name: 'Lambda.AWSLambdaException' });
    }
  }

  private retryOverrides(revision: Revision): Record<string, number> | undefined {
    const scale = this.options.retryScale ?? 1;
    if (scale >= 1) return undefined;
    const out: Record<string, number> = {};
    for (const [name, state] of allStates(revision.definition)) {
      const retry = state.Retry as { IntervalSeconds?: number }[] | undefined;
      if (retry?.length) out[name] = Math.round((retry[0]?.IntervalSeconds ?? 1) * 1000 * scale);
    }
    return out;
  }

  private closing = false;

  async close(): Promise<void> {
    // Executions are dropped with the process (their runs stay as the table has them and resume from the
    // checkpoint at the next start); nothing is published for them.
    const live = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
    this.closing = true;
    for (const e of live) e.abort?.();
    this.waiting.clear();
    await Promise.allSettled(live.map((e) => e.done));
    this.sfn.destroy();
    for (const destroy of this.destroyClients) destroy();
    await this.sfnApi.close();
    await this.secretsManager.close();
    await this.lambdaApi.close();
    await this.bedrock.close();
    this.versions.close();
    await this.runtime.tools?.close();
    await this.streamIdle();
    this.tableEmulation?.close();
    await this.dynamoFront.close();
    await this.dynamo.close();
  }
}

/** Node timers hold at most 2^31-1 ms (~24.8 days); a longer one fires at once. */
const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * The definition as the in-process interpreter runs it: every TimeoutSeconds (the machine's, a task's) above what a
 * Node timer can hold is held at that limit, so a long wait (a month of approvals) ends when it would offline
 * instead of at once. Nothing else changes.
 */
function withTimerSafeTimeouts(definition: Record<string, unknown>): Record<string, unknown> {
  const cap = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(cap);
    if (!value || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === 'TimeoutSeconds' && typeof v === 'number' ? Math.min(v, MAX_TIMER_SECONDS) : cap(v)]),
    );
  };
  return cap(definition) as Record<string, unknown>;
}

/** An error as the state machine sees a Lambda failure: name = Error, message = Cause. */
function lambdaError(name: string, cause: string): Error {
  return Object.assign(new Error(cause), { name, lambda: true });
}

/** Replaces every string equal to `from` in a JSON value. */
function replaceString(value: unknown, from: string, to: string): unknown {
  if (value === from) return to;
  if (Array.isArray(value)) return value.map((v) => replaceString(v, from, to));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceString(v, from, to)]));
  return value;
}

/** Every state of the definition, nested Map processors included. */
export function allStates(definition: Record<string, unknown>): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  const walk = (def: Record<string, unknown>) => {
    for (const [name, state] of Object.entries((def.States ?? {}) as Record<string, Record<string, unknown>>)) {
      out.push([name, state]);
      const nested = (state.ItemProcessor ?? state.Iterator) as Record<string, unknown> | undefined;
      if (nested) walk(nested);
      for (const branch of (state.Branches ?? []) as Record<string, unknown>[]) walk(branch);
    }
  };
  walk(definition);
  return out;
}

function lambdaContext(fn: LocalFunction): Context {
  const deadline = Date.now() + fn.timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.logicalId,
    functionVersion: fn.arn.split(':')[7] ?? '$LATEST',
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.logicalId}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Counts billed state transitions (states entered, as Step Functions Standard bills them) in an event log. */
export function countTransitions(events: EventLog[]): number {
  return events.filter((e) => e.type === 'StateEntered').length;
}
