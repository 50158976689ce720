import { App, Stack } from 'aws-cdk-lib';
import { CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { CfnFunction, CfnVersion } from 'aws-cdk-lib/aws-lambda';
import { CfnStateMachine, CfnStateMachineAlias, CfnStateMachineVersion } from 'aws-cdk-lib/aws-stepfunctions';
import { AgentStack } from '../../../lib/agent-stack';
import { CONFIG_ENV, parseConfig } from '../../../lib/config';
import { acknowledgeFindings, applyChecks } from '../../../lib/nag';
import { AgentReadinessChecks } from '../../../lib/nag/agent-readiness';
import { TEMPLATE_ONLY_APP_PROPS } from '../../../local/template';

const RETRY = { ErrorEquals: ['TransientError', 'RateLimited', 'TimeoutError'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 2, JitterStrategy: 'FULL' };

/** A minimal agent stack in raw CloudFormation, compliant unless `breaking` changes one thing. */
function stack(
  breaking: { config?: unknown; pitr?: boolean; logs?: boolean; task?: Record<string, unknown>; choice?: boolean; version?: boolean; alias?: 'none' | 'elsewhere'; unpinned?: boolean } = {},
) {
  const app = new App(TEMPLATE_ONLY_APP_PROPS);
  const s = new Stack(app, 'S');
  const config = breaking.config ?? parseConfig({});
  new CfnFunction(s, 'CallModelFn', {
    role: 'arn:aws:iam::1:role/r',
    code: { zipFile: 'x' },
    runtime: 'nodejs22.x',
    handler: 'index.handler',
    timeout: 30,
    environment: { variables: { [CONFIG_ENV]: JSON.stringify(config), HANDLER_NAME: 'call-model' } },
  });
  new CfnVersion(s, 'CallModelFnVersion', { functionName: 'CallModelFn' }).overrideLogicalId('CallModelFnVersion');
  new CfnTable(s, 'Table', {
    keySchema: [{ attributeName: 'pk', keyType: 'HASH' }],
    attributeDefinitions: [{ attributeName: 'pk', attributeType: 'S' }],
    billingMode: 'PAY_PER_REQUEST',
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: breaking.pitr ?? true },
  });
  const task = {
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: { FunctionName: breaking.unpinned ? 'CallModelFn' : 'CallModelFnVersion', Payload: {} },
    TimeoutSeconds: 45,
    Retry: [RETRY],
    Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Degrade' }],
    Next: 'Route',
    ...breaking.task,
  };
  const definition = {
    StartAt: 'CallModel',
    States: {
      CallModel: task,
      Route: { Type: 'Choice', Choices: breaking.choice === false ? [] : [{ Variable: '$.step', NumericGreaterThanEqualsPath: '$.maxSteps', Next: 'Degrade' }], Default: 'CallModel' },
      Degrade: { Type: 'Succeed' },
    },
  };
  const machine = new CfnStateMachine(s, 'Machine', {
    roleArn: 'arn:aws:iam::1:role/r',
    definitionString: JSON.stringify(definition),
    loggingConfiguration: breaking.logs === false ? undefined : { level: 'ALL', destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: 'arn:aws:logs:x' } }] },
    tracingConfiguration: { enabled: breaking.logs !== false },
  });
  if (breaking.version !== false) {
    const version = new CfnStateMachineVersion(s, 'Version', { stateMachineArn: machine.ref, stateMachineRevisionId: machine.attrStateMachineRevisionId });
    const target = breaking.alias === 'elsewhere' ? 'arn:aws:states:us-east-1:1:stateMachine:Other:1' : version.ref;
    if (breaking.alias !== 'none') new CfnStateMachineAlias(s, 'Alias', { name: 'live', routingConfiguration: [{ stateMachineVersionArn: target, weight: 100 }] });
  }
  return s;
}

const findings = (s: Stack) =>
  new AgentReadinessChecks()
    .validateScope(s)
    .violations.map((v) => v.ruleName)
    .sort();

describe('agent readiness rules', () => {
  it('pass on a compliant stack', () => expect(findings(stack())).toEqual([]));

  it.each([
    ['Budgets', { config: { models: {}, breaker: { enabled: true } } }],
    ['BreakerAndFallback', { config: parseConfig({ breaker: { enabled: false } }) }],
    ['CheckpointPITR', { pitr: false }],
    ['LogsAndTraces', { logs: false }],
    ['TaskTimeouts', { task: { TimeoutSeconds: undefined } }],
    ['TaskTimeouts', { task: { TimeoutSeconds: 20 } }],
    ['TransientRetryOnly', { task: { Retry: [{ ...RETRY, ErrorEquals: ['States.ALL'] }] } }],
    ['TransientRetryOnly', { task: { Retry: [{ ...RETRY, ErrorEquals: ['BadRequest'] }] } }],
    ['TransientRetryOnly', { task: { Retry: [{ ...RETRY, JitterStrategy: 'NONE' }] } }],
    ['TransientRetryOnly', { task: { Retry: [{ ...RETRY, MaxAttempts: 9 }] } }],
    ['DegradationCatch', { task: { Catch: [] } }],
    ['StepBudgetInDefinition', { choice: false }],
    ['VersionAndAlias', { version: false }],
    ['VersionAndAlias', { alias: 'none' }],
    ['VersionAndAlias', { alias: 'elsewhere' }],
    ['PinnedLambdaVersions', { unpinned: true }],
  ] as const)('%s fires on a stack built to break it', (rule, breaking) => {
    expect(findings(stack(breaking as Parameters<typeof stack>[0]))).toContain(`AgentReadiness-${rule}`);
  });
});

describe('the real stack', () => {
  it('synthesizes with zero unacknowledged AwsSolutions or agent readiness findings', () => {
    const app = new App(TEMPLATE_ONLY_APP_PROPS);
    const s = new AgentStack(app, 'AgentStack', { config: parseConfig({ tools: [{ name: 'retrieve', kind: 'retriever', url: 'https://search.example.com/q' }] }) });
    applyChecks(app);
    acknowledgeFindings(s);
    expect(() => app.synth()).not.toThrow();
  });

  it('synthesizes a canary deploy (alias with a gradual deployment) with zero findings too', () => {
    const app = new App(TEMPLATE_ONLY_APP_PROPS);
    const s = new AgentStack(app, 'AgentStack', { config: parseConfig({ deploy: { canary: { percent: 10, minutes: 15 } } }) });
    applyChecks(app);
    acknowledgeFindings(s);
    expect(() => app.synth()).not.toThrow();
  });

  it('synthesizes Bedrock models (a cross-region inference profile: its model in every region) with zero findings too', () => {
    const app = new App(TEMPLATE_ONLY_APP_PROPS);
    const models = { primary: { provider: 'bedrock' as const, model: 'us.anthropic.claude-3-haiku-20240307-v1:0' }, fallback: { provider: 'bedrock' as const, model: 'amazon.nova-lite-v1:0', region: 'us-east-1' } };
    const s = new AgentStack(app, 'AgentStack', { config: parseConfig({ models }) });
    applyChecks(app);
    acknowledgeFindings(s);
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth on an unacknowledged finding', () => {
    const app = new App(TEMPLATE_ONLY_APP_PROPS);
    new AgentStack(app, 'AgentStack', { config: parseConfig({}) });
    applyChecks(app);
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM4/);
  });
});
