import { Match, Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../lib/config';
import { allStates } from '../../local/engine';
import { definitionOf } from '../../local/template';
import { templateFor } from '../helpers/engine';

const config = parseConfig({
  models: { primary: { provider: 'demo', model: 'default', timeoutMs: 20000 }, fallback: { provider: 'demo', model: 'default', timeoutMs: 15000 } },
  retry: { maxAttempts: 3, intervalSeconds: 2, backoffRate: 2, maxDelaySeconds: 20 },
});
const cfn = templateFor(config);
const template = Template.fromJSON(cfn);
const definition = definitionOf(cfn);
const states = Object.fromEntries(allStates(definition)) as Record<string, Record<string, any>>;

describe('the agent workflow (synthesized)', () => {
  it('retries model calls on transient errors only, with backoff, full jitter and a delay cap', () => {
    const retry = states.CallModel!.Retry;
    expect(retry).toEqual([
      {
        ErrorEquals: expect.arrayContaining(['TransientError', 'RateLimited', 'TimeoutError', 'Lambda.ServiceException']),
        IntervalSeconds: 2,
        MaxAttempts: 2,
        BackoffRate: 2,
        MaxDelaySeconds: 20,
        JitterStrategy: 'FULL',
      },
    ]);
    const retried = retry[0].ErrorEquals as string[];
    for (const never of ['BadRequest', 'ModelRefusal', 'QuotaExhausted', 'CircuitOpen', 'BudgetExceeded', 'RetryAfterTooLong', 'States.ALL', 'States.TaskFailed']) {
      expect(retried).not.toContain(never);
    }
  });

  it('catches refusals, budget stops and everything else into the right paths', () => {
    const catches = (name: string) => (states[name]!.Catch as { ErrorEquals: string[]; Next: string }[]).map((c) => [c.ErrorEquals.join(','), c.Next]);
    expect(catches('CallModel')).toEqual([
      ['ModelRefusal', 'Refused'],
      ['BudgetExceeded', 'BudgetExhausted'],
      ['States.ALL', 'CallFallbackModel'],
    ]);
    expect(catches('CallFallbackModel')).toEqual([
      ['ModelRefusal', 'Refused'],
      ['BudgetExceeded', 'BudgetExhausted'],
      ['States.ALL', 'Degrade'],
    ]);
    expect(catches('CallTool')).toEqual([['States.ALL', 'RecordToolFailure']]);
    expect(catches('CallToolInMap')).toEqual([['States.ALL', 'RecordToolFailureInMap']]);
  });

  it('leaves the loop at Stopped, without finalizing, when a step finds the run already final', () => {
    expect(states.Stopped).toMatchObject({ Type: 'Succeed' });
    const choices = states.Route?.Choices as Record<string, unknown>[];
    expect(choices[0]).toEqual({ Variable: '$.outcome', StringEquals: 'stopped', Next: 'Stopped' });
    const pauseCatch = (states.Pause!.Catch as { ErrorEquals: string[]; Next: string }[]).map((c) => [c.ErrorEquals.join(','), c.Next]);
    expect(pauseCatch).toEqual([
      ['RunStopped', 'Stopped'],
      ['States.ALL', 'PauseExpired'],
    ]);
    // RunStopped and ResponseTooLarge are never retried.
    for (const name of ['CallModel', 'CallTool', 'Pause']) {
      for (const r of (states[name]!.Retry ?? []) as { ErrorEquals: string[] }[]) expect(r.ErrorEquals).not.toEqual(expect.arrayContaining(['RunStopped']));
    }
    expect((states.CallModel!.Retry[0].ErrorEquals as string[]).includes('ResponseTooLarge')).toBe(false);
  });

  it('checks the loop counter against the step budget and the repetition signature on every iteration', () => {
    expect(states.CallModel?.Parameters.Payload['step.$']).toBe('States.MathAdd($.step, 1)');
    const choices = states.Route?.Choices as Record<string, unknown>[];
    expect(choices).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Variable: '$.step', NumericGreaterThanEqualsPath: '$.maxSteps', Next: 'StepBudgetExhausted' }),
        expect.objectContaining({ Variable: '$.callSig', StringEqualsPath: '$.prevCallSig', Next: 'RepetitionDetected' }),
      ]),
    );
    expect(states.StepBudgetExhausted).toMatchObject({ Result: 'STEP_BUDGET', ResultPath: '$.stopReason', Next: 'Surrender' });
  });

  it('bounds every Task with TimeoutSeconds above its Lambda timeout', () => {
    const fns = template.findResources('AWS::Lambda::Function');
    const tasks = allStates(definition).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThanOrEqual(9);
    for (const [name, state] of tasks) {
      expect({ name, timeout: typeof state.TimeoutSeconds }).toEqual({ name, timeout: 'number' });
      const fnArn = (state.Parameters as { FunctionName: string }).FunctionName;
      // arn:aws:lambda:<region>:<account>:function:<logical id>:<version>
      const logicalId = fnArn.split(':')[6] as string;
      const lambdaTimeout = fns[logicalId]?.Properties.Timeout as number;
      expect(state.TimeoutSeconds as number).toBeGreaterThan(lambdaTimeout);
    }
    // The model Lambda outlives the slowest model client timeout (20 s).
    expect(fns[(states.CallModel!.Parameters.FunctionName as string).split(':')[6] as string]?.Properties.Timeout).toBeGreaterThan(20);
  });

  it('keeps the state small: the payload carries ids and counters, never the conversation', () => {
    expect(states.CallModel?.OutputPath).toBe('$.Payload');
    expect(states.CallTool?.ResultPath).toBeNull();
    expect(states.RunTools).toMatchObject({ Type: 'Map', ItemsPath: '$.toolCalls', ResultPath: null, MaxConcurrency: 4 });
  });

  it('invokes published Lambda versions (retained when replaced), never $LATEST', () => {
    const versions = template.findResources('AWS::Lambda::Version');
    for (const [name, state] of allStates(definition).filter(([, s]) => s.Type === 'Task')) {
      expect({ name, fn: (state.Parameters as { FunctionName: string }).FunctionName }).toEqual({ name, fn: expect.stringMatching(/:function:[A-Za-z0-9]+:\d+$/) });
    }
    expect(Object.keys(versions)).toHaveLength(5);
    for (const v of Object.values(versions)) expect(v).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('publishes a version of each definition (replaced when the revision changes, old ones kept) behind the alias live, on which the API starts runs', () => {
    const machineId = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0] as string;
    const [versionId, version] = Object.entries(template.findResources('AWS::StepFunctions::StateMachineVersion'))[0] as [string, Record<string, unknown>];
    expect(version).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        StateMachineArn: { Ref: machineId },
        StateMachineRevisionId: { 'Fn::GetAtt': [machineId, 'StateMachineRevisionId'] },
        Description: expect.stringMatching(/^definition sha256:[0-9a-f]{16}$/),
      },
    });
    const [aliasId, alias] = Object.entries(template.findResources('AWS::StepFunctions::StateMachineAlias'))[0] as [string, { Properties: Record<string, unknown> }];
    expect(alias.Properties).toMatchObject({ Name: 'live', RoutingConfiguration: [{ StateMachineVersionArn: { Ref: versionId }, Weight: 100 }] });
    const api = Object.entries(cfn.Resources).find(
      ([, r]) => (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.HANDLER_NAME === 'api',
    );
    expect((api?.[1].Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.STATE_MACHINE_ARN).toEqual({ Ref: aliasId });
    // Step Functions authorizes StartExecution on an alias against the unqualified machine, the alias in the
    // multivalued key states:StateMachineQualifier: the grant names the machine and the alias `live` only.
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'states:StartExecution',
            Resource: { Ref: machineId },
            Condition: { 'ForAnyValue:StringEquals': { 'states:StateMachineQualifier': ['live'] } },
          }),
        ]),
      },
    });
    const startGrants = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
      [(p as { Properties: { PolicyDocument: { Statement: unknown } } }).Properties.PolicyDocument.Statement]
        .flat()
        .filter((st) => [(st as { Action: unknown }).Action].flat().includes('states:StartExecution')),
    );
    // The API's and the execution-status handler's (it starts a thread's queued run), both on `live` only.
    expect(startGrants).toHaveLength(2);
    for (const grant of startGrants)
      expect(grant).toMatchObject({ Resource: { Ref: machineId }, Condition: { 'ForAnyValue:StringEquals': { 'states:StateMachineQualifier': ['live'] } } });
  });

  it('is a Standard machine with its own log group and X-Ray tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL' }),
    });
  });

  it('runs handlers on NODEJS_22_X, ARM_64', () => {
    template.allResourcesProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Architectures: ['arm64'] });
  });
});

