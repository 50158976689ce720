import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { LAMBDA_CRASH_ERRORS, RETRYABLE_ERRORS } from '../lambdas/core/errors';
import type { Outcome } from '../lambdas/core/steps/finalize';
import type { StopReason } from '../lambdas/core/types';
import { assertApprovalTimeout } from './timeouts';

/**
 * The step builders both engine shapes are synthesized from (docs/architecture.md, docs/hybrid.md): the model call
 * with its fallback, Route (the guardrail choice), the tool calls, the wait states. The standard machine wires them
 * into one Standard loop; the hybrid one puts the model/tool loop in an Express segment and the waits in the parent.
 */

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

/**
 * The execution must outlive its longest wait, or PauseExpired (and an approval's expiry) could never fire: checked
 * at synth, for either engine shape.
 */
export function validateWaits(scope: Construct, executionTimeoutSeconds: number, approvalTimeoutSeconds?: number): void {
  scope.node.addValidation({
    validate: () =>
      executionTimeoutSeconds > PAUSE_TIMEOUT_SECONDS
        ? []
        : [`the state machine timeout (${executionTimeoutSeconds} s) must be above the Pause task's timeout (${PAUSE_TIMEOUT_SECONDS} s)`],
  });
  scope.node.addValidation({
    validate: () => {
      if (approvalTimeoutSeconds === undefined) return [];
      try {
        assertApprovalTimeout(approvalTimeoutSeconds, executionTimeoutSeconds);
        return [];
      } catch (err) {
        return [(err as Error).message];
      }
    },
  });
}

/** Retry settings (docs/config.md `retry`): maxAttempts counts all attempts, the first included. */
export interface WorkflowRetry {
  readonly maxAttempts: number;
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  readonly maxDelaySeconds: number;
}

/** What the step builders need: the Lambdas (their versions), the timeouts and the retry policy. */
export interface StepProps {
  readonly callModel: lambda.IFunction;
  readonly callTool: lambda.IFunction;
  readonly finalize: lambda.IFunction;
  readonly pause: lambda.IFunction;
  readonly approval?: { readonly handler: lambda.IFunction; readonly timeoutSeconds: number };
  readonly timeouts: { readonly model: number; readonly tool: number; readonly bookkeeping: number };
  readonly retry: WorkflowRetry;
  readonly hasFallbackModel: boolean;
  readonly toolConcurrency?: number;
}

/** Task helpers bound to one scope (state names are construct ids: unique within a machine). */
export class StepKit {
  readonly transientRetry: sfn.RetryProps;
  readonly serviceRetry: sfn.RetryProps;

  constructor(
    readonly scope: Construct,
    readonly props: StepProps,
  ) {
    const { retry } = props;
    this.transientRetry = {
      errors: [...RETRYABLE_ERRORS, ...LAMBDA_SERVICE_ERRORS],
      interval: Duration.seconds(retry.intervalSeconds),
      maxAttempts: retry.maxAttempts - 1,
      backoffRate: retry.backoffRate,
      maxDelay: Duration.seconds(retry.maxDelaySeconds),
      jitterStrategy: sfn.JitterType.FULL,
    };
    this.serviceRetry = { ...this.transientRetry, errors: LAMBDA_SERVICE_ERRORS };
  }

  seconds(s: number): sfn.Timeout {
    return sfn.Timeout.duration(Duration.seconds(s));
  }

  invoke(name: string, fn: lambda.IFunction, payload: Record<string, unknown> | sfn.TaskInput, timeout: number, extra: Partial<tasks.LambdaInvokeProps> = {}): tasks.LambdaInvoke {
    return new tasks.LambdaInvoke(this.scope, name, {
      lambdaFunction: fn,
      payload: payload instanceof sfn.TaskInput ? payload : sfn.TaskInput.fromObject(payload),
      retryOnServiceExceptions: false,
      taskTimeout: this.seconds(timeout),
      outputPath: '$.Payload',
      ...extra,
    });
  }

  /** One finalize Lambda, one named state per ending, so the diagram and the history say how each run ended. */
  finalizer(name: string, outcome: Outcome): tasks.LambdaInvoke {
    const task = this.invoke(name, this.props.finalize, { state: sfn.JsonPath.entirePayload, outcome }, this.props.timeouts.bookkeeping);
    task.addRetry(this.serviceRetry);
    return task;
  }

