import { RunStore } from '../../../lambdas/store/run-store';
import { SpendStore } from '../../../lambdas/store/spend-store';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
beforeAll(async () => {
  dynamo = await dynamoWithAgentTable('SpendTable');
});
afterAll(async () => {
  await dynamo?.close();
});

describe('the spend store (dynalite)', () => {
  it('adds concurrent calls atomically, per user and in total, in whole micro-dollars', async () => {
    const spend = new SpendStore(dynamo.doc, dynamo.tableName);
    await Promise.all(Array.from({ length: 40 }, (_, i) => spend.add(i % 2 ? 'ann' : 'ben', '2026-02-01', 1234)));
    expect(await spend.today('ann', '2026-02-01')).toEqual({ userMicros: 20 * 1234, totalMicros: 40 * 1234 });
    expect(await spend.today('ann', '2026-02-02')).toEqual({ userMicros: 0, totalMicros: 0 });
    const day = await spend.day('2026-02-01');
    expect(day).toEqual({
      totalMicros: 40 * 1234,
      calls: 40,
      users: expect.arrayContaining([
        { userId: 'ann', micros: 20 * 1234, calls: 20 },
        { userId: 'ben', micros: 20 * 1234, calls: 20 },
      ]),
    });
  });

  it('keeps its items out of every user’s run list', async () => {
    const spend = new SpendStore(dynamo.doc, dynamo.tableName);
    const runs = new RunStore(dynamo.doc, dynamo.tableName);
    await spend.add('carl', '2026-02-01', 5);
    await spend.recordAdminRead({ adminId: 'ops', runId: 'r-x', owner: 'carl', what: 'run' });
    await spend.setDisabled(true, 'ops');
    expect((await runs.listRunsByUser('carl')).runs).toEqual([]);
  });

  it('flips the disable flag and logs admin reads by day', async () => {
    const at = new Date('2026-02-03T10:00:00.000Z');
    const spend = new SpendStore(dynamo.doc, dynamo.tableName, () => at);
    await spend.setDisabled(true, 'ops');
    expect(await spend.isDisabled()).toBe(true);
    await spend.setDisabled(false, 'ops');
    expect(await spend.isDisabled()).toBe(false);
    await spend.recordAdminRead({ adminId: 'ops', runId: 'r-1', owner: 'dora', what: 'trace' });
    expect(await spend.adminReads('2026-02-03')).toEqual([{ at: at.toISOString(), adminId: 'ops', runId: 'r-1', owner: 'dora', what: 'trace' }]);
  });

  it('lists any user’s runs by status and creation date, and everyone’s with a scan', async () => {
    let now = new Date('2026-01-10T12:00:00.000Z');
    const runs = new RunStore(dynamo.doc, dynamo.tableName, { now: () => now });
    const spend = new SpendStore(dynamo.doc, dynamo.tableName);
    for (const [id, user, day] of [
      ['e1', 'eve', '2026-01-10'],
      ['e2', 'eve', '2026-01-12'],
      ['f1', 'fay', '2026-01-12'],
    ] as const) {
      now = new Date(`${day}T12:00:00.000Z`);
      await runs.createRun({ runId: id, userId: user, input: 'x', maxSteps: 5, maxTokens: 1000 });
    }
    await runs.finalizeRun('e2', { status: 'UNFINISHED', answer: 'a', stopReason: 'SPEND_LIMIT' });
    const ids = async (q: Parameters<SpendStore['listRunsForSupport']>[0]) => (await spend.listRunsForSupport(q)).runs.map((r) => r.runId).sort();
    expect(await ids({ userId: 'eve' })).toEqual(['e1', 'e2']);
    expect(await ids({ userId: 'eve', status: 'UNFINISHED' })).toEqual(['e2']);
    expect(await ids({ userId: 'eve', from: '2026-01-11', to: '2026-01-13' })).toEqual(['e2']);
    expect(await ids({ from: '2026-01-12' })).toEqual(['e2', 'f1']);
    expect(await ids({ status: 'RUNNING' })).toEqual(['e1', 'f1']);
    const page = await spend.listRunsForSupport({ userId: 'eve', limit: 1 });
    expect(page.runs.map((r) => r.runId)).toEqual(['e2']);
    expect((await spend.listRunsForSupport({ userId: 'eve', limit: 1, cursor: page.nextCursor ?? undefined })).runs.map((r) => r.runId)).toEqual(['e1']);
    await expect(spend.listRunsForSupport({ cursor: 'garbage' })).rejects.toThrow('invalid cursor');
  });
});
