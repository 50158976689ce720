import './html-loader';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { createRunControl } from '../lambdas/core/control';
import { runView } from '../lambdas/core/loop';
import type { OutputSpec } from '../lambdas/core/output';
import type { RunControl } from '../lambdas/core/ports';
import { idempotencyKeyFor } from '../lambdas/core/signature';
import { startRun } from '../lambdas/core/start-run';
import { trace } from '../lambdas/core/trace';
import type { RunView } from '../lambdas/core/types';
import type { Runtime } from '../lambdas/runtime';
import { releaseInProgressToolCalls } from '../lambdas/store/idempotent-tools';
import { sfnExecutions } from '../lambdas/store/sfn-executions';
import { type AgentConfig, CONFIG_ENV, configJsonOf, handlerConfig, parseConfig } from '../lib/config';
import { invokeFunction } from './apigw-invoke';
import type { LocalBedrock } from './bedrock';
import { type EngineServices, startServices } from './bootstrap';
import type { LocalDynamo } from './dynamo';
import type { EngineKnobs, EngineOptions } from './engine-options';
import type { LocalEventBus } from './event-bus';
import type { BusEvent, LocalRule } from './events';
import type { EventLog, LocalExecution } from './executions';
import type { LocalIam } from './iam/check';
import type { DynamoFront } from './iam/dynamo-front';
import { iamModelOf } from './iam/roles';
import type { LocalLambdaApi } from './lambda-api';
import { deployedHandler } from './lambda-invoker';
import type { LocalSecretsManager } from './secrets-manager';
import type { LocalSfnApi } from './sfn-api';
import { type LocalStepFunctions, revisionOf } from './step-functions';
import type { StreamDelivery } from './stream-delivery';
import { aliasOf, type CfnTemplate, functionsOf, type LocalFunction, publishesVersion, stateMachineOf } from './template';
import type { VersionRegistry } from './versions';

export { LOCAL_CREDENTIALS } from './bootstrap';
export type { EngineKnobs, EngineOptions } from './engine-options';
export { allStates, countTransitions, type EventLog, type ExecutionStatus, type LocalExecution } from './executions';
export { SfnError } from './sfn-error';

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

/**
 * The offline engine: a facade over the emulated services (local/bootstrap.ts starts and wires them) — Step
 * Functions running the synthesized state machine unchanged (local/step-functions.ts), the EventBridge bus
 * delivering the executions' status changes to the template's rules (local/event-bus.ts), DynamoDB streams feeding
 * their functions (local/stream-delivery.ts), the Lambda invoker (local/lambda-invoker.ts) and API Gateway's proxy
 * integration (local/apigw-invoke.ts) — with the app's entry points (start a run, resume interrupted runs) and
 * deploys. It emulates those services only: the run's own status is written by the app's handlers.
 */
export class LocalEngine {
  readonly stateMachineArn: string;
  readonly stateMachineName: string;
  /** What runs are started on: the ARN the template gives the API (the alias `live`), else the machine. */
  startArn: string;
  /** pause/resume/cancel, as the API and the CLI use them: through the AWS SDK against the local endpoint. */
  control: RunControl;
  /** The template deployed last. */
  template: CfnTemplate;
  readonly dynamo: LocalDynamo;
  /** DynamoDB as handlers and AWS_ENDPOINT_URL_DYNAMODB reach it: dynalite behind the IAM front. */
  readonly dynamoFront: DynamoFront;
  /** IAM offline: the roles of the template, checked by the local endpoints and on every Lambda invoke. */
  readonly iam: LocalIam;
  /**
   * The handlers' runtime. Its AWS clients send every request made while a handler runs with that function's own
   * client and credentials (IAM offline); outside a handler (the engine itself, tests) as the administrator.
   */
  readonly runtime: Runtime;
  /** Revisions, versions and aliases of the state machine (deploy() adds to them). */
  readonly versions: VersionRegistry;
  /** The local Step Functions service. */
  readonly stepFunctions: LocalStepFunctions;
  /** The local EventBridge default bus. */
  readonly bus: LocalEventBus;
  /** DynamoDB streams → Lambda. */
  readonly streams: StreamDelivery;
  /** The local Step Functions API (JSON 1.0 wire protocol). */
  readonly sfnApi: LocalSfnApi;
  /** An AWS SDK client bound to it, as a handler with AWS_ENDPOINT_URL_SFN gets one. */
  readonly sfn: SFNClient;
  /** The local Secrets Manager (AWS JSON 1.1): the model keys' and Langfuse's secrets, read by the handlers through it. */
  readonly secretsManager: LocalSecretsManager;
  /** The local Lambda Invoke API: `lambda` tools' functions, their `localHandler` standing in. */
  readonly lambdaApi: LocalLambdaApi;
  /** The local Bedrock Runtime (Converse), IAM-checked: `bedrock` models are called through it. */
  readonly bedrock: LocalBedrock;
  /** Function ARN → `localHandler` of the `lambda` tools of the configs deployed (what the Lambda API serves). */
  readonly lambdaStandIns: Map<string, string>;
  /** Executions being started by execute() (so that two calls for one run start one execution). */
  private readonly starting = new Map<string, Promise<LocalExecution>>();

