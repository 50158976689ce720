import type { RequestContext } from './conditions';

/** One authorization of a request: the action, the resources it is checked on, and its service context keys. */
export interface IamCheck {
  action: string;
  resources: string[];
  context: RequestContext;
}

/** The Step Functions actions whose requests carry `states:StateMachineQualifier` (Service Authorization Reference). */
const QUALIFIER_ACTIONS = new Set(['StartExecution', 'StartSyncExecution', 'DescribeStateMachine', 'ListExecutions']);

/**
 * A state machine ARN split as Step Functions authorizes it: a version or alias ARN
 * (`arn:aws:states:<region>:<account>:stateMachine:<name>:<qualifier>`) is authorized on the unqualified machine ARN,
 * with the qualifier (version number or alias name) in the context key `states:StateMachineQualifier` (Step Functions
 * Developer Guide, "Authorization for versions and aliases").
 */
export function splitQualifier(stateMachineArn: string): { arn: string; qualifier?: string } {
  const parts = stateMachineArn.split(':');
  if (parts.length !== 8 || parts[5] !== 'stateMachine') return { arn: stateMachineArn };
  return { arn: parts.slice(0, 7).join(':'), qualifier: parts[7] };
}

/**
 * The IAM check of one Step Functions API request (`X-Amz-Target: AWSStepFunctions.<Operation>`): the action is
 * `states:<Operation>`; the resource the execution the request names, or its state machine — unqualified, with
 * `states:StateMachineQualifier` (a multivalued key: `ArrayOfString`) when the request names a version or an alias.
 * SendTask* are checked on the state machine ARN (what CDK's grantTaskResponse grants on; see docs/local-vs-aws.md
 * for why, as the Service Authorization Reference lists no resource for them); ListStateMachines on `*`.
 */
export function sfnCheck(operation: string, body: Record<string, unknown>, stateMachineArn: string): IamCheck {
  const action = `states:${operation}`;
  if (operation === 'ListStateMachines') return { action, resources: ['*'], context: {} };
  if (operation.startsWith('SendTask')) return { action, resources: [stateMachineArn], context: {} };
  if (body.executionArn !== undefined) return { action, resources: [String(body.executionArn)], context: {} };
  const { arn, qualifier } = splitQualifier(String(body.stateMachineArn ?? stateMachineArn));
  const context: RequestContext = qualifier !== undefined && QUALIFIER_ACTIONS.has(operation) ? { 'states:StateMachineQualifier': [qualifier] } : {};
  return { action, resources: [arn], context };
}
