import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { requestFingerprint, startRun } from '../../../lambdas/core/start-run';
import { RunStore } from '../../../lambdas/store/run-store';
import { rejection } from '../../helpers/async';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

describe('startRun and the Idempotency-Key', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  let runs: RunStore;
  const started: string[] = [];
  const control = { start: async ({ runId }: { runId: string }) => void started.push(runId) };
  let n = 0;
  const deps = () => ({ runs, control, budgets: { maxSteps: 20, maxTokens: 100_000 }, newRunId: () => `run-${++n}` });

  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    runs = new RunStore(dynamo.doc, dynamo.tableName);
  });
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(() => {
    started.length = 0;
  });
  const count = async (prefix: string) =>
    ((await dynamo.doc.send(new ScanCommand({ TableName: dynamo.tableName }))).Items ?? []).filter((i) => String(i.pk).startsWith(prefix)).length;

  it('a claim whose run was never written (the process died between the two writes) is recovered by the next request with the key', async () => {
    // Prepare: what a crash right after the claim leaves behind.
    const req = { userId: 'u1', input: 'hello', idempotencyKey: 'crashed-key' };
    await runs.claimIdempotencyKey('u1', 'crashed-key', 'orphan-run', requestFingerprint(req));
    expect(await runs.getRun('orphan-run')).toBeUndefined();
    // Act
    const out = await startRun(deps(), req);
    // Assess: the key's run now exists, under the claimed id, and was started once; a replay returns it.
    expect(out.runId).toBe('orphan-run');
    expect(await runs.getRun('orphan-run')).toMatchObject({ status: 'RUNNING', input: 'hello' });
    expect(await runs.listMessages('orphan-run')).toHaveLength(1);
    expect(started).toEqual(['orphan-run']);
    expect(await startRun(deps(), req)).toEqual({ runId: 'orphan-run', replayed: true });
    expect(started).toEqual(['orphan-run']);
  });

  it('concurrent requests with one key: one run, one execution started', async () => {
    const req = { userId: 'u1', input: 'same', idempotencyKey: 'racing-key' };
    const outs = await Promise.all(Array.from({ length: 8 }, () => startRun(deps(), req)));
    expect(new Set(outs.map((o) => o.runId)).size).toBe(1);
    expect(started).toEqual([outs[0]?.runId]);
  });

  it('the same key with another request is IdempotencyKeyReused, and nothing is written', async () => {
    const first = await startRun(deps(), { userId: 'u2', input: 'first prompt', idempotencyKey: 'k-reused' });
    const before = await count('RUN#');
    for (const other of [{ input: 'another prompt' }, { input: 'first prompt', budgets: { maxSteps: 3 } }]) {
      const err = await rejection(startRun(deps(), { userId: 'u2', idempotencyKey: 'k-reused', ...other }));
      expect(err.name).toBe('IdempotencyKeyReused');
    }
    expect(await count('RUN#')).toBe(before);
    // The same request (keys in any order) is still a replay; another user's same key is theirs.
    expect(await startRun(deps(), { idempotencyKey: 'k-reused', input: 'first prompt', userId: 'u2' })).toEqual({ runId: first.runId, replayed: true });
    expect((await startRun(deps(), { userId: 'u3', input: 'another prompt', idempotencyKey: 'k-reused' })).replayed).toBe(false);
  });
});
