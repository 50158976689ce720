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
      ['BudgetExceeded', 'TokenBudgetExhausted'],
      ['States.ALL', 'CallFallbackModel'],
    ]);
    expect(catches('CallFallbackModel')).toEqual([
      ['ModelRefusal', 'Refused'],
      ['BudgetExceeded', 'TokenBudgetExhausted'],
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
      const logicalId = fnArn.split(':').at(-1) as string;
      const lambdaTimeout = fns[logicalId]?.Properties.Timeout as number;
      expect(state.TimeoutSeconds as number).toBeGreaterThan(lambdaTimeout);
    }
    // The model Lambda outlives the slowest model client timeout (20 s).
    expect(fns[(states.CallModel!.Parameters.FunctionName as string).split(':').at(-1) as string]?.Properties.Timeout).toBeGreaterThan(20);
  });

  it('keeps the state small: the payload carries ids and counters, never the conversation', () => {
    expect(states.CallModel?.OutputPath).toBe('$.Payload');
    expect(states.CallTool?.ResultPath).toBeNull();
    expect(states.RunTools).toMatchObject({ Type: 'Map', ItemsPath: '$.toolCalls', ResultPath: null, MaxConcurrency: 4 });
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
      templateFor(parseConfig({ models: { primary: { provider: 'openai', model: 'gpt-x', apiKeySecret: 'agent/openai-key' } } })),
    );
    const policies = withSecret.findResources('AWS::IAM::Policy');
    const granting = Object.entries(policies).filter(([, p]) => JSON.stringify(p).includes('secretsmanager:GetSecretValue'));
    expect(granting).toHaveLength(1);
    expect(granting[0]?.[0]).toMatch(/^CallModelFunction/);
    expect(JSON.stringify(granting[0]?.[1])).toContain('secret:agent/openai-key');
  });
});
