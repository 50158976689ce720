import { Duration, Fn, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { LAMBDA_CRASH_ERRORS, RETRYABLE_ERRORS } from '../lambdas/core/errors';
import { assertApprovalTimeout } from './timeouts';

/**
 * Lambda service errors worth retrying, and a crashed or timed-out function (every handler is idempotent); counted
 * in the same retrier as the taxonomy's transient errors.
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  ...LAMBDA_CRASH_ERRORS,
];

/** How long a paused run waits for resume before it surrenders (PAUSE_EXPIRED). */
export const PAUSE_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** Retry settings (CONTRACT.md `retry`): maxAttempts counts all attempts, the first included. */
export interface WorkflowRetry {
  readonly maxAttempts: number;
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  readonly maxDelaySeconds: number;
}

export interface AgentWorkflowProps {
  readonly loadRun: lambda.IFunction;
  readonly callModel: lambda.IFunction;
  readonly callTool: lambda.IFunction;
  readonly finalize: lambda.IFunction;
  /** Stores the task token of a paused run (the Pause state waits for it). */
  readonly pause: lambda.IFunction;
  /**
   * Approval-required tools (lambdas/core/approvals.ts): the AwaitApproval task's Lambda and its timeout (the
   * approval timeout). Absent when no tool needs approval: the machine then has no AwaitApproval state.
   */
  readonly approval?: { readonly handler: lambda.IFunction; readonly timeoutSeconds: number };
  /** Task TimeoutSeconds of each task (each above its Lambda's timeout). */
  readonly timeouts: { readonly model: number; readonly tool: number; readonly bookkeeping: number };
  readonly retry: WorkflowRetry;
  /** Whether a fallback model is configured (CallFallbackModel exists). */
  readonly hasFallbackModel: boolean;
  /**
   * How many tool calls of one step run at once.
   * @default 4
   */
  readonly toolConcurrency?: number;
  /**
   * The machine's TimeoutSeconds: above the longest wait it contains plus the worst-case loop
   * (lib/timeouts.ts deriveExecutionTimeout); synth refuses one at or below the Pause task's timeout.
   */
  readonly executionTimeoutSeconds: number;
}

/**
 * The agent loop as a Standard state machine (DESIGN §3). Small state in the payload; the loop counter is
 * computed in CallModel's Parameters and checked against the step budget by Route every iteration; model calls
 * retry transient errors only, with exponential backoff and full jitter, then fall back, then degrade.
 */
export class AgentWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AgentWorkflowProps) {
    super(scope, id);
    const { retry } = props;
    const seconds = (s: number) => sfn.Timeout.duration(Duration.seconds(s));
    const transientRetry: sfn.RetryProps = {
      errors: [...RETRYABLE_ERRORS, ...LAMBDA_SERVICE_ERRORS],
      interval: Duration.seconds(retry.intervalSeconds),
      maxAttempts: retry.maxAttempts - 1,
      backoffRate: retry.backoffRate,
      maxDelay: Duration.seconds(retry.maxDelaySeconds),
      jitterStrategy: sfn.JitterType.FULL,
    };
    const serviceRetry: sfn.RetryProps = { ...transientRetry, errors: LAMBDA_SERVICE_ERRORS };
    const invoke = (name: string, fn: lambda.IFunction, payload: Record<string, unknown> | sfn.TaskInput, timeout: number, extra: Partial<tasks.LambdaInvokeProps> = {}) =>
      new tasks.LambdaInvoke(this, name, {
        lambdaFunction: fn,
        payload: payload instanceof sfn.TaskInput ? payload : sfn.TaskInput.fromObject(payload),
        retryOnServiceExceptions: false,
        taskTimeout: seconds(timeout),
        outputPath: '$.Payload',
        ...extra,
      });
    const finalizer = (name: string, outcome: string) =>
      invoke(name, props.finalize, { state: sfn.JsonPath.entirePayload, outcome }, props.timeouts.bookkeeping).addRetry(serviceRetry);

    // Exits: one finalize Lambda, four named states so the diagram and the history say how each run ended.
    const finish = finalizer('Finish', 'FINISH');
    const surrender = finalizer('Surrender', 'SURRENDER');
    const degrade = finalizer('Degrade', 'DEGRADE');
    const refused = finalizer('Refused', 'REFUSED');
    const stopBecause = (name: string, reason: string) =>
      new sfn.Pass(this, name, { result: sfn.Result.fromString(reason), resultPath: '$.stopReason' }).next(surrender);
    const repetition = stopBecause('RepetitionDetected', 'REPETITION');
    const stepBudget = stopBecause('StepBudgetExhausted', 'STEP_BUDGET');
    const tokenBudget = stopBecause('TokenBudgetExhausted', 'TOKEN_BUDGET');

