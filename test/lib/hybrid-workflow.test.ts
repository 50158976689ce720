import { Match, Template } from 'aws-cdk-lib/assertions';
import { ConfigError, parseConfig } from '../../lib/config';
import { expressProblems, SEGMENT_TIMEOUT_SECONDS } from '../../lib/hybrid-workflow';
import { allStates } from '../../local/executions';
import { definitionOf, expressMachinesOf } from '../../local/template';
import { templateFor } from '../helpers/engine';

/** The hybrid engine as synthesized (docs/hybrid.md), against the standard one of the same config. */
const base = { toolApprovals: { calculator: 'required' as const } };
const hybridCfn = templateFor(parseConfig({ ...base, engine: 'hybrid' }));
const standardCfn = templateFor(parseConfig(base));
const parent = Object.fromEntries(allStates(definitionOf(hybridCfn))) as Record<string, Record<string, any>>;
const [segment] = expressMachinesOf(hybridCfn);
const inner = Object.fromEntries(allStates(segment?.definition ?? {})) as Record<string, Record<string, any>>;
const standard = Object.fromEntries(allStates(definitionOf(standardCfn))) as Record<string, Record<string, any>>;

describe('config: engine', () => {
  it('defaults to standard, and names what is allowed otherwise', () => {
    expect(parseConfig({}).engine).toBe('standard');
    expect(parseConfig({}).hybrid.segmentSteps).toBe(10);
    expect(() => parseConfig({ engine: 'express' })).toThrow(ConfigError);
    expect(() => parseConfig({ engine: 'express' })).toThrow(/engine: must be "standard" .* or "hybrid"/);
    expect(() => parseConfig({ engine: 'hybrid', hybrid: { segmentSteps: 0 } })).toThrow(/hybrid\.segmentSteps/);
  });
});

describe('the hybrid engine (synthesized)', () => {
  it('is a Standard parent and one Express segment machine, its timeout under Express’s 5 minutes', () => {
    const machines = Object.values(hybridCfn.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    expect(machines.map((m) => m.Properties?.StateMachineType ?? 'STANDARD').sort()).toEqual(['EXPRESS', 'STANDARD']);
    expect(segment?.definition.TimeoutSeconds).toBe(SEGMENT_TIMEOUT_SECONDS);
    expect(SEGMENT_TIMEOUT_SECONDS).toBeLessThan(300);
  });

  it('the parent loads the run, then starts segments with startExecution.sync:2 on the segment’s published version', () => {
    expect(definitionOf(hybridCfn).StartAt).toBe('LoadRun');
    expect(parent.LoadRun?.Next).toBe('RunSegment');
    expect(parent.RunSegment).toMatchObject({
      Resource: 'arn:aws:states:::states:startExecution.sync:2',
      Parameters: { StateMachineArn: segment?.versionArns[0], Input: { 'state.$': '$', segment: { 'segmentEnd.$': 'States.MathAdd($.step, 10)' } } },
      OutputPath: '$.Output',
    });
    expect(segment?.versionArns).toHaveLength(1);
    // Routes on how the segment ended: the endings, the waits (task tokens stay in the parent), or the next segment.
    const choices = ((parent.AfterSegment?.Choices ?? []) as { StringEquals?: string; Next: string }[]).map((c) => [c.StringEquals ?? 'step budget', c.Next]);
    expect(choices).toEqual([
      ['STOPPED', 'Stopped'],
      ['FINISH', 'Finish'],
      ['SURRENDER', 'Surrender'],
      ['DEGRADE', 'Degrade'],
      ['REFUSED', 'Refused'],
      ['step budget', 'StepBudgetExhausted'],
      ['PAUSE', 'Pause'],
      ['APPROVAL', 'AwaitApproval'],
    ]);
    expect(parent.AfterSegment?.Default).toBe('RunSegment');
    expect(parent.Pause?.Next).toBe('RunSegment');
    expect(parent.AwaitApproval?.Next).toBe('RunSegment');
    expect(Object.keys(parent)).not.toContain('CallModel');
  });

  it('the segment is the standard loop’s own states, its endings exits to the parent, no task token in it', () => {
    for (const name of ['CallModel', 'CallTool', 'RecordToolFailure', 'RunTools']) {
      const { Next: _a, Catch: _b, ...same } = inner[name] ?? {};
      const { Next: _c, Catch: _d, ...expected } = standard[name] ?? {};
      expect({ name, ...same }).toEqual({ name, ...expected });
    }
    const route = (states: Record<string, Record<string, any>>) => ((states.Route?.Choices ?? []) as { Next: string }[]).map((c) => c.Next);
    expect(route(standard)).toEqual(['Stopped', 'Finish', 'CallModel', 'RepetitionDetected', 'StepBudgetExhausted', 'Pause', 'AwaitApproval', 'CallTool']);
    expect(route(inner)).toEqual(['ExitStopped', 'ExitFinish', 'CallModel', 'RepetitionDetected', 'StepBudgetExhausted', 'ExitPause', 'ExitApproval', 'ExitNext', 'CallTool']);
    expect(inner.ExitNext).toMatchObject({ Type: 'Pass', Result: 'NEXT', ResultPath: '$.exit', End: true });
    expect(JSON.stringify(segment?.definition)).not.toMatch(/waitForTaskToken|\.sync/);
  });

  it('grants the parent startExecution.sync:2 and nothing wider: the segment machine, its executions, the managed rule', () => {
    const template = Template.fromJSON(hybridCfn);
    const [segmentId] = Object.entries(hybridCfn.Resources).find(([, r]) => r.Properties?.StateMachineType === 'EXPRESS') ?? [];
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: segmentId } },
          Match.objectLike({ Action: ['states:DescribeExecution', 'states:StopExecution'], Effect: 'Allow' }),
          {
            Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':rule/StepFunctionsGetEventsForStepFunctionsExecutionRule']] },
          },
        ]),
      },
    });
  });

  it('refuses at synth an Express definition that waits for a task token', () => {
    const definition = { 'Fn::Join': ['', ['{"StartAt":"Wait","States":{"Wait":{"Type":"Task","Resource":"arn:', { Ref: 'AWS::Partition' }, ':states:::lambda:invoke.waitForTaskToken","End":true}}}']] };
    expect(expressProblems(definition, 'S/Segment')).toEqual([expect.stringMatching(/^S\/Segment: state "Wait" uses \.waitForTaskToken, which an Express workflow cannot run/)]);
    expect(expressProblems('{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}', 'S/Segment')).toEqual([]);
  });
});