  private constructor(
    readonly options: EngineOptions,
    private readonly services: EngineServices,
  ) {
    ({ template: this.template, dynamo: this.dynamo, dynamoFront: this.dynamoFront, iam: this.iam, runtime: this.runtime, versions: this.versions } = services);
    ({ stepFunctions: this.stepFunctions, bus: this.bus, streams: this.streams, sfnApi: this.sfnApi, sfn: this.sfn } = services);
    ({ secretsManager: this.secretsManager, lambdaApi: this.lambdaApi, bedrock: this.bedrock, lambdaStandIns: this.lambdaStandIns } = services);
    ({ stateMachineArn: this.stateMachineArn, stateMachineName: this.stateMachineName } = services.stepFunctions);
    this.startArn = this.publishFrom(this.template, this.stateMachineArn);
    this.addStandIns(options.config);
    // Runs start where the stack's API starts them: on the alias.
    if (this.runtime.aws) this.runtime.aws.stateMachineArn = this.startArn;
    this.control = createRunControl({ runs: this.runtime.runs, executions: sfnExecutions(this.startArn, this.sfn) });
  }

  /**
   * Starts the engine's services. `knobs` bend them for tests, replay and the bench (engine-options.ts); absent,
   * they behave as deployed.
   */
  static async start(options: EngineOptions, knobs: EngineKnobs = {}): Promise<LocalEngine> {
    return new LocalEngine(options, await startServices(options, knobs));
  }

  /** When the state machine was created (this engine's start). */
  get createdAt(): Date {
    return this.stepFunctions.createdAt;
  }

  /** Every execution of this engine process, by ARN. */
  get executions(): Map<string, LocalExecution> {
    return this.stepFunctions.executions;
  }

  /** The rules of the template deployed last (the event bus's). */
  get rules(): LocalRule[] {
    return this.bus.rules;
  }

  /** The latest revision's definition (what the unqualified state machine runs). */
  get definition(): Record<string, unknown> {
    return this.versions.latest.definition;
  }

  /** The latest revision's functions and Lambda versions, by ARN. */
  get functions(): Map<string, LocalFunction> {
    return this.versions.latest.functions;
  }

