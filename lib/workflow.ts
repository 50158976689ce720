import { Duration, Fn, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { loopStates, StepKit, type StepProps, validateWaits } from './loop-states';

export { LAMBDA_SERVICE_ERRORS, PAUSE_TIMEOUT_SECONDS, type WorkflowRetry } from './loop-states';

export interface AgentWorkflowProps extends StepProps {
  readonly loadRun: lambda.IFunction;
  /**
   * The machine's TimeoutSeconds: above the longest wait it contains plus the worst-case loop
   * (lib/timeouts.ts deriveExecutionTimeout); synth refuses one at or below the Pause task's timeout.
   */
  readonly executionTimeoutSeconds: number;
}

/**
 * The agent loop as a Standard state machine (docs/architecture.md). Small state in the payload; the loop counter is
 * computed in CallModel's Parameters and checked against the step budget by Route every iteration; model calls
 * retry transient errors only, with exponential backoff and full jitter, then fall back, then degrade.
 */
export class AgentWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AgentWorkflowProps) {
    super(scope, id);
    const kit = new StepKit(this, props);
    const { finish, surrender, degrade, refused, stopped } = kit.endings();

    // Pause: at the tool-call boundary (the step's tool calls are checkpointed as pending), the execution waits for
    // its task token; resume sends `false` back into $.pauseRequested and Route goes on with the tools.
    const pause = kit.pauseTask(stopped, kit.stopBecause('PauseExpired', 'PAUSE_EXPIRED', surrender));
    // Approvals: the last decision sends `false` back into $.approvalRequired and Route goes on with the tools. Past
    // the approval timeout the run surrenders (APPROVAL_EXPIRED).
    const approval = kit.approvalTask(() => kit.stopBecause('ApprovalExpired', 'APPROVAL_EXPIRED', surrender));
    const route = loopStates(kit, { finish, surrender, degrade, refused, stopped, pause, approval });
    pause.next(route);
    approval?.next(route);

    // LoadRun rebuilds the loop state from the checkpoint: a new run goes to CallModel, a resumed one to wherever
    // its checkpoint says (pending tool calls, the next model call, or its final answer).
    const loadRun = kit.invoke('LoadRun', props.loadRun, sfn.TaskInput.fromJsonPathAt('$'), props.timeouts.bookkeeping);
    loadRun.addRetry(kit.serviceRetry);
    loadRun.next(route);

    // The execution must outlive its longest wait, or PauseExpired could never fire (checked again at synth).
    validateWaits(this, props.executionTimeoutSeconds, props.approval?.timeoutSeconds);

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
