import type { LocalEngine } from '../../local/engine';
import { matchesPattern } from '../../local/events';
import { testEngine } from '../helpers/engine';

describe('the local engine', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await testEngine({});
  });
  afterAll(() => engine.close());

  it('resumes interrupted runs from a fresh read of each: a run no longer RUNNING is left alone', async () => {
    const runs = engine.runtime.runs;
    for (const runId of ['live', 'cancelled-since']) await runs.createRun({ runId, userId: 'u', input: 'What is 2+2?', maxSteps: 5, maxTokens: 100_000 });
    // The listing is a snapshot (a scan): by the time each run is taken up, one has been cancelled.
    const snapshot = await runs.listRunsByStatus(['RUNNING']);
    await runs.finalizeRun('cancelled-since', { status: 'CANCELLED', answer: 'cancelled', stopReason: 'CANCELLED' });
    const original = runs.listRunsByStatus.bind(runs);
    runs.listRunsByStatus = async () => snapshot;
    let resumed: string[];
    try {
      resumed = await engine.resumeInterrupted();
    } finally {
      runs.listRunsByStatus = original;
    }
    expect(resumed).toEqual(['live']);
    expect((await engine.execute('live', 'u')).run.status).toBe('SUCCEEDED');
    expect(await runs.getRun('cancelled-since')).toMatchObject({ status: 'CANCELLED' });
    expect((await runs.listEvents('cancelled-since')).map((e) => e.type)).not.toContain('engine_restarted');
    expect([...engine.executions.values()].map((e) => e.name)).not.toContain('cancelled-since');
  });

  it('publishes execution status changes on the local bus in EventBridge shape, to the rules of the template', async () => {
    const delivered: unknown[] = [];
    const rule = engine.rules.find((r) => r.targets.length > 0);
    expect(rule?.pattern).toMatchObject({
      source: ['aws.states'],
      detail: { status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [engine.stateMachineArn, { prefix: `${engine.stateMachineArn}:` }] },
    });
    // The rule takes this machine's ARN, unqualified or qualified by an alias or a version, and no other machine's.
    const failedOn = (stateMachineArn: string) => ({
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { status: 'FAILED', stateMachineArn },
    });
    const matches = (arn: string) => matchesPattern(rule?.pattern ?? {}, failedOn(arn));
    expect([engine.stateMachineArn, `${engine.stateMachineArn}:live`, `${engine.stateMachineArn}:3`].map(matches)).toEqual([true, true, true]);
    expect([`${engine.stateMachineArn}2`, `${engine.stateMachineArn}-other`, engine.stateMachineArn.replace(/:[^:]+$/, ':Other')].map(matches)).toEqual([false, false, false]);
    const put = engine.bus.putEvent.bind(engine.bus);
    engine.bus.putEvent = async (event) => {
      delivered.push(event);
      return put(event);
    };
    try {
      await engine.run({ input: 'What is 2+2?', runId: 'bus' });
    } finally {
      engine.bus.putEvent = put;
    }
    expect(delivered).toEqual([
      expect.objectContaining({
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
        detail: expect.objectContaining({ status: 'RUNNING', name: 'bus' }),
      }),
      expect.objectContaining({ detail: expect.objectContaining({ status: 'SUCCEEDED', stateMachineArn: engine.stateMachineArn, stopDate: expect.any(Number) }) }),
    ]);
    // Started on the alias, as the API starts runs: the machine's unqualified ARN, the alias and version in their own fields.
    expect(engine.startArn).toBe(`${engine.stateMachineArn}:live`);
    expect(delivered.at(-1)).toMatchObject({ detail: { stateMachineAliasArn: engine.startArn, stateMachineVersionArn: `${engine.stateMachineArn}:1` } });
  });
});