  /**
   * What CloudFormation does with the template's version and alias: publish a new version, move the alias. Returns
   * the ARN runs start on (`current` when the template publishes none).
   */
  private publishFrom(template: CfnTemplate, current: string): string {
    const spec = publishesVersion(template);
    if (!spec) return current;
    const version = this.versions.publish(spec.description);
    const alias = aliasOf(template);
    if (alias) this.versions.deployAlias(alias, version);
    const apiArn = functionsOf(template).find((f) => f.env.STATE_MACHINE_ARN)?.env.STATE_MACHINE_ARN;
    return apiArn ?? alias?.arn ?? this.stateMachineArn;
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
      const json = config ? JSON.stringify(handlerConfig(config)) : fn.env[CONFIG_ENV] ? configJsonOf(fn.env[CONFIG_ENV]) : JSON.stringify(handlerConfig(this.options.config));
      let rt = runtimes.get(json);
      if (!rt) {
        rt = this.services.makeRuntime(config ?? parseConfig(JSON.parse(json), `${fn.logicalId} environment`));
        rt.aws = this.runtime.aws;
        runtimes.set(json, rt);
      }
      return rt;
    };
    this.versions.latest = revisionOf(template, (fn) => deployedHandler(fn, runtimeOf(fn)));
    this.template = template;
    if (config) this.addStandIns(config);
    // The deploy updates the roles too (the new Lambda versions the machine's role may invoke, …).
    this.iam.model = iamModelOf(template);
    this.bus.deploy(template);
    this.streams.deploy(template);
    this.startArn = this.publishFrom(template, this.startArn);
    this.control = createRunControl({ runs: this.runtime.runs, executions: sfnExecutions(this.startArn, this.sfn) });
    // Shared by every runtime of the engine: the API handler starts runs where the template says.
    if (this.runtime.aws) this.runtime.aws.stateMachineArn = this.startArn;
  }

  /** The `lambda` tools of a config whose `localHandler` stands in for their function on the Lambda API. */
  private addStandIns(config: AgentConfig): void {
    for (const t of config.tools) if (t.kind === 'lambda' && t.localHandler) this.lambdaStandIns.set(t.functionArn, t.localHandler);
  }

  // The app's entry points (what the API and the CLI do), for tests and `agent run`

  /** Starts a run as POST /runs does (lambdas/core/start-run.ts) and waits for its execution to end. */
  async run(input: {
    input: string;
    userId?: string;
    budgets?: { maxSteps?: number; maxTokens?: number; maxCostUsd?: number };
    runId?: string;
    outputSchema?: OutputSpec;
  }): Promise<ExecutionResult> {
    const { runId } = await startRun(
      { runs: this.runtime.runs, control: this.control, budgets: this.options.config.budgets },
      { userId: input.userId ?? 'local', input: input.input, budgets: input.budgets, runId: input.runId, outputSchema: input.outputSchema },
    );
    return this.execute(runId, input.userId ?? 'local');
  }

  /**
   * Waits for the run's live execution; starts one (from the checkpoint) when it has none. A run whose recorded
   * execution belonged to a previous engine process gets that execution back (executions outlive a restart in AWS).
   */
  async execute(runId: string, userId: string): Promise<ExecutionResult> {
    const { running } = this.services;
    const live = running.get(runId);
    if (live) return this.resultOf(runId, live);
    let starting = this.starting.get(runId);
    if (!starting) {
      starting = (async () => {
        const run = await this.runtime.runs.getRun(runId);
        const again = running.get(runId);
        if (again) return again;
        const input = JSON.stringify({ runId, userId });
        const previous = run?.executionArn;
        const prefix = this.stepFunctions.executionArnPrefix;
        return previous && !this.executions.has(previous) && previous.startsWith(prefix)
          ? this.startExecution({ name: previous.slice(prefix.length), input, stateMachineArn: this.startArn })
          : this.startExecution({ name: this.stepFunctions.freeName(runId), input, stateMachineArn: this.startArn });
      })().finally(() => this.starting.delete(runId));
      this.starting.set(runId, starting);
    }
    return this.resultOf(runId, await starting);
  }

  /** Runs in flight. */
  get inFlight(): string[] {
    return [...this.services.running.keys()];
  }

  /**
   * Continues every run that was RUNNING when a previous engine process died (the on-disk engine behind npm start),
   * before the engine serves anything: each run is read again (one that is no longer RUNNING is left alone) and
   * gets its execution back, which loads its checkpoint. Returns the run ids.
   */
  async resumeInterrupted(): Promise<string[]> {
    const candidates = await this.runtime.runs.listRunsByStatus(['RUNNING']);
    await this.releaseDeadToolCalls(candidates.map((r) => r.runId));
    // Likewise the claim of the model call a dead invocation held (lambdas/core/steps/model-claim.ts): the next step's.
    for (const run of candidates) await this.runtime.modelClaims?.drop(run.runId, run.step + 1);
    const resumed: string[] = [];
    for (const { runId } of candidates) {
      if (this.services.running.has(runId)) continue;
      const run = await this.runtime.runs.getRun(runId);
      if (run?.status !== 'RUNNING') continue;
      await this.runtime.runs.appendEvent(runId, trace.engineRestarted({ step: run.step }));
      this.execute(runId, run.userId).catch(() => undefined);
      resumed.push(runId);
    }
    return resumed;
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

  private async resultOf(runId: string, execution: LocalExecution): Promise<ExecutionResult> {
    await execution.done;
    // The stream's consumers (the exporter) have seen the run's last writes before the result is reported.
    if (this.streams.busy()) await this.streams.idle();
    const run = await this.runtime.runs.getRun(runId);
    if (!run) throw new Error(`run ${runId} vanished`);
    const failed = execution.status === 'FAILED' || execution.status === 'TIMED_OUT';
    return {
      runId,
      run: runView(run),
      events: execution.events,
      historyEventCount: execution.historyEventCount,
      ...(failed ? { error: { name: execution.error ?? execution.status, message: execution.cause ?? '' } } : {}),
    };
  }

  // The services, as their APIs reach them (local/sfn-api.ts serves the Step Functions ones on the wire)

  /** StartExecution (local/step-functions.ts). */
  startExecution(input: { name?: string; input?: string; stateMachineArn?: string }): LocalExecution {
    return this.stepFunctions.startExecution(input);
  }

  /** StopExecution. */
  stopExecution(executionArn: string, error?: string, cause?: string): LocalExecution {
    return this.stepFunctions.stopExecution(executionArn, error, cause);
  }

  /** DescribeExecution. */
  describeExecution(executionArn: string): LocalExecution {
    return this.stepFunctions.describeExecution(executionArn);
  }

  /** SendTaskSuccess. */
  sendTaskSuccess(token: string, output: string): void {
    this.stepFunctions.sendTaskSuccess(token, output);
  }

  /** SendTaskFailure. */
  sendTaskFailure(token: string, error?: string, cause?: string): void {
    this.stepFunctions.sendTaskFailure(token, error, cause);
  }

  /** SendTaskHeartbeat. */
  sendTaskHeartbeat(token: string): void {
    this.stepFunctions.sendTaskHeartbeat(token);
  }

  /** Puts an event on the local default bus (local/event-bus.ts). */
  putEvent(event: BusEvent): Promise<void> {
    return this.bus.putEvent(event);
  }

  /** Invokes a template function's deployed handler (by logical id), as API Gateway does (local/api-gateway.ts). */
  invokeFunction(logicalId: string, event: unknown): Promise<unknown> {
    return invokeFunction(this.versions.latest, logicalId, event);
  }

  /** Settles when every stream record written so far has been delivered (or dropped). */
  streamIdle(): Promise<void> {
    return this.streams.idle();
  }

  /**
   * Executions are dropped with the process (their runs stay as the table has them and resume from the checkpoint
   * at the next start); nothing is published for them.
   */
  close(): Promise<void> {
    return this.services.close();
  }
}
