import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  DescribeStateMachineAliasCommand,
  DescribeStateMachineCommand,
  ListExecutionsCommand,
  ListStateMachineVersionsCommand,
  PublishStateMachineVersionCommand,
  UpdateStateMachineAliasCommand,
} from '@aws-sdk/client-sfn';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { parseConfig } from '../../lib/config';
import type { LocalEngine } from '../../local/engine';
import { aliasOf, type CfnTemplate } from '../../local/template';
import { until } from '../helpers/async';
import { templateFor, testEngine } from '../helpers/engine';

const V1 = {};
const V2 = { models: { primary: { provider: 'demo' as const, model: 'wander' } } };
const PROMPT = 'What is 12.5% of 3480?';

/** A run held in flight: it pauses at its first tool-call boundary and waits there for its task token. */
async function pausedRun(engine: LocalEngine, runId: string) {
  await engine.runtime.runs.createRun({ runId, userId: 'local', input: PROMPT, maxSteps: 10, maxTokens: 100_000 });
  await engine.runtime.runs.updateRun(runId, { pauseRequested: true });
  const done = engine.execute(runId, 'local');
  await until('PAUSED', async () => (await engine.runtime.runs.getRun(runId))?.status === 'PAUSED');
  return { done };
}

const modelsOf = async (engine: LocalEngine, runId: string) => [...new Set((await engine.runtime.runs.listMessages(runId)).flatMap((m) => (m.model ? [m.model] : [])))];

describe('versions in the local engine', () => {
  let engine: LocalEngine;
  let v2: CfnTemplate;
  beforeAll(() => {
    v2 = templateFor(parseConfig(V2));
  });
  beforeEach(async () => {
    engine = await testEngine(V1);
  });
  afterEach(async () => engine.close());

  it('starts runs on the alias `live`, which the template points at its version', async () => {
    expect(engine.startArn).toBe(`${engine.stateMachineArn}:live`);
    const { runId, run } = await engine.run({ input: PROMPT });
    expect(run.status).toBe('SUCCEEDED');
    const execution = await engine.sfn.send(new DescribeExecutionCommand({ executionArn: `arn:aws:states:local:000000000000:execution:${engine.stateMachineName}:${runId}` }));
    expect(execution).toMatchObject({
      stateMachineArn: engine.stateMachineArn,
      stateMachineAliasArn: `${engine.stateMachineArn}:live`,
      stateMachineVersionArn: `${engine.stateMachineArn}:1`,
    });
  });

  it('keeps a run in flight on v1 while v2 is deployed: it finishes on v1 behaviour; new runs get v2', async () => {
    const inFlight = await pausedRun(engine, 'in-flight');
    engine.deploy(v2);
    const versions = await engine.sfn.send(new ListStateMachineVersionsCommand({ stateMachineArn: engine.stateMachineArn }));
    expect(versions.stateMachineVersions?.map((v) => v.stateMachineVersionArn)).toEqual([`${engine.stateMachineArn}:2`, `${engine.stateMachineArn}:1`]);
    const alias = await engine.sfn.send(new DescribeStateMachineAliasCommand({ stateMachineAliasArn: engine.startArn }));
    expect(alias.routingConfiguration).toEqual([{ stateMachineVersionArn: `${engine.stateMachineArn}:2`, weight: 100 }]);

    await engine.control.resume('in-flight');
    const old = await inFlight.done;
    // v1's model (default: calculator, then the answer), v1's handlers, to the end.
    expect(old.run).toMatchObject({ status: 'SUCCEEDED', answer: expect.stringContaining('435') });
    expect(await modelsOf(engine, 'in-flight')).toEqual(['demo/default']);

    const fresh = await engine.run({ input: PROMPT });
    // v2's model wanders until the step budget.
    expect(fresh.run).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET' });
    expect(await modelsOf(engine, fresh.runId)).toEqual(['demo/wander']);
    const onV1 = await engine.sfn.send(new ListExecutionsCommand({ stateMachineArn: `${engine.stateMachineArn}:1` }));
    const onV2 = await engine.sfn.send(new ListExecutionsCommand({ stateMachineArn: `${engine.stateMachineArn}:2` }));
    expect(onV1.executions?.map((e) => e.name)).toEqual(['in-flight']);
    expect(onV2.executions?.map((e) => e.name)).toEqual([fresh.runId]);
  });

  it('resumes a run from its checkpoint on the alias (the current version), not on the one it was created under', async () => {
    // A run PAUSED with no execution waiting (its engine restarted): a resume starts a new execution from the checkpoint.
    await engine.runtime.runs.createRun({ runId: 'from-checkpoint', userId: 'local', input: PROMPT, maxSteps: 10, maxTokens: 100_000 });
    await engine.runtime.runs.updateRun('from-checkpoint', { status: 'PAUSED' });
    engine.deploy(v2);
    await engine.control.resume('from-checkpoint');
    const { run } = await engine.execute('from-checkpoint', 'local');
    expect(run.status).toBe('UNFINISHED');
    const executionArn = (await engine.runtime.runs.getRun('from-checkpoint'))?.executionArn as string;
    const execution = await engine.sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(execution).toMatchObject({ stateMachineAliasArn: `${engine.stateMachineArn}:live`, stateMachineVersionArn: `${engine.stateMachineArn}:2` });
  });

  it('resumes a run whose checkpoint the previous format wrote (fixture) and finishes it as that checkpoint says', async () => {
    const { items } = JSON.parse(readFileSync(join(__dirname, '../fixtures/checkpoints/format-1.json'), 'utf8')) as { items: Record<string, unknown>[] };
    for (const Item of items) await engine.dynamo.doc.send(new PutCommand({ TableName: engine.runtime.runs.tableName, Item }));
    const { run } = await engine.execute('format-1-run', 'local');
    // Step 2 repeats step 1's call: the detector needs the old format's previous step to see it.
    expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'REPETITION' });
  });

  it('serves each version its own definition, and refuses an alias routing that Step Functions refuses', async () => {
    engine.deploy(v2);
    const def = async (arn: string) => JSON.parse((await engine.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }))).definition as string);
    const [one, two, latest] = [await def(`${engine.stateMachineArn}:1`), await def(`${engine.stateMachineArn}:2`), await def(engine.stateMachineArn)];
    expect(JSON.stringify(one)).not.toBe(JSON.stringify(two));
    expect(latest).toEqual(two);
    // Publishing again without a change returns the newest version.
    expect((await engine.sfn.send(new PublishStateMachineVersionCommand({ stateMachineArn: engine.stateMachineArn }))).stateMachineVersionArn).toBe(`${engine.stateMachineArn}:2`);
    const update = (routingConfiguration: { stateMachineVersionArn: string; weight: number }[]) =>
      engine.sfn.send(new UpdateStateMachineAliasCommand({ stateMachineAliasArn: engine.startArn, routingConfiguration }));
    await expect(update([{ stateMachineVersionArn: `${engine.stateMachineArn}:1`, weight: 60 }])).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(update([{ stateMachineVersionArn: `${engine.stateMachineArn}:9`, weight: 100 }])).rejects.toMatchObject({ name: 'ResourceNotFound' });
    await update([
      { stateMachineVersionArn: `${engine.stateMachineArn}:1`, weight: 50 },
      { stateMachineVersionArn: `${engine.stateMachineArn}:2`, weight: 50 },
    ]);
    expect((await engine.sfn.send(new DescribeStateMachineAliasCommand({ stateMachineAliasArn: engine.startArn }))).routingConfiguration).toHaveLength(2);
  });

  it('deploying the same definition again publishes nothing and leaves the alias alone', async () => {
    engine.deploy(templateFor(parseConfig(V1)));
    expect(engine.versions.versions.map((v) => v.version)).toEqual([1]);
  });
});