  /**
   * The run's endings, the same in either engine shape: Finish / Surrender / Degrade / Refused (the finalize Lambda),
   * and Stopped for a run finalized from outside (CANCELLED, KILLED, FAILED) while its execution still ran — every
   * step re-reads the status first and does no work; the loop leaves there without finalizing over that status.
   */
  endings(): { finish: tasks.LambdaInvoke; surrender: tasks.LambdaInvoke; degrade: tasks.LambdaInvoke; refused: tasks.LambdaInvoke; stopped: sfn.Succeed } {
    return {
      finish: this.finalizer('Finish', 'FINISH'),
      surrender: this.finalizer('Surrender', 'SURRENDER'),
      degrade: this.finalizer('Degrade', 'DEGRADE'),
      refused: this.finalizer('Refused', 'REFUSED'),
      stopped: new sfn.Succeed(this.scope, 'Stopped', { comment: 'the run was already final (cancelled, killed): no more work' }),
    };
  }

  /** A Pass that records why the run stops (`$.stopReason`) and goes on to `next` (Surrender). */
  stopBecause(name: string, reason: StopReason, next: sfn.IChainable): sfn.Pass {
    const pass = new sfn.Pass(this.scope, name, { result: sfn.Result.fromString(reason), resultPath: '$.stopReason' });
    pass.next(next);
    return pass;
  }

  /**
   * Pause: the execution waits for its task token; resume sends `false` back into $.pauseRequested. A run stopped
   * meanwhile throws RunStopped (→ `stopped`); past PAUSE_TIMEOUT_SECONDS → `expired`.
   */
  pauseTask(stopped: sfn.IChainable, expired: sfn.IChainable): tasks.LambdaInvoke {
    const pause = new tasks.LambdaInvoke(this.scope, 'Pause', {
      lambdaFunction: this.props.pause,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({ state: sfn.JsonPath.entirePayload, taskToken: sfn.JsonPath.taskToken }),
      resultPath: '$.pauseRequested',
      taskTimeout: this.seconds(PAUSE_TIMEOUT_SECONDS),
      retryOnServiceExceptions: false,
    });
    pause.addRetry(this.serviceRetry);
    pause.addCatch(stopped, { errors: ['RunStopped'], resultPath: '$.error' });
    pause.addCatch(expired, { errors: ['States.ALL'], resultPath: '$.error' });
    return pause;
  }

  /**
   * Approvals: the step's approval-required calls are recorded with the task token (run AWAITING_APPROVAL); the last
   * decision sends `false` back into $.approvalRequired. Past the approval timeout → `expired`.
   */
  approvalTask(expired: () => sfn.IChainable): tasks.LambdaInvoke | undefined {
    const approval = this.props.approval;
    if (!approval) return undefined;
    const task = new tasks.LambdaInvoke(this.scope, 'AwaitApproval', {
      lambdaFunction: approval.handler,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({ state: { runId: sfn.JsonPath.stringAt('$.runId'), step: sfn.JsonPath.numberAt('$.step') }, taskToken: sfn.JsonPath.taskToken }),
      resultPath: '$.approvalRequired',
      taskTimeout: this.seconds(approval.timeoutSeconds),
      retryOnServiceExceptions: false,
    });
    task.addRetry(this.serviceRetry);
    task.addCatch(expired(), { errors: ['States.Timeout'], resultPath: '$.error' });
    return task;
  }
}

/** Where the loop leaves to: the endings, and the waits (states of this machine, or exits to a parent). */
export interface LoopExits {
  readonly finish: sfn.IChainable;
  readonly surrender: sfn.IChainable;
  readonly degrade: sfn.IChainable;
  readonly refused: sfn.IChainable;
  readonly stopped: sfn.IChainable;
  readonly pause: sfn.IChainable;
  /** Absent when no tool needs approval: Route then has no approval rule. */
  readonly approval?: sfn.IChainable;
  /** A rule checked after the waits, before the tools (the hybrid segment's step budget). */
  readonly beforeTools?: { readonly condition: sfn.Condition; readonly next: sfn.IChainable };
}

/**
 * The model/tool loop: CallModel (→ CallFallbackModel → Degrade), Route, CallTool / RunTools back to CallModel.
 * Returns Route, the loop's entry (a new or resumed run enters there: its `outcome` says where it goes on).
 * `modelExtras` are added to both model calls' payloads (the hybrid segment's clock).
 */
