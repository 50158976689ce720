import { parseConfig } from '../../lib/config';
import type { LocalExecution } from '../../local/executions';
import { type ExpressMachine, expressMachineOf, type SyncDeps, startExecutionSync } from '../../local/express';
import { LocalIam } from '../../local/iam/check';
import { iamModelOf } from '../../local/iam/roles';
import { type CfnTemplate, definitionOf, expressMachinesOf, stateMachineOf } from '../../local/template';
import { rejection } from '../helpers/async';
import { templateFor } from '../helpers/engine';

/** `.sync:2` children offline (local/express.ts), against a template of the hybrid engine. */
const template = templateFor(parseConfig({ engine: 'hybrid' }));
const [segment] = expressMachinesOf(template);
const versionArn = segment?.versionArns[0] as string;

/** A small Express child: `Result` when the input says ok, else a Fail with the child's own error and cause. */
const child = (): ExpressMachine =>
  expressMachineOf({
    arn: segment?.arn as string,
    name: segment?.name as string,
    versionArns: [versionArn],
    definition: {
      StartAt: 'Check',
      TimeoutSeconds: 3600,
      States: {
        Check: { Type: 'Choice', Choices: [{ Variable: '$.ok', BooleanEquals: true, Next: 'Done' }], Default: 'Boom' },
        Done: { Type: 'Pass', Parameters: { 'echo.$': '$.value', exit: 'FINISH' }, End: true },
        Boom: { Type: 'Fail', Error: 'ChildError', Cause: 'the child says why' },
      },
    },
  });
const parent = { executionArn: `arn:aws:states:local:000000000000:execution:${stateMachineOf(template).name}:p1`, status: 'RUNNING' } as LocalExecution;
const depsWith = (iam: LocalIam, rerun?: SyncDeps['rerun']): SyncDeps => ({
  iam,
  taskHandlers: () => ({}),
  retryOverrides: () => undefined,
  onEvent: () => undefined,
  records: [],
  rerun,
});
const children = () => new Map([[versionArn, child()]]);

describe('startExecution.sync:2 offline', () => {
  const iam = new LocalIam(iamModelOf(template));

  it('returns the child’s description with its output as JSON (the parent’s role allows the start)', async () => {
    const deps = depsWith(iam);
    const description = await startExecutionSync(deps, parent, children(), { StateMachineArn: versionArn, Input: { ok: true, value: 42 } }, 1);
    expect(description).toMatchObject({ Status: 'SUCCEEDED', StateMachineArn: versionArn, Output: { echo: 42, exit: 'FINISH' } });
    expect(String(description.ExecutionArn)).toMatch(new RegExp(`^arn:aws:states:local:000000000000:express:${segment?.name}:`));
    expect(deps.records.map((r) => [r.status, r.transitions])).toEqual([['SUCCEEDED', 2]]);
  });

  it('fails the task with States.TaskFailed, the cause the child’s description with its error and cause', async () => {
    const err = await rejection(startExecutionSync(depsWith(iam), parent, children(), { StateMachineArn: versionArn, Input: { ok: false } }, 1));
    expect(err.name).toBe('States.TaskFailed');
    expect(JSON.parse(err.message)).toMatchObject({ Status: 'FAILED', Error: 'ChildError', Cause: 'the child says why', StateMachineArn: versionArn });
  });

  it('re-runs a child with the same input when the fault knob says so (at-least-once)', async () => {
    const deps = depsWith(iam, ({ index }) => index === 1);
    await startExecutionSync(deps, parent, children(), { StateMachineArn: versionArn, Input: { ok: true, value: 1 } }, 1);
    await startExecutionSync(deps, parent, children(), { StateMachineArn: versionArn, Input: { ok: true, value: 2 } }, 2);
    // The first start ran twice, the second once.
    expect(deps.records).toHaveLength(3);
  });

  it('needs states:StartExecution on the child in the parent’s role, as Step Functions checks it', async () => {
    const denied = JSON.parse(JSON.stringify(template)) as CfnTemplate;
    for (const r of Object.values(denied.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const doc = r.Properties?.PolicyDocument as { Statement: { Action: unknown }[] };
      doc.Statement = doc.Statement.filter((s) => s.Action !== 'states:StartExecution');
    }
    const err = await rejection(startExecutionSync(depsWith(new LocalIam(iamModelOf(denied))), parent, children(), { StateMachineArn: versionArn, Input: { ok: true } }, 1));
    expect(err.name).toBe('StepFunctions.AWSStepFunctionsException');
    expect(err.message).toMatch(/states:StartExecution/);
  });

  it('refuses a child that is not deployed', async () => {
    const err = await rejection(startExecutionSync(depsWith(iam), parent, children(), { StateMachineArn: `${segment?.arn}:999`, Input: {} }, 1));
    expect(err.name).toBe('StepFunctions.StateMachineDoesNotExistException');
  });
});

describe('Express limits', () => {
  it('runs at most 5 minutes, whatever the definition says', () => {
    expect(child().timeoutSeconds).toBe(300);
  });

  it('refuses a definition with a task token wait, naming the state', () => {
    const spec = {
      arn: 'arn:aws:states:local:000000000000:stateMachine:X',
      name: 'X',
      versionArns: [],
      definition: { StartAt: 'Wait', States: { Wait: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken', Parameters: {}, End: true } } },
    };
    expect(() => expressMachineOf(spec)).toThrow('Express state machine X: state "Wait" uses .waitForTaskToken, which Express workflows do not support');
  });
});

describe('versions pin both machines', () => {
  it('a changed segment definition is a new segment version, so the parent’s definition (and its version) changes too', () => {
    const changed = JSON.parse(JSON.stringify(template)) as CfnTemplate;
    const express = Object.values(changed.Resources).find((r) => r.Properties?.StateMachineType === 'EXPRESS');
    const json = express?.Properties?.DefinitionString as { 'Fn::Join': [string, unknown[]] };
    json['Fn::Join'][1][0] = String(json['Fn::Join'][1][0]).replace('"StartAt":"BeginSegment"', '"Comment":"v2","StartAt":"BeginSegment"');
    const [v2] = expressMachinesOf(changed);
    expect(v2?.versionArns[0]).not.toBe(versionArn);
    expect(JSON.stringify(definitionOf(changed))).toContain(v2?.versionArns[0]);
    expect(JSON.stringify(definitionOf(changed))).not.toContain(versionArn);
  });
});
