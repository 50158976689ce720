import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { CLOSING_STATUSES, EXECUTION_STATUS_DETAIL_TYPE } from '../lambdas/core/execution-status';

export interface ExecutionStatusRuleProps {
  readonly stateMachine: sfn.IStateMachine;
  /** The execution-status handler (lambdas/handlers/execution-status.ts). */
  readonly handler: lambda.IFunction;
}

/**
 * EventBridge rule: "Step Functions Execution Status Change" of this state machine with status FAILED, TIMED_OUT
 * or ABORTED → the handler that closes the run. EventBridge retries a failed delivery (the handler is idempotent).
 */
export class ExecutionStatusRule extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: ExecutionStatusRuleProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'Rule', {
      description: 'Closes the run of an execution that failed, timed out or was stopped',
      eventPattern: {
        source: ['aws.states'],
        detailType: [EXECUTION_STATUS_DETAIL_TYPE],
        detail: { status: [...CLOSING_STATUSES], stateMachineArn: [props.stateMachine.stateMachineArn] },
      },
    });
    this.rule.addTarget(new targets.LambdaFunction(props.handler, { retryAttempts: 8, maxEventAge: Duration.hours(24) }));
  }
}
