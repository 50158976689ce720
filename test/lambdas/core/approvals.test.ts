import { approvalPolicy, awaitApproval, decideApproval, gateToolCall, needsDecision, pendingApprovalsOf } from '../../../lambdas/core/approvals';
import type { ExecutionPort } from '../../../lambdas/core/control';
import { checkpointState, finalize, type LoopState } from '../../../lambdas/core/loop';
import { RunStore } from '../../../lambdas/store/run-store';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

/** Approvals against the run store on dynalite: the waiting calls, one decision per call, one wake-up per step. */
describe('approvals (core, on the run store)', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  let runs: RunStore;
  const policy = approvalPolicy(['charge', 'email'], 3600);
  const sent: { token: string; output: string }[] = [];
  const started: { runId: string; attempt: number }[] = [];
  let sendFails = false;
  const executions: ExecutionPort = {
    start: async ({ runId, attempt }) => {
      started.push({ runId, attempt });
      return { executionArn: `arn:local:${runId}-r${attempt}` };
    },
    sendTaskSuccess: async (token, output) => {
      if (sendFails) throw Object.assign(new Error('gone'), { name: 'TaskDoesNotExist' });
      sent.push({ token, output });
    },
    stop: async () => undefined,
  };

  /** A run at step 1 whose model asked for charge, email and calculator, waiting for approval. */
  async function waitingRun(runId: string) {
    await runs.createRun({ runId, userId: 'alice', input: 'pay', maxSteps: 10, maxTokens: 10_000 });
    await runs.putMessage(runId, {
      step: 1,
      seq: 0,
      at: new Date().toISOString(),
      message: {
        role: 'assistant',
        content: '',
        toolCalls: [
          { id: 'c1', name: 'charge', arguments: { amount: 5 } },
          { id: 'c2', name: 'email', arguments: { to: 'x' } },
          { id: 'c3', name: 'calculator', arguments: { expression: '1+1' } },
        ],
      },
    });
    await runs.recordModelStep(runId, 1, { inputTokens: 1, outputTokens: 1 }, 'sig');
    const out = await awaitApproval({ runs, policy, clock: () => Date.parse('2030-01-01T00:00:00Z') }, { state: { runId, step: 1 }, taskToken: `token-${runId}` });
    return out;
  }

  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    runs = new RunStore(dynamo.doc, dynamo.tableName);
  });
  afterAll(async () => dynamo.close());
  beforeEach(() => {
    sent.length = 0;
    started.length = 0;
    sendFails = false;
  });

  it('records the step’s approval-required calls (not the others) with their expiry, and the run waits', async () => {
    expect(await waitingRun('r-wait')).toEqual({ waiting: 2 });
    const run = await runs.getRun('r-wait');
    expect(run?.status).toBe('AWAITING_APPROVAL');
    expect(run?.taskToken).toBe('token-r-wait');
    expect(pendingApprovalsOf(run!)).toEqual([
      { toolCallId: 'c1', name: 'charge', arguments: { amount: 5 }, requestedAt: '2030-01-01T00:00:00.000Z', expiresAt: '2030-01-01T01:00:00.000Z' },
      { toolCallId: 'c2', name: 'email', arguments: { to: 'x' }, requestedAt: '2030-01-01T00:00:00.000Z', expiresAt: '2030-01-01T01:00:00.000Z' },
    ]);
    const requested = (await runs.listEvents('r-wait')).filter((e) => e.type === 'approval_requested').map((e) => e.toolCallId);
    expect(requested).toEqual(['c1', 'c2']);
    // A resumed execution at this checkpoint goes back to AwaitApproval.
    expect((await checkpointState({ runs, approvals: policy }, run!)).approvalRequired).toBe(true);
  });

  it('the last decision wakes the execution exactly once; a second decision of a call is a conflict', async () => {
    await waitingRun('r-decide');
    const first = await decideApproval({ runs, executions }, { runId: 'r-decide', toolCallId: 'c1', decision: 'approve', decidedBy: 'alice' });
    expect(first).toEqual({ remaining: 1 });
    expect(sent).toHaveLength(0);
    await expect(decideApproval({ runs, executions }, { runId: 'r-decide', toolCallId: 'c1', decision: 'reject', decidedBy: 'alice' })).rejects.toMatchObject({ name: 'Conflict' });
    await expect(decideApproval({ runs, executions }, { runId: 'r-decide', toolCallId: 'c3', decision: 'approve', decidedBy: 'alice' })).rejects.toMatchObject({
      name: 'Conflict',
    });
    const last = await decideApproval({ runs, executions }, { runId: 'r-decide', toolCallId: 'c2', decision: 'reject', reason: ' not today ', decidedBy: 'alice' });
    expect(last).toEqual({ remaining: 0 });
    expect(sent).toEqual([{ token: 'token-r-decide', output: 'false' }]);
    const run = await runs.getRun('r-decide');
    expect(run?.status).toBe('RUNNING');
    expect(pendingApprovalsOf(run!)).toEqual([]);
    // The rejection is the call's result already; the approved call may run, the rejected one may not.
    expect((await runs.getMessage('r-decide', 1, 2))?.message).toMatchObject({
      role: 'tool',
      toolCallId: 'c2',
      isError: true,
      content: expect.stringContaining('Reason: not today'),
    });
    expect(gateToolCall(run, 1, { id: 'c1', name: 'charge' })).toBeUndefined();
    expect(gateToolCall(run, 1, { id: 'c2', name: 'email' })).toMatchObject({ isError: true, content: expect.stringContaining('not today') });
    // A call of another step has no decision: refused, never run.
    expect(gateToolCall(run, 2, { id: 'c1', name: 'charge' })).toMatchObject({ isError: true, content: expect.stringContaining('has none') });
    expect(needsDecision(policy, run!, 1, [{ id: 'c1', name: 'charge' }])).toBe(false);
    const decided = (await runs.listEvents('r-decide')).filter((e) => e.type === 'approval_decided');
    expect(decided.map((e) => [e.toolCallId, e.decision, e.reason, e.decidedBy])).toEqual([
      ['c1', 'approve', null, 'alice'],
      ['c2', 'reject', 'not today', 'alice'],
    ]);
    await expect(decideApproval({ runs, executions }, { runId: 'r-decide', toolCallId: 'c2', decision: 'approve', decidedBy: 'alice' })).rejects.toMatchObject({
      name: 'Conflict',
    });
  });

  it('two people deciding the two calls at once: both recorded, the execution woken once', async () => {
    await waitingRun('r-race');
    const results = await Promise.all([
      decideApproval({ runs, executions }, { runId: 'r-race', toolCallId: 'c1', decision: 'approve', decidedBy: 'alice' }),
      decideApproval({ runs, executions }, { runId: 'r-race', toolCallId: 'c2', decision: 'approve', decidedBy: 'admin' }),
    ]);
    expect(results.map((r) => r.remaining).sort()).toEqual([0, 1]);
    expect(sent).toHaveLength(1);
  });

  it('the same call decided twice at once: exactly one decision wins', async () => {
    await waitingRun('r-twice');
    const settled = await Promise.allSettled([
      decideApproval({ runs, executions }, { runId: 'r-twice', toolCallId: 'c1', decision: 'approve', decidedBy: 'alice' }),
      decideApproval({ runs, executions }, { runId: 'r-twice', toolCallId: 'c1', decision: 'reject', decidedBy: 'alice' }),
    ]);
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    expect((await runs.listEvents('r-twice')).filter((e) => e.type === 'approval_decided')).toHaveLength(1);
  });

  it('when the waiting execution is gone (engine restart), the last decision continues the run from its checkpoint', async () => {
    await waitingRun('r-gone');
    sendFails = true;
    await decideApproval({ runs, executions }, { runId: 'r-gone', toolCallId: 'c1', decision: 'approve', decidedBy: 'alice' });
    await decideApproval({ runs, executions }, { runId: 'r-gone', toolCallId: 'c2', decision: 'approve', decidedBy: 'alice' });
    expect(started).toEqual([{ runId: 'r-gone', attempt: 1 }]);
    const run = await runs.getRun('r-gone');
    expect(run).toMatchObject({ status: 'RUNNING', resumes: 1, executionArn: 'arn:local:r-gone-r1' });
    // The new execution's checkpoint goes straight to the tools: every decision is on record.
    expect((await checkpointState({ runs, approvals: policy }, run!)).approvalRequired).toBe(false);
  });

  it('a cancelled run is not put back to waiting, and its calls cannot be decided', async () => {
    await runs.createRun({ runId: 'r-cancel', userId: 'alice', input: 'x', maxSteps: 10, maxTokens: 10_000 });
    await runs.putMessage('r-cancel', {
      step: 1,
      seq: 0,
      at: new Date().toISOString(),
      message: { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'charge', arguments: {} }] },
    });
    await runs.finalizeRun('r-cancel', { status: 'CANCELLED', answer: 'cancelled', stopReason: 'CANCELLED' });
    expect(await awaitApproval({ runs, policy }, { state: { runId: 'r-cancel', step: 1 }, taskToken: 't' })).toEqual({ waiting: 0 });
    expect((await runs.getRun('r-cancel'))?.status).toBe('CANCELLED');
    await expect(decideApproval({ runs, executions }, { runId: 'r-cancel', toolCallId: 'c1', decision: 'approve', decidedBy: 'alice' })).rejects.toMatchObject({
      name: 'Conflict',
    });
  });

  /** The approval timeout's ending, as the state machine runs it: Surrender with stopReason APPROVAL_EXPIRED. */
  const expire = (runId: string) => {
    const state: LoopState = {
      runId,
      step: 1,
      maxSteps: 10,
      maxTokens: 10_000,
      outcome: 'tools',
      toolCalls: [],
      toolCount: 0,
      callSig: '',
      prevCallSig: '',
      stopReason: 'APPROVAL_EXPIRED',
    };
    return finalize({ runs }, { state, outcome: 'SURRENDER' });
  };
  const expiresAt = Date.parse('2030-01-01T01:00:00Z');

  it('a decision at or after expiresAt: 409 APPROVAL_EXPIRED, nothing recorded', async () => {
    await waitingRun('r-late');
    for (const at of [expiresAt, expiresAt + 1]) {
      await expect(decideApproval({ runs, executions, clock: () => at }, { runId: 'r-late', toolCallId: 'c1', decision: 'approve', decidedBy: 'alice' })).rejects.toMatchObject({
        name: 'ApprovalExpired',
      });
    }
    expect((await runs.getRun('r-late'))?.approvals?.c1?.decision).toBeUndefined();
    // Once the timeout ended the run, a late decision is still told it expired.
    expect(await expire('r-late')).toMatchObject({ status: 'UNFINISHED', stopReason: 'APPROVAL_EXPIRED' });
    await expect(
      decideApproval({ runs, executions, clock: () => expiresAt - 1 }, { runId: 'r-late', toolCallId: 'c1', decision: 'approve', decidedBy: 'alice' }),
    ).rejects.toMatchObject({ name: 'ApprovalExpired' });
  });

  it('the last decision just before expiry, the task token timing out meanwhile: honoured, one new execution, the timeout ends nothing', async () => {
    await waitingRun('r-edge');
    sendFails = true; // the token timed out before the decision could complete it
    const justBefore = () => expiresAt - 5;
    await decideApproval({ runs, executions, clock: justBefore }, { runId: 'r-edge', toolCallId: 'c1', decision: 'approve', decidedBy: 'alice' });
    await decideApproval({ runs, executions, clock: justBefore }, { runId: 'r-edge', toolCallId: 'c2', decision: 'approve', decidedBy: 'alice' });
    // The timed-out execution reaches its ending after the decision: it leaves without ending the run.
    expect(await expire('r-edge')).toMatchObject({ status: 'RUNNING' });
    expect(started).toEqual([{ runId: 'r-edge', attempt: 1 }]);
    expect(await runs.getRun('r-edge')).toMatchObject({ status: 'RUNNING', stopReason: null, resumes: 1 });
    const events = (await runs.listEvents('r-edge')).map((e) => e.type);
    // run_resumed is LoadRun's, once, when the new execution starts; nothing here ends the run.
    expect(events.filter((t) => ['run_resumed', 'run_finished', 'surrender'].includes(t))).toEqual([]);
  });

  it('the timeout ending first: the decision that comes after it is refused', async () => {
    await waitingRun('r-first');
    await decideApproval({ runs, executions, clock: () => expiresAt - 10 }, { runId: 'r-first', toolCallId: 'c1', decision: 'approve', decidedBy: 'alice' });
    expect(await expire('r-first')).toMatchObject({ status: 'UNFINISHED', stopReason: 'APPROVAL_EXPIRED' });
    await expect(
      decideApproval({ runs, executions, clock: () => expiresAt - 5 }, { runId: 'r-first', toolCallId: 'c2', decision: 'approve', decidedBy: 'alice' }),
    ).rejects.toMatchObject({ name: 'ApprovalExpired' });
    expect(started).toEqual([]);
  });
});
