import { Match, Template } from 'aws-cdk-lib/assertions';
import { ConfigError, parseConfig } from '../../lib/config';
import { expressProblems, SEGMENT_TIMEOUT_SECONDS, segmentTimeProblems } from '../../lib/hybrid-workflow';
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

  it('hybrid.segmentSeconds: 230 by default, under Express’s 300 s, and with a step’s Task timeouts within the segment’s', () => {
    expect(parseConfig({}).hybrid.segmentSeconds).toBe(230);
    expect(() => parseConfig({ engine: 'hybrid', hybrid: { segmentSeconds: 300 } })).toThrow(/hybrid\.segmentSeconds: must be under Express's 300-second limit/);
    // The defaults fit: 230 s, then a model Task (20 s client → 35 s) and the longest tool Task (10 s → 25 s): 290 s.
    expect(segmentTimeProblems({ segmentSeconds: 230, timeouts: { model: 35, tool: 25, bookkeeping: 25 } })).toEqual([]);
    expect(segmentTimeProblems({ segmentSeconds: 240, timeouts: { model: 35, tool: 20, bookkeeping: 25 } })).toEqual([]);
    expect(segmentTimeProblems({ segmentSeconds: 240, timeouts: { model: 75, tool: 20, bookkeeping: 25 } })).toEqual([
      expect.stringMatching(
        /hybrid\.segmentSeconds \(240 s\) plus one step's Task timeouts \(model 75 s \+ tool 20 s\) must be at most 295 s .* set hybrid\.segmentSeconds to at most 200/,
      ),
    ]);
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
      Parameters: { StateMachineArn: segment?.versionArns[0], Input: { 'state.$': '$', segment: { 'segmentEnd.$': 'States.MathAdd($.step, 10)', segmentDue: false } } },
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
    // A segment that failed twice resumes from the checkpoint if it moved on (docs/hybrid.md), else degrades.
    expect(((parent.RunSegment?.Catch ?? []) as { ErrorEquals: string[]; Next: string }[]).map((c) => [c.ErrorEquals, c.Next])).toEqual([
      [['States.TaskFailed'], 'ResumeFromCheckpoint'],
      [['States.ALL'], 'Degrade'],
    ]);
    expect(parent.ResumeFromCheckpoint).toMatchObject({ ResultSelector: { 'state.$': '$.Payload' }, ResultPath: '$.checkpoint', Next: 'CheckpointMoved' });
    expect(parent.CheckpointMoved?.Default).toBe('Degrade');
    expect(parent.FromCheckpoint).toMatchObject({ InputPath: '$.checkpoint.state', Next: 'RunSegment' });
    expect(parent.Pause?.Next).toBe('RunSegment');
    expect(parent.AwaitApproval?.Next).toBe('RunSegment');
    expect(Object.keys(parent)).not.toContain('CallModel');
  });

  it('the segment is the standard loop’s own states, its endings exits to the parent, no task token in it', () => {
    for (const name of ['CallModel', 'CallTool', 'RecordToolFailure', 'RunTools']) {
      // The same but for the segment's clock in the model call's payload (checked below).
      // The published version's number too: it hashes the code as of each template's synth (cached apart).
      const unversioned = (state: unknown) => JSON.parse(JSON.stringify(state ?? {}).replace(/(function:[\w-]+):\d+"/g, '$1:N"'));
      const { Next: _a, Catch: _b, ...same } = unversioned(inner[name]);
      if (same.Parameters?.Payload) delete same.Parameters.Payload.segment;
      const { Next: _c, Catch: _d, ...expected } = unversioned(standard[name]);
      expect({ name, ...same }).toEqual({ name, ...expected });
    }
    const route = (states: Record<string, Record<string, any>>) => ((states.Route?.Choices ?? []) as { Next: string }[]).map((c) => c.Next);
    expect(route(standard)).toEqual(['Stopped', 'Finish', 'CallModel', 'RepetitionDetected', 'StepBudgetExhausted', 'Pause', 'AwaitApproval', 'CallTool']);
    expect(route(inner)).toEqual(['ExitStopped', 'ExitFinish', 'CallModel', 'RepetitionDetected', 'StepBudgetExhausted', 'ExitPause', 'ExitApproval', 'ExitNext', 'CallTool']);
    expect(inner.ExitNext).toMatchObject({ Type: 'Pass', Result: 'NEXT', ResultPath: '$.exit', End: true });
    // The segment's clock: the model call gets its start time and seconds; Route ends it at the tool-call boundary.
    expect(inner.CallModel?.Parameters?.Payload?.segment).toEqual({ 'startedAt.$': '$$.Execution.StartTime', seconds: 230 });
    expect(standard.CallModel?.Parameters?.Payload?.segment).toBeUndefined();
    const next = ((inner.Route?.Choices ?? []) as { Next: string }[]).find((c) => c.Next === 'ExitNext');
    expect(JSON.stringify(next)).toContain('"Variable":"$.segmentDue","BooleanEquals":true');
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
            Resource: {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':events:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  ':rule/StepFunctionsGetEventsForStepFunctionsExecutionRule',
                ],
              ],
            },
          },
        ]),
      },
    });
  });

  it('refuses at synth an Express definition that waits for a task token', () => {
    const definition = {
      'Fn::Join': [
        '',
        ['{"StartAt":"Wait","States":{"Wait":{"Type":"Task","Resource":"arn:', { Ref: 'AWS::Partition' }, ':states:::lambda:invoke.waitForTaskToken","End":true}}}'],
      ],
    };
    expect(expressProblems(definition, 'S/Segment')).toEqual([expect.stringMatching(/^S\/Segment: state "Wait" uses \.waitForTaskToken, which an Express workflow cannot run/)]);
    expect(expressProblems('{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}', 'S/Segment')).toEqual([]);
  });
});
