import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENDED_STATUSES, EXECUTION_STATUS_DETAIL_TYPE } from '../lambdas/core/execution-status';

export interface ExecutionStatusRuleProps {
  readonly stateMachine: sfn.IStateMachine;
  /** The execution-status handler (lambdas/handlers/execution-status.ts). */
  readonly handler: lambda.IFunction;
}

/**
 * The rule's match on `detail.stateMachineArn`: the machine's ARN exactly, or a qualified ARN of it (`<arn>:<alias>`,
 * `<arn>:<version>`; the colon keeps another machine whose name starts with this one's out). The documented event
 * carries the unqualified ARN with the alias and version in their own fields (`stateMachineAliasArn`,
 * `stateMachineVersionArn`), as DescribeExecution does; executions here start on the alias `live`, and a run whose
 * failure event went unmatched would stay RUNNING forever, so a qualified ARN is matched too (docs/local-vs-aws.md).
 */
export function stateMachineArnMatch(stateMachineArn: string): unknown[] {
  return [stateMachineArn, { prefix: `${stateMachineArn}:` }];
}

/**
 * EventBridge rule: "Step Functions Execution Status Change" of this state machine with status SUCCEEDED, FAILED,
 * TIMED_OUT or ABORTED → the handler that closes the run (the last three) and starts a thread's queued run (all). EventBridge retries a failed delivery (the handler is idempotent).
 */
export class ExecutionStatusRule extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: ExecutionStatusRuleProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'Rule', {
      description: 'Closes the run of an execution that failed, timed out or was stopped; starts a thread run queued behind it',
      eventPattern: {
        source: ['aws.states'],
        detailType: [EXECUTION_STATUS_DETAIL_TYPE],
        detail: { status: [...ENDED_STATUSES], stateMachineArn: stateMachineArnMatch(props.stateMachine.stateMachineArn) },
      },
    });
    this.rule.addTarget(new targets.LambdaFunction(props.handler, { retryAttempts: 8, maxEventAge: Duration.hours(24) }));
  }
}
