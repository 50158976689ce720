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
  breaking: {
    config?: unknown;
    pitr?: boolean;
    logs?: boolean;
    task?: Record<string, unknown>;
    choice?: boolean;
    version?: boolean;
    alias?: 'none' | 'elsewhere';
    unpinned?: boolean;
  } = {},
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
      Route: {
        Type: 'Choice',
        Choices: breaking.choice === false ? [] : [{ Variable: '$.step', NumericGreaterThanEqualsPath: '$.maxSteps', Next: 'Degrade' }],
        Default: 'CallModel',
      },
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
    // With an alarm email: the new SNS topic passes the AwsSolutions rules too.
    const config = parseConfig({
      tools: [{ name: 'retrieve', kind: 'retriever', url: 'https://search.example.com/q' }],
      observability: { monitoring: { alarmEmail: 'oncall@example.com' } },
    });
    const s = new AgentStack(app, 'AgentStack', { config });
    applyChecks(app);
    acknowledgeFindings(s);
    expect(() => app.synth()).not.toThrow();
  });

  it('synthesizes a canary deploy (alias with a gradual deployment) with zero findings too', () => {
    const app = new App(TEMPLATE_ONLY_APP_PROPS);
    // Alarms that notify nobody, acknowledged in the config with the reason.
    const config = parseConfig({ deploy: { canary: { percent: 10, minutes: 15 } }, observability: { monitoring: { alarmsNotifyNobody: 'a test stack: nobody is on call' } } });
    const s = new AgentStack(app, 'AgentStack', { config });
    applyChecks(app);
    acknowledgeFindings(s);
    expect(() => app.synth()).not.toThrow();
  });

  it('synthesizes Bedrock models (a cross-region inference profile: its model in every region) with zero findings too', () => {
    const app = new App(TEMPLATE_ONLY_APP_PROPS);
    const models = {
      primary: { provider: 'bedrock' as const, model: 'us.anthropic.claude-3-haiku-20240307-v1:0' },
      fallback: { provider: 'bedrock' as const, model: 'amazon.nova-lite-v1:0', region: 'us-east-1' },
    };
    const s = new AgentStack(app, 'AgentStack', { config: parseConfig({ models, observability: { monitoring: { alarmEmail: 'oncall@example.com' } } }) });
    applyChecks(app);
    acknowledgeFindings(s);
    expect(() => app.synth()).not.toThrow();
  });

  it('synthesizes the hybrid engine (Express segments under a Standard parent) with zero findings too', () => {
    const app = new App(TEMPLATE_ONLY_APP_PROPS);
    const s = new AgentStack(app, 'AgentStack', {
      config: parseConfig({ engine: 'hybrid', toolApprovals: { calculator: 'required' }, observability: { monitoring: { alarmEmail: 'oncall@example.com' } } }),
    });
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

  it('fails synth when the alarms notify nobody, saying how to route them or acknowledge it', () => {
    const app = new App(TEMPLATE_ONLY_APP_PROPS);
    const s = new AgentStack(app, 'AgentStack', { config: parseConfig({}) });
    applyChecks(app);
    acknowledgeFindings(s);
    let message = '';
    try {
      app.synth();
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/The stack's CloudWatch alarms notify nobody: set observability\.monitoring\.alarmEmail and\/or alarmTopicArn .*alarmsNotifyNobody/);
    // One finding for the stack (one setting fixes every alarm), an error rather than a warning.
    expect(message.match(/AlarmsNotify/g)).toHaveLength(1);
    expect(message).toMatch(/ERROR The stack's CloudWatch alarms/);
  });
});

/**
 * Two copies of the stack in one account and region (`-c stackName=AgentA` and `AgentB`), synthesized side by side
 * with the checks on: everything each one watches is its own, neither sets the region's API Gateway account, and what
 * `cdk destroy` keeps follows deploy.removal. Here with the readiness checks, whose CDK is already loaded.
 */
describe('two stacks in one account and region', () => {
  const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:oncall';
  const app = new App(TEMPLATE_ONLY_APP_PROPS);
  const a = new AgentStack(app, 'AgentA', { config: parseConfig({ observability: { monitoring: { alarmEmail: 'oncall@example.com' } } }) });
  const b = new AgentStack(app, 'AgentB', { config: parseConfig({ observability: { monitoring: { alarmTopicArn: TOPIC } }, deploy: { removal: 'destroy' } }) });
  applyChecks(app);
  acknowledgeFindings(a);
  acknowledgeFindings(b);
  const assembly = app.synth();
  const templateOf = (name: string) =>
    assembly.getStackByName(name).template as { Resources: Record<string, { Type: string; Properties?: any; DeletionPolicy?: string; UpdateReplacePolicy?: string }> };
  const [ta, tb] = [templateOf('AgentA'), templateOf('AgentB')];
  const ofType = (t: typeof ta, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);

  /** Every metric an alarm of the template watches: namespace, name and dimensions. */
  const watched = (t: typeof ta) =>
    ofType(t, 'AWS::CloudWatch::Alarm').flatMap(([, r]) => {
      const p = r.Properties;
      const single = p.MetricName ? [{ Namespace: p.Namespace, MetricName: p.MetricName, Dimensions: p.Dimensions ?? [] }] : [];
      const math = ((p.Metrics ?? []) as { MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: unknown[] } } }[]).flatMap((m) =>
        m.MetricStat ? [{ ...m.MetricStat.Metric, Dimensions: m.MetricStat.Metric.Dimensions ?? [] }] : [],
      );
      return [...single, ...math] as { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] }[];
    });

  it('synthesizes both with the checks on', () => {
    expect(ofType(ta, 'AWS::CloudWatch::Alarm').length).toBeGreaterThan(5);
    expect(ofType(tb, 'AWS::CloudWatch::Alarm').length).toBe(ofType(ta, 'AWS::CloudWatch::Alarm').length);
  });

  it('no alarm of one watches a metric of the other: each metric is pinned to its own stack by name or by its own resource', () => {
    for (const [name, t] of [
      ['AgentA', ta],
      ['AgentB', tb],
    ] as const) {
      const metrics = watched(t);
      expect(metrics.length).toBeGreaterThan(5);
      for (const m of metrics) {
        const own = m.Dimensions.some((d) => d.Value === name || (typeof d.Value === 'object' && d.Value !== null && ((d.Value as { Ref?: string }).Ref ?? '') in t.Resources));
        expect({ metric: `${m.Namespace}/${m.MetricName}`, own }).toEqual({ metric: `${m.Namespace}/${m.MetricName}`, own: true });
      }
      // The runtime's own metrics: the dimensions its handlers emit (lambdas/runtime/base.ts), with this stack's name.
      const custom = metrics.filter((m) => m.Namespace === 'Agent');
      expect(custom.length).toBeGreaterThan(2);
      for (const m of custom)
        expect(m.Dimensions).toEqual(
          expect.arrayContaining([
            { Name: 'Stack', Value: name },
            { Name: 'service', Value: 'agent' },
          ]),
        );
      for (const m of custom) expect(m.Dimensions).toHaveLength(2);
      // The handlers get that name to emit.
      for (const [, fn] of ofType(t, 'AWS::Lambda::Function')) expect(fn.Properties.Environment.Variables.AGENT_STACK_NAME).toBe(name);
      // The 4XX alarm reads this stack's API by its name, which is the stack's.
      expect(metrics.find((m) => m.MetricName === '4XXError')?.Dimensions).toEqual([{ Name: 'ApiName', Value: name }]);
      expect(ofType(t, 'AWS::ApiGateway::RestApi')[0]?.[1].Properties.Name).toBe(name);
    }
  });

  it('neither sets the region-wide API Gateway account (nor makes its CloudWatch role)', () => {
    for (const t of [ta, tb]) {
      expect(ofType(t, 'AWS::ApiGateway::Account')).toEqual([]);
      const roles = ofType(t, 'AWS::IAM::Role').map(([, r]) => JSON.stringify(r.Properties.ManagedPolicyArns ?? []));
      expect(roles.some((r) => r.includes('AmazonAPIGatewayPushToCloudWatchLogs'))).toBe(false);
    }
  });

  it('every alarm notifies the topic on ALARM and OK: a new topic with the email subscribed, or the existing one', () => {
    const [[topicId]] = ofType(ta, 'AWS::SNS::Topic') as [[string, unknown]];
    expect(ofType(ta, 'AWS::SNS::Subscription').map(([, r]) => r.Properties)).toEqual([{ Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: { Ref: topicId } }]);
    for (const [, alarm] of ofType(ta, 'AWS::CloudWatch::Alarm')) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
    expect(ofType(tb, 'AWS::SNS::Topic')).toEqual([]);
    for (const [, alarm] of ofType(tb, 'AWS::CloudWatch::Alarm')) {
      expect(alarm.Properties.AlarmActions).toEqual([TOPIC]);
      expect(alarm.Properties.OKActions).toEqual([TOPIC]);
    }
  });

  it('retain (default) keeps the tables, the user pool and every log group; destroy keeps nothing, versions included', () => {
    for (const type of ['AWS::DynamoDB::Table', 'AWS::Cognito::UserPool', 'AWS::Logs::LogGroup']) {
      const found = ofType(ta, type);
      expect(found.length).toBeGreaterThan(0);
      for (const [id, r] of found) expect({ id, policy: r.DeletionPolicy }).toEqual({ id, policy: 'Retain' });
    }
    expect(ofType(tb, 'AWS::Lambda::Version').length).toBeGreaterThan(0);
    expect(ofType(tb, 'AWS::StepFunctions::StateMachineVersion').length).toBe(1);
    const kept = Object.entries(tb.Resources).filter(([, r]) => [r.DeletionPolicy, r.UpdateReplacePolicy].some((p) => p?.startsWith('Retain')));
    expect(kept.map(([id, r]) => `${id} (${r.Type})`)).toEqual([]);
  });

  it('logs the state machine under /aws/vendedlogs/states/, named for the stack', () => {
    const machine = ofType(ta, 'AWS::StepFunctions::StateMachine')[0]?.[1];
    const groupId = machine?.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
    const name = ta.Resources[groupId]?.Properties.LogGroupName;
    expect(name['Fn::Join'][1][0]).toBe('/aws/vendedlogs/states/AgentA-');
  });
});