describe('a canary deploy', () => {
  it('routes the canary share of new runs to the new version and the rest to the previous one', async () => {
    const picks = [0.05, 0.5, 0.95, 0.2];
    const engine = await testEngine(V1, { random: () => picks.shift() ?? 0.5 });
    try {
      const v2 = structuredClone(templateFor(parseConfig(V2)));
      const [id, alias] = Object.entries(v2.Resources).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachineAlias') as [string, { Properties: Record<string, unknown> }];
      const { RoutingConfiguration: _r, ...rest } = alias.Properties;
      v2.Resources[id] = {
        Type: 'AWS::StepFunctions::StateMachineAlias',
        Properties: { ...rest, DeploymentPreference: { Type: 'CANARY', Percentage: 10, Interval: 15, StateMachineVersionArn: { Ref: 'x' } } },
      } as never;
      expect(aliasOf(v2)?.canary).toEqual({ percent: 10, minutes: 15 });
      engine.deploy(v2);
      const routing = (await engine.sfn.send(new DescribeStateMachineAliasCommand({ stateMachineAliasArn: engine.startArn }))).routingConfiguration;
      expect(routing).toEqual([
        { stateMachineVersionArn: `${engine.stateMachineArn}:1`, weight: 90 },
        { stateMachineVersionArn: `${engine.stateMachineArn}:2`, weight: 10 },
      ]);
      const versionOf = (name: string) =>
        engine.describeExecution(`arn:aws:states:local:000000000000:execution:${engine.stateMachineName}:${name}`).stateMachineVersionArn?.split(':').at(-1);
      for (const name of ['c0', 'c1', 'c2']) engine.startExecution({ name, input: JSON.stringify({ runId: name, input: PROMPT }), stateMachineArn: engine.startArn });
      // 0.05 → v1 (first 90 %), 0.5 → v1, 0.95 → v2 (the last 10 %).
      expect(['c0', 'c1', 'c2'].map(versionOf)).toEqual(['1', '1', '2']);
      await Promise.all(['c0', 'c1', 'c2'].map((n) => engine.describeExecution(`arn:aws:states:local:000000000000:execution:${engine.stateMachineName}:${n}`).done));
    } finally {
      await engine.close();
    }
  });
});