describe('the store', () => {
  it('is on-demand, with PITR, retained, with the user index', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byUser' })],
      }),
    });
  });
});

describe('model API keys', () => {
  it('grants the model handler read on the configured secret, and nothing else does', () => {
    const withSecret = Template.fromJSON(
      templateFor(parseConfig({ models: { primary: { provider: 'openai', model: 'gpt-x', contextWindowTokens: 128_000, apiKeySecret: 'agent/openai-key' } } })),
    );
    const policies = withSecret.findResources('AWS::IAM::Policy');
    const granting = Object.entries(policies).filter(([, p]) => JSON.stringify(p).includes('secretsmanager:GetSecretValue'));
    expect(granting).toHaveLength(1);
    expect(granting[0]?.[0]).toMatch(/^CallModelFunction/);
    expect(JSON.stringify(granting[0]?.[1])).toContain('secret:agent/openai-key');
  });

  it("routes every end (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) of this machine's executions to the run-closing, thread-advancing handler", () => {
    const machineId = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0] as string;
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: machineId }, { prefix: { 'Fn::Join': ['', [{ Ref: machineId }, ':']] } }] },
      },
      Targets: [Match.objectLike({ RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 8 }) })],
    });
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0] as { Properties: { Targets: { Arn: { 'Fn::GetAtt': [string, string] } }[] } };
    const target = cfn.Resources[rule.Properties.Targets[0]?.Arn['Fn::GetAtt'][0] as string];
    expect((target?.Properties?.Environment as { Variables?: Record<string, string> } | undefined)?.Variables?.HANDLER_NAME).toBe('execution-status');
  });
});