    const modelPayload = (tier: string, withError: boolean) => ({
      state: sfn.JsonPath.entirePayload,
      step: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.step'), 1),
      tier,
      ...(withError ? { error: sfn.JsonPath.objectAt('$.error') } : {}),
    });
    const callModel = invoke('CallModel', props.callModel, modelPayload('primary', false), props.timeouts.model);
    callModel.addRetry(transientRetry);
    callModel.addCatch(refused, { errors: ['ModelRefusal'], resultPath: '$.error' });
    callModel.addCatch(tokenBudget, { errors: ['BudgetExceeded'], resultPath: '$.error' });

    const route = new sfn.Choice(this, 'Route', { comment: 'final answer, next model call, repeated call, step budget, pause, one tool or many' });
    if (props.hasFallbackModel) {
      const callFallback = invoke('CallFallbackModel', props.callModel, modelPayload('fallback', true), props.timeouts.model);
      callFallback.addRetry(transientRetry);
      callFallback.addCatch(refused, { errors: ['ModelRefusal'], resultPath: '$.error' });
      callFallback.addCatch(tokenBudget, { errors: ['BudgetExceeded'], resultPath: '$.error' });
      callFallback.addCatch(degrade, { errors: ['States.ALL'], resultPath: '$.error' });
      callModel.addCatch(callFallback, { errors: ['States.ALL'], resultPath: '$.error' });
      callFallback.next(route);
    } else {
      callModel.addCatch(degrade, { errors: ['States.ALL'], resultPath: '$.error' });
    }
    callModel.next(route);

    // Tools: one call goes straight to CallTool (fewer billed transitions); several go through the Map.
    const toolTask = (name: string, payload: Record<string, unknown>) =>
      invoke(name, props.callTool, payload, props.timeouts.tool, { resultPath: sfn.JsonPath.DISCARD, outputPath: undefined }).addRetry(transientRetry);
    const single = { runId: sfn.JsonPath.stringAt('$.runId'), step: sfn.JsonPath.numberAt('$.step'), toolCallId: sfn.JsonPath.stringAt('$.toolCalls[0].id') };
    const callTool = toolTask('CallTool', single);
    const recordToolFailure = toolTask('RecordToolFailure', { ...single, failure: sfn.JsonPath.objectAt('$.toolError') });
    callTool.addCatch(recordToolFailure, { errors: ['States.ALL'], resultPath: '$.toolError' });
    recordToolFailure.addCatch(degrade, { errors: ['States.ALL'], resultPath: '$.error' });
    callTool.next(callModel);
    recordToolFailure.next(callModel);

    const item = { runId: sfn.JsonPath.stringAt('$.runId'), step: sfn.JsonPath.numberAt('$.step'), toolCallId: sfn.JsonPath.stringAt('$.toolCallId') };
    const callToolInMap = toolTask('CallToolInMap', item);
    const recordInMap = toolTask('RecordToolFailureInMap', { ...item, failure: sfn.JsonPath.objectAt('$.toolError') });
    callToolInMap.addCatch(recordInMap, { errors: ['States.ALL'], resultPath: '$.toolError' });
    const runTools = new sfn.Map(this, 'RunTools', {
      itemsPath: '$.toolCalls',
      maxConcurrency: props.toolConcurrency ?? 4,
      itemSelector: {
        runId: sfn.JsonPath.stringAt('$.runId'),
        step: sfn.JsonPath.numberAt('$.step'),
        toolCallId: sfn.JsonPath.stringAt('$$.Map.Item.Value.id'),
      },
      resultPath: sfn.JsonPath.DISCARD,
    });
    runTools.itemProcessor(callToolInMap);
    runTools.addCatch(degrade, { errors: ['States.ALL'], resultPath: '$.error' });
    runTools.next(callModel);

    // Pause: at the tool-call boundary (the step's tool calls are checkpointed as pending), the execution waits for
    // its task token; resume sends `false` back into $.pauseRequested and Route goes on with the tools.
    const pauseExpired = stopBecause('PauseExpired', 'PAUSE_EXPIRED');
    // A run finalized from outside (CANCELLED, KILLED, FAILED) while its execution still ran: every step re-reads
    // the status first and does no work; the loop leaves here without finalizing over that status.
    const stopped = new sfn.Succeed(this, 'Stopped', { comment: 'the run was already final (cancelled, killed): no more work' });

