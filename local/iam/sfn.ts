/**
 * The IAM check of one Step Functions API request (`X-Amz-Target: AWSStepFunctions.<Operation>`): the action is
 * `states:<Operation>`, the resource the state machine or execution the request names. SendTask* are checked on the
 * state machine ARN (what CDK's grantTaskResponse grants); ListStateMachines on `*`.
 */
export function sfnCheck(operation: string, body: Record<string, unknown>, stateMachineArn: string): [string, string[]] {
  const action = `states:${operation}`;
  if (operation === 'ListStateMachines') return [action, ['*']];
  if (operation.startsWith('SendTask')) return [action, [stateMachineArn]];
  if (body.executionArn !== undefined) return [action, [String(body.executionArn)]];
  return [action, [String(body.stateMachineArn ?? stateMachineArn)]];
}
