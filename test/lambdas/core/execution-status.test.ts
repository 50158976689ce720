import { closeRunOnExecutionStatus, type ExecutionStatusChangeEvent, runIdOf } from '../../../lambdas/core/execution-status';
import { RunStore } from '../../../lambdas/store/run-store';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

const ARN = 'arn:aws:states:local:000000000000:execution:Machine:';

function event(runId: string, status: string, extra: Partial<ExecutionStatusChangeEvent['detail']> = {}): ExecutionStatusChangeEvent {
  return {
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: { executionArn: `${ARN}${runId}`, name: runId, status, input: JSON.stringify({ runId, userId: 'u' }), ...extra },
  };
}

describe('closing a run on an execution status change', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  let runs: RunStore;
  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    runs = new RunStore(dynamo.doc, dynamo.tableName);
  });
  afterAll(() => dynamo.close());

  const newRun = async (runId: string, executionArn: string | null = `${ARN}${runId}`) => {
    await runs.createRun({ runId, userId: 'u', input: 'hi', maxSteps: 5, maxTokens: 1000 });
    if (executionArn) await runs.updateRun(runId, { executionArn });
  };

  it('FAILED → run FAILED / EXECUTION_FAILED with the error and cause in the answer, and one trace event', async () => {
    await newRun('f1');
    const out = await closeRunOnExecutionStatus(runs, event('f1', 'FAILED', { error: 'DynamoDown', cause: 'table unavailable' }));
    expect(out).toMatchObject({ runId: 'f1', closed: true });
    const run = await runs.getRun('f1');
    expect(run).toMatchObject({ status: 'FAILED', stopReason: 'EXECUTION_FAILED' });
    expect(run?.answer).toContain('DynamoDown: table unavailable');
    const finished = (await runs.listEvents('f1')).filter((e) => e.type === 'run_finished');
    expect(finished).toEqual([expect.objectContaining({ status: 'FAILED', stopReason: 'EXECUTION_FAILED', error: { Error: 'DynamoDown', Cause: 'table unavailable' } })]);
  });

  it('TIMED_OUT → FAILED / EXECUTION_TIMED_OUT; ABORTED → CANCELLED / ABORTED', async () => {
    await newRun('t1');
    await newRun('a1');
    await closeRunOnExecutionStatus(runs, event('t1', 'TIMED_OUT'));
    await closeRunOnExecutionStatus(runs, event('a1', 'ABORTED'));
    expect(await runs.getRun('t1')).toMatchObject({ status: 'FAILED', stopReason: 'EXECUTION_TIMED_OUT' });
    expect(await runs.getRun('a1')).toMatchObject({ status: 'CANCELLED', stopReason: 'ABORTED' });
  });

  it('never overwrites a terminal status, and a redelivered event changes nothing', async () => {
    await newRun('c1');
    await runs.finalizeRun('c1', { status: 'CANCELLED', answer: 'cancelled', stopReason: 'CANCELLED' });
    expect(await closeRunOnExecutionStatus(runs, event('c1', 'ABORTED'))).toMatchObject({ closed: false });
    expect(await runs.getRun('c1')).toMatchObject({ status: 'CANCELLED', stopReason: 'CANCELLED' });

    await newRun('r1');
    const results = await Promise.all([1, 2, 3].map(() => closeRunOnExecutionStatus(runs, event('r1', 'FAILED', { error: 'X' }))));
    expect(results.filter((r) => r.closed)).toHaveLength(1);
    expect((await runs.listEvents('r1')).filter((e) => e.type === 'run_finished')).toHaveLength(1);
  });

  it('leaves a run alone when a newer execution works on it (a late event of the old one)', async () => {
    await newRun('n1', `${ARN}n1-r1`);
    expect(await closeRunOnExecutionStatus(runs, event('n1', 'FAILED'))).toMatchObject({ closed: false, reason: 'a newer execution works on the run' });
    expect((await runs.getRun('n1'))?.status).toBe('RUNNING');
  });

  it('closes a run whose execution ARN was never recorded (a start that failed half-way)', async () => {
    await newRun('x1', null);
    expect(await closeRunOnExecutionStatus(runs, event('x1', 'FAILED'))).toMatchObject({ closed: true });
  });

  it('ignores other statuses and other events', async () => {
    await newRun('s1');
    expect(await closeRunOnExecutionStatus(runs, event('s1', 'SUCCEEDED'))).toMatchObject({ closed: false });
    expect(await closeRunOnExecutionStatus(runs, { ...event('s1', 'FAILED'), source: 'aws.lambda' })).toMatchObject({ closed: false });
    expect((await runs.getRun('s1'))?.status).toBe('RUNNING');
  });

  it('finds the run from the execution input, else from the execution name', () => {
    expect(runIdOf({ executionArn: 'a', status: 'FAILED', input: '{"runId":"in-input"}', name: 'other' })).toBe('in-input');
    expect(runIdOf({ executionArn: 'a', status: 'FAILED', input: 'not json', name: 'abc-r2' })).toBe('abc');
  });
});