    const pause = new tasks.LambdaInvoke(this, 'Pause', {
      lambdaFunction: props.pause,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({ state: sfn.JsonPath.entirePayload, taskToken: sfn.JsonPath.taskToken }),
      resultPath: '$.pauseRequested',
      taskTimeout: seconds(PAUSE_TIMEOUT_SECONDS),
      retryOnServiceExceptions: false,
    });
    pause.addRetry(serviceRetry);
    pause.addCatch(stopped, { errors: ['RunStopped'], resultPath: '$.error' });
    pause.addCatch(pauseExpired, { errors: ['States.ALL'], resultPath: '$.error' });
    pause.next(route);

    route
      .when(sfn.Condition.stringEquals('$.outcome', 'stopped'), stopped)
      .when(sfn.Condition.stringEquals('$.outcome', 'final'), finish)
      .when(sfn.Condition.stringEquals('$.outcome', 'start'), callModel)
      .when(sfn.Condition.stringEqualsJsonPath('$.callSig', '$.prevCallSig'), repetition)
      .when(sfn.Condition.numberGreaterThanEqualsJsonPath('$.step', '$.maxSteps'), stepBudget)
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.pauseRequested'), sfn.Condition.booleanEquals('$.pauseRequested', true)), pause);
    if (props.approval) {
      // Approvals: the step's approval-required calls are recorded with the task token (run AWAITING_APPROVAL); the
      // last decision sends `false` back into $.approvalRequired and Route goes on with the tools. Past the approval
      // timeout the run surrenders (APPROVAL_EXPIRED).
      const approvalExpired = stopBecause('ApprovalExpired', 'APPROVAL_EXPIRED');
      const awaitApproval = new tasks.LambdaInvoke(this, 'AwaitApproval', {
        lambdaFunction: props.approval.handler,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: sfn.TaskInput.fromObject({ state: { runId: sfn.JsonPath.stringAt('$.runId'), step: sfn.JsonPath.numberAt('$.step') }, taskToken: sfn.JsonPath.taskToken }),
        resultPath: '$.approvalRequired',
        taskTimeout: seconds(props.approval.timeoutSeconds),
        retryOnServiceExceptions: false,
      });
      awaitApproval.addRetry(serviceRetry);
      awaitApproval.addCatch(approvalExpired, { errors: ['States.Timeout'], resultPath: '$.error' });
      awaitApproval.next(route);
      route.when(sfn.Condition.and(sfn.Condition.isPresent('$.approvalRequired'), sfn.Condition.booleanEquals('$.approvalRequired', true)), awaitApproval);
    }
    route
      .when(sfn.Condition.numberEquals('$.toolCount', 1), callTool)
      .otherwise(runTools);

    // LoadRun rebuilds the loop state from the checkpoint: a new run goes to CallModel, a resumed one to wherever
    // its checkpoint says (pending tool calls, the next model call, or its final answer).
    const loadRun = invoke('LoadRun', props.loadRun, sfn.TaskInput.fromJsonPathAt('$'), props.timeouts.bookkeeping);
    loadRun.addRetry(serviceRetry);
    loadRun.next(route);

    // The execution must outlive its longest wait, or PauseExpired could never fire (checked again at synth).
    this.node.addValidation({
      validate: () =>
        props.executionTimeoutSeconds > PAUSE_TIMEOUT_SECONDS
          ? []
          : [`the state machine timeout (${props.executionTimeoutSeconds} s) must be above the Pause task's timeout (${PAUSE_TIMEOUT_SECONDS} s)`],
    });
    this.node.addValidation({
      validate: () => {
        if (!props.approval) return [];
        try {
          assertApprovalTimeout(props.approval.timeoutSeconds, props.executionTimeoutSeconds);
          return [];
        } catch (err) {
          return [(err as Error).message];
        }
      },
    });

    // Under /aws/vendedlogs/states/, as AWS recommends for Step Functions logging: CloudWatch Logs then needs no resource
    // policy entry per log group, so an account with many logging state machines stays under the policy's size limit.
    // The stack's id makes the name unique to this stack's life (a retained group never blocks a redeploy).
    const stack = Stack.of(this);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: Fn.join('', ['/aws/vendedlogs/states/', stack.stackName, '-', Fn.select(2, Fn.split('/', stack.stackId))]),
      retention: logs.RetentionDays.ONE_MONTH,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(loadRun),
      stateMachineType: sfn.StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.seconds(props.executionTimeoutSeconds),
      comment: 'Hardened LLM agent loop: budgets, retries with jitter, fallback, degradation, checkpoints',
    });
  }
}