export function loopStates(kit: StepKit, exits: LoopExits, modelExtras: Record<string, unknown> = {}): sfn.Choice {
  const { scope, props } = kit;
  // Every budget (tokens, dollars, the daily caps, the context window) lands here: the finalizer reads which one from
  // the caught BudgetExceeded error (budgetReasonOf); TOKEN_BUDGET stands only for an error whose reason cannot be read.
  const budgetExhausted = kit.stopBecause('BudgetExhausted', 'TOKEN_BUDGET', exits.surrender);
  const modelPayload = (tier: string, withError: boolean) => ({
    state: sfn.JsonPath.entirePayload,
    step: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.step'), 1),
    tier,
    ...(withError ? { error: sfn.JsonPath.objectAt('$.error') } : {}),
    ...modelExtras,
  });
  const callModel = kit.invoke('CallModel', props.callModel, modelPayload('primary', false), props.timeouts.model);
  callModel.addRetry(kit.transientRetry);
  callModel.addCatch(exits.refused, { errors: ['ModelRefusal'], resultPath: '$.error' });
  callModel.addCatch(budgetExhausted, { errors: ['BudgetExceeded'], resultPath: '$.error' });

  const route = new sfn.Choice(scope, 'Route', { comment: 'final answer, next model call, repeated call, step budget, pause, one tool or many' });
  if (props.hasFallbackModel) {
    const callFallback = kit.invoke('CallFallbackModel', props.callModel, modelPayload('fallback', true), props.timeouts.model);
    callFallback.addRetry(kit.transientRetry);
    callFallback.addCatch(exits.refused, { errors: ['ModelRefusal'], resultPath: '$.error' });
    callFallback.addCatch(budgetExhausted, { errors: ['BudgetExceeded'], resultPath: '$.error' });
    callFallback.addCatch(exits.degrade, { errors: ['States.ALL'], resultPath: '$.error' });
    callModel.addCatch(callFallback, { errors: ['States.ALL'], resultPath: '$.error' });
    callFallback.next(route);
  } else {
    callModel.addCatch(exits.degrade, { errors: ['States.ALL'], resultPath: '$.error' });
  }
  callModel.next(route);

  // Tools: one call goes straight to CallTool (fewer billed transitions); several go through the Map.
  const toolTask = (name: string, payload: Record<string, unknown>) =>
    kit.invoke(name, props.callTool, payload, props.timeouts.tool, { resultPath: sfn.JsonPath.DISCARD, outputPath: undefined }).addRetry(kit.transientRetry);
  const single = { runId: sfn.JsonPath.stringAt('$.runId'), step: sfn.JsonPath.numberAt('$.step'), toolCallId: sfn.JsonPath.stringAt('$.toolCalls[0].id') };
  const callTool = toolTask('CallTool', single);
  const recordToolFailure = toolTask('RecordToolFailure', { ...single, failure: sfn.JsonPath.objectAt('$.toolError') });
  callTool.addCatch(recordToolFailure, { errors: ['States.ALL'], resultPath: '$.toolError' });
  recordToolFailure.addCatch(exits.degrade, { errors: ['States.ALL'], resultPath: '$.error' });
  callTool.next(callModel);
  recordToolFailure.next(callModel);

  const item = { runId: sfn.JsonPath.stringAt('$.runId'), step: sfn.JsonPath.numberAt('$.step'), toolCallId: sfn.JsonPath.stringAt('$.toolCallId') };
  const callToolInMap = toolTask('CallToolInMap', item);
  const recordInMap = toolTask('RecordToolFailureInMap', { ...item, failure: sfn.JsonPath.objectAt('$.toolError') });
  callToolInMap.addCatch(recordInMap, { errors: ['States.ALL'], resultPath: '$.toolError' });
  const runTools = new sfn.Map(scope, 'RunTools', {
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
  runTools.addCatch(exits.degrade, { errors: ['States.ALL'], resultPath: '$.error' });
  runTools.next(callModel);

  route
    .when(sfn.Condition.stringEquals('$.outcome', 'stopped'), exits.stopped)
    .when(sfn.Condition.stringEquals('$.outcome', 'final'), exits.finish)
    .when(sfn.Condition.stringEquals('$.outcome', 'start'), callModel)
    .when(sfn.Condition.stringEqualsJsonPath('$.callSig', '$.prevCallSig'), kit.stopBecause('RepetitionDetected', 'REPETITION', exits.surrender))
    .when(sfn.Condition.numberGreaterThanEqualsJsonPath('$.step', '$.maxSteps'), kit.stopBecause('StepBudgetExhausted', 'STEP_BUDGET', exits.surrender))
    .when(sfn.Condition.and(sfn.Condition.isPresent('$.pauseRequested'), sfn.Condition.booleanEquals('$.pauseRequested', true)), exits.pause);
  if (exits.approval) {
    route.when(sfn.Condition.and(sfn.Condition.isPresent('$.approvalRequired'), sfn.Condition.booleanEquals('$.approvalRequired', true)), exits.approval);
  }
  if (exits.beforeTools) route.when(exits.beforeTools.condition, exits.beforeTools.next);
  route.when(sfn.Condition.numberEquals('$.toolCount', 1), callTool).otherwise(runTools);
  return route;
}
