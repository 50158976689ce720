import { type App, type CfnElement, Token, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { AgentStack } from '../agent-stack';
import { HybridWorkflow } from '../hybrid-workflow';
import { AgentReadinessChecks, ALARMS_NOTIFY_RULE } from './agent-readiness';

/** Adds the checks that fail `cdk synth`: cdk-nag AwsSolutions and the agent readiness rules. */
export function applyChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new AgentReadinessChecks(app));
}

/**
 * The AwsSolutions findings this stack accepts, each with the reason it holds. Everything else fails synth.
 */
export const ACKNOWLEDGEMENTS: { id: string; reason: string }[] = [
  {
    id: 'AwsSolutions::AwsSolutions-IAM4',
    reason:
      'AWSLambdaBasicExecutionRole (log delivery for the functions) and AmazonAPIGatewayPushToCloudWatchLogs (API Gateway account logging) are the AWS-maintained minimal policies for exactly those services.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM5',
    reason:
      'Wildcards come only from CDK L2 grants: X-Ray PutTraceSegments/PutTelemetryRecords (no resource-level permissions exist), the table’s own GSIs (<table>/index/*), Lambda versions of our own functions (<fn>:*) invoked by the state machine, executions of our own state machine (execution:<machine>:*) stopped by the API on cancel, and the configured Bedrock model in every region (bedrock:*::foundation-model/<model>) that a cross-region inference profile of it routes to.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-L1',
    reason:
      'Pinned to NODEJS_22_X on purpose: the runtime the dependencies (Powertools 2, middy 6) and the offline engine are tested against; runtime upgrades are deliberate changes.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-APIG2',
    reason:
      'Bodies are validated in the API Lambda with the shared zod schema (lambdas/api/routes.ts), so API Gateway and the local server refuse the same inputs with the same messages, and nothing is written for a rejected request.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-APIG3',
    reason: 'Stage throttling (api.throttle) bounds abuse; a WAF web ACL is an account-level choice the operator attaches to the stage.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-APIG4',
    reason:
      'Only GET / and GET /config are open: the static trace viewer page (no data in it) and the public sign-in settings (pool id, the public client’s id, region, managed login domain; nothing secret); every data route has the Cognito authorizer.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-COG4',
    reason:
      'Only GET / (the static trace viewer page) and GET /config (public sign-in settings) have no authorizer; every data route has the Cognito authorizer, or with api.auth "apiKeys" / "both" the Lambda REQUEST authorizer (API keys, and Cognito ID tokens with "both": docs/auth.md).',
  },
  {
    id: 'AwsSolutions::AwsSolutions-COG2',
    reason: 'Users are provisioned by the operator (self sign-up is off); MFA policy is the operator’s, or use an existing pool with api.userPoolId.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-COG8',
    reason: 'The Plus feature plan (threat protection) is a priced choice left to the operator; an existing pool can be used with api.userPoolId.',
  },
];

/** Acknowledges the accepted findings on the stack: the rules above, and each IAM finding by its exact id. */
export function acknowledgeFindings(stack: AgentStack): void {
  const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
  // cdk-nag renders pseudo parameters as <AWS::X>, or as literals when the stack's environment is known.
  const known = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<${pseudo}>` : value);
  const partition = Token.isUnresolved(stack.region) ? '<AWS::Partition>' : 'aws';
  const iam4 = ACKNOWLEDGEMENTS.find((a) => a.id.endsWith('IAM4'))!.reason;
  const iam5 = ACKNOWLEDGEMENTS.find((a) => a.id.endsWith('IAM5'))!.reason;
  const findings = [
    { id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: iam4 },
    { id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]', reason: iam4 },
    { id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]', reason: iam5 },
    { id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${id(stack.store.table)}.Arn>/index/*]`, reason: iam5 },
    ...stack.functions.map((f) => ({ id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${id(f)}.Arn>:*]`, reason: iam5 })),
    {
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:${partition}:states:${known(stack.region, 'AWS::Region')}:${known(stack.account, 'AWS::AccountId')}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${id(stack.workflow.stateMachine)}"}]}]}:*]`,
      reason: iam5,
    },
    // The hybrid engine's parent describes and stops its Express segments' executions (startExecution.sync:2).
    ...(stack.workflow instanceof HybridWorkflow
      ? ['execution', 'express'].map((kind) => ({
          id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:${partition}:states:${known(stack.region, 'AWS::Region')}:${known(stack.account, 'AWS::AccountId')}:${kind}:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${id((stack.workflow as HybridWorkflow).segmentMachine)}"}]}]}:*]`,
          reason: iam5,
        }))
      : []),
    // A cross-region inference profile's model, in every region the profile routes to (lib/bedrock.ts).
    ...stack.bedrockModelArns
      .filter((arn) => arn.includes(':bedrock:*:'))
      .map((arn) => ({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${arn.replace(/^arn:[^:]+:/, `arn:${Token.isUnresolved(arn.split(':')[1] ?? '') ? partition : 'aws'}:`)}]`,
        reason: iam5,
      })),
  ];
  // Alarms that notify nobody, when the config says why that is fine (observability.monitoring.alarmsNotifyNobody).
  const silentAlarms = stack.alarmsNotifyNobody ? [{ id: ALARMS_NOTIFY_RULE, reason: stack.alarmsNotifyNobody }] : [];
  for (const a of [...ACKNOWLEDGEMENTS, ...findings, ...silentAlarms]) Validations.of(stack).acknowledge(a);
  if (stack.workflow instanceof HybridWorkflow) {
    Validations.of(stack.workflow.segmentMachine).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SF1',
      reason:
        'The Express segment logs errors only: Express logs are billed by the GB ingested, every step of a run is in the trace (the table) and the parent logs ALL events with their data (docs/hybrid.md).',
    });
  }
}
