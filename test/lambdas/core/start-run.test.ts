import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createRunControl, type ExecutionPort } from '../../../lambdas/core/control';
import { createRunRecord, ensureExecution, requestFingerprint, startRun } from '../../../lambdas/core/start-run';
import { RunStore } from '../../../lambdas/store/run-store';
import { rejection } from '../../helpers/async';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

describe('startRun and the Idempotency-Key', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  /** Executions created, by name. */
  const started: string[] = [];
  /** The next StartExecution calls fail with these errors (one each). */
  const failures: Error[] = [];
  /** StartExecution as Step Functions answers it: the same name and input as a running execution returns that one. */
  const executions: ExecutionPort = {
    async start({ runId, userId }) {
      const failure = failures.shift();
      if (failure) throw failure;
      const input = JSON.stringify({ runId, userId });
      const existing = inputs.get(runId);
      if (existing !== undefined && existing !== input) throw Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' });
      if (existing === undefined) started.push(runId);
      inputs.set(runId, input);
      return { executionArn: `arn:aws:states:us-east-1:123456789012:execution:agent:${runId}` };
    },
    sendTaskSuccess: async () => undefined,
    stop: async () => undefined,
  };
  const inputs = new Map<string, string>();
  let runs: RunStore;
  let control: ReturnType<typeof createRunControl>;
  let n = 0;
  const deps = () => ({ runs, control, budgets: { maxSteps: 20, maxTokens: 100_000 }, newRunId: () => `run-${++n}` });

  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    runs = new RunStore(dynamo.doc, dynamo.tableName);
    control = createRunControl({ runs, executions });
  });
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(() => {
    started.length = 0;
    failures.length = 0;
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
    expect(await startRun(deps(), req)).toEqual({ runId: 'orphan-run', replayed: true, queued: false });
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
    expect(await startRun(deps(), { idempotencyKey: 'k-reused', input: 'first prompt', userId: 'u2' })).toEqual({ runId: first.runId, replayed: true, queued: false });
    expect((await startRun(deps(), { userId: 'u3', input: 'another prompt', idempotencyKey: 'k-reused' })).replayed).toBe(false);
  });

  describe('a run written but never started (the process died before StartExecution)', () => {
    /** What that crash leaves: the key claimed, the run RUNNING, no execution. */
    const crashedBeforeStart = async (key: string, runId: string, input = 'hello') => {
      const req = { userId: 'u4', input, idempotencyKey: key };
      await runs.claimIdempotencyKey('u4', key, runId, requestFingerprint(req));
      await createRunRecord(runs, { maxSteps: 20, maxTokens: 100_000 }, { runId, userId: 'u4', input });
      return req;
    };

    it('the retried key starts its execution once, and records it', async () => {
      const req = await crashedBeforeStart('k-no-exec', 'run-no-exec');
      expect(await startRun(deps(), req)).toEqual({ runId: 'run-no-exec', replayed: true, queued: false });
      expect(started).toEqual(['run-no-exec']);
      expect((await runs.getRun('run-no-exec'))?.executionArn).toMatch(/:run-no-exec$/);
      expect(await startRun(deps(), req)).toEqual({ runId: 'run-no-exec', replayed: true, queued: false });
      expect(started).toEqual(['run-no-exec']);
    });

    it('concurrent retries start one execution', async () => {
      const req = await crashedBeforeStart('k-no-exec-race', 'run-no-exec-race');
      const outs = await Promise.all(Array.from({ length: 8 }, () => startRun(deps(), req)));
      expect(new Set(outs.map((o) => o.runId))).toEqual(new Set(['run-no-exec-race']));
      expect(started).toEqual(['run-no-exec-race']);
    });

    it("an execution that exists already (ExecutionAlreadyExists) is the run's: a replay, no error", async () => {
      const req = await crashedBeforeStart('k-exists', 'run-exists');
      failures.push(Object.assign(new Error('Execution Already Exists'), { name: 'ExecutionAlreadyExists' }));
      expect(await startRun(deps(), req)).toEqual({ runId: 'run-exists', replayed: true, queued: false });
      expect(started).toEqual([]);
    });

    it('a start that fails is StartFailed (retryable) and leaves the run for the next retry', async () => {
      const req = await crashedBeforeStart('k-start-fails', 'run-start-fails');
      failures.push(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
      const err = await rejection(startRun(deps(), req));
      expect(err.name).toBe('StartFailed');
      expect(err.message).toMatch(/run-start-fails has no execution yet.*ThrottlingException.*retry the request with the same Idempotency-Key/);
      expect(await runs.getRun('run-start-fails')).toMatchObject({ status: 'RUNNING' });
      expect(await startRun(deps(), req)).toEqual({ runId: 'run-start-fails', replayed: true, queued: false });
      expect(started).toEqual(['run-start-fails']);
    });

    it('starts nothing for a run that has an execution, was resumed, or is no longer RUNNING', async () => {
      const base = { runId: 'r', userId: 'u4', status: 'RUNNING' as const };
      for (const run of [
        { ...base, executionArn: 'arn:x' },
        { ...base, resumes: 1 },
        { ...base, status: 'SUCCEEDED' as const },
      ]) {
        expect(await ensureExecution(control, run)).toBe(false);
      }
      expect(started).toEqual([]);
    });
  });
});