describe('the AwaitApproval state (only when a tool needs approval)', () => {
  const withApproval = definitionOf(templateFor(parseConfig({ toolApprovals: { calculator: 'required' }, approvalTimeoutSeconds: 7200 })));
  const approvalStates = Object.fromEntries(allStates(withApproval)) as Record<string, Record<string, any>>;

  it('is absent from a machine without approval-required tools', () => {
    expect(states.AwaitApproval).toBeUndefined();
    expect(states.ApprovalExpired).toBeUndefined();
  });

  it('waits on a task token for approvalTimeoutSeconds; expiry surrenders with APPROVAL_EXPIRED; a decision goes back to Route', () => {
    const task = approvalStates.AwaitApproval!;
    expect(task.Resource).toMatch(/waitForTaskToken$/);
    expect(task.TimeoutSeconds).toBe(7200);
    expect(task.Parameters.Payload).toEqual({ state: { 'runId.$': '$.runId', 'step.$': '$.step' }, 'taskToken.$': '$$.Task.Token' });
    expect(task.ResultPath).toBe('$.approvalRequired');
    expect(task.Next).toBe('Route');
    expect(task.Catch).toEqual([{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'ApprovalExpired' }]);
    expect(approvalStates.ApprovalExpired).toMatchObject({ Type: 'Pass', Result: 'APPROVAL_EXPIRED', ResultPath: '$.stopReason', Next: 'Surrender' });
    expect(withApproval.TimeoutSeconds).toBeGreaterThan(20 * 7200);
  });

  it('Route checks the budgets, repetition and pause before approval, and approval before the tools run', () => {
    const choices = (approvalStates.Route!.Choices as { Next: string }[]).map((c) => c.Next);
    expect(choices.indexOf('Pause')).toBeLessThan(choices.indexOf('AwaitApproval'));
    expect(choices.indexOf('StepBudgetExhausted')).toBeLessThan(choices.indexOf('AwaitApproval'));
    expect(choices.indexOf('AwaitApproval')).toBeLessThan(choices.indexOf('CallTool'));
  });
});
