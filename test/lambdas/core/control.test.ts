import { createRunControl, type ExecutionPort } from '../../../lambdas/core/control';
import { RunStore } from '../../../lambdas/store/run-store';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

/** Issue 31 item 2: every state change from outside has exactly one winner; a loser gets a Conflict and writes nothing. */
describe('run control: one winner per state change', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  let runs: RunStore;
  const calls: string[] = [];
  const executions: ExecutionPort = {
    start: async ({ runId, attempt }) => {
      calls.push(`start ${runId} ${attempt}`);
      return { executionArn: `arn:${runId}:${attempt}` };
    },
    sendTaskSuccess: async () => {
      calls.push('sendTaskSuccess');
    },
    stop: async ({ runId }) => {
      calls.push(`stop ${runId}`);
    },
  };
  let control: ReturnType<typeof createRunControl>;
  let n = 0;
  const newRun = async () => {
    const runId = `run-${++n}`;
    await runs.createRun({ runId, userId: 'u', input: 'hi', maxSteps: 5, maxTokens: 1000 });
    return runId;
  };
  const settle = async (ps: Promise<unknown>[]) => {
    const out = await Promise.allSettled(ps);
    return {
      won: out.filter((o) => o.status === 'fulfilled').length,
      conflicts: out.filter((o) => o.status === 'rejected' && (o.reason as Error).name === 'Conflict').length,
    };
  };
  const events = async (runId: string, type: string) => (await runs.listEvents(runId)).filter((e) => e.type === type);

  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    runs = new RunStore(dynamo.doc, dynamo.tableName);
    control = createRunControl({ runs, executions });
  });
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(() => {
    calls.length = 0;
  });

  it('10 concurrent cancels: one wins, nine Conflicts, one cancelled event, one stop', async () => {
    const runId = await newRun();
    expect(await settle(Array.from({ length: 10 }, () => control.cancel(runId)))).toEqual({ won: 1, conflicts: 9 });
    expect(await events(runId, 'cancelled')).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith('stop'))).toEqual([`stop ${runId}`]);
  });

  it("an owner's cancel racing an admin stop: one of the two wins, one cancelled event", async () => {
    const runId = await newRun();
    expect(await settle([control.cancel(runId), control.cancel(runId, 'KILLED')])).toEqual({ won: 1, conflicts: 1 });
    const cancelled = await events(runId, 'cancelled');
    expect(cancelled).toHaveLength(1);
    expect((await runs.getRun(runId))?.stopReason).toBe((cancelled[0] as { stopReason?: string }).stopReason);
  });

  it('concurrent pauses: one pause_requested', async () => {
    const runId = await newRun();
    expect(await settle(Array.from({ length: 5 }, () => control.pause(runId)))).toEqual({ won: 1, conflicts: 4 });
    expect(await events(runId, 'pause_requested')).toHaveLength(1);
  });

  it('concurrent resumes of a FAILED run: one new execution', async () => {
    const runId = await newRun();
    await runs.finalizeRun(runId, { status: 'FAILED', answer: 'boom', stopReason: 'EXECUTION_FAILED' });
    expect(await settle(Array.from({ length: 5 }, () => control.resume(runId)))).toEqual({ won: 1, conflicts: 4 });
    expect(calls).toEqual([`start ${runId} 1`]);
    expect((await runs.getRun(runId))?.resumes).toBe(1);
  });
});
