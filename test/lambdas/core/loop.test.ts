import { RunStopped } from '../../../lambdas/core/errors';
import { finalize, type LoopDeps, type LoopState, loadRun, modelStep, pauseRun, toolStep } from '../../../lambdas/core/loop';
import { estimatePromptTokens } from '../../../lambdas/core/tokens';
import type { ModelProvider, StopReason } from '../../../lambdas/core/types';
import { RunStore } from '../../../lambdas/store/run-store';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

/** Every step re-reads the run first: a final run (CANCELLED, KILLED...) does no more work and writes nothing. */
describe('steps of a run that is already final', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  let runs: RunStore;
  let modelCalls = 0;
  let toolCalls = 0;
  const model: ModelProvider = {
    provider: 'fake',
    model: 'm',
    complete: async () => {
      modelCalls++;
      return {
        text: '',
        toolCalls: [{ id: 'c1', name: 'calculator', arguments: { expression: '1+1' } }],
        usage: { inputTokens: 1, outputTokens: 1 },
        finishReason: 'tool_use',
        model: 'm',
      };
    },
  };
  const deps = (): LoopDeps => ({
    runs,
    model: () => model,
    toolSpecs: [],
    runTool: async () => {
      toolCalls++;
      return { content: '2' };
    },
    maxOutputTokens: () => 100,
    estimatePromptTokens,
  });
  const state = (runId: string, step = 0): LoopState => ({
    runId,
    step,
    maxSteps: 10,
    maxTokens: 100_000,
    outcome: 'tools',
    toolCalls: [{ id: 'c1' }],
    toolCount: 1,
    callSig: 's',
    prevCallSig: '',
  });

  /** A run at step 1 with a pending tool call, then finalized from outside. */
  const finalRun = async (runId: string, status: 'CANCELLED' | 'FAILED', stopReason: StopReason) => {
    await runs.createRun({ runId, userId: 'u', input: 'hi', maxSteps: 10, maxTokens: 100_000 });
    await modelStep(deps(), { state: state(runId), step: 1, tier: 'primary' });
    await runs.finalizeRun(runId, { status, answer: 'stopped from outside', stopReason });
    modelCalls = 0;
    toolCalls = 0;
    return (await runs.listEvents(runId)).length;
  };

  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    runs = new RunStore(dynamo.doc, dynamo.tableName);
  });
  afterAll(async () => dynamo.close());

  it.each([
    ['CANCELLED', 'CANCELLED'],
    ['CANCELLED', 'KILLED'],
    ['FAILED', 'EXECUTION_FAILED'],
  ] as const)('%s (%s): no model call, no tool call, no pause, no second finish, nothing written', async (status, stopReason) => {
    const runId = `final-${stopReason}`;
    const events = await finalRun(runId, status, stopReason);

    expect(await loadRun(deps(), { runId }, { maxSteps: 10, maxTokens: 100_000 })).toMatchObject({ outcome: 'stopped', stopReason });
    expect(await modelStep(deps(), { state: state(runId, 1), step: 2, tier: 'primary' })).toMatchObject({ outcome: 'stopped', toolCount: 0 });
    expect(await modelStep(deps(), { state: state(runId, 1), step: 2, tier: 'fallback', error: { Error: 'TransientError' } })).toMatchObject({ outcome: 'stopped' });
    expect(await toolStep(deps(), { runId, step: 1, toolCallId: 'c1' })).toMatchObject({ stopped: true });
    expect(await toolStep(deps(), { runId, step: 1, toolCallId: 'c1', failure: { Error: 'TransientError' } })).toMatchObject({ stopped: true });
    await expect(pauseRun({ runs }, { state: state(runId, 1), taskToken: 't' })).rejects.toBeInstanceOf(RunStopped);
    for (const outcome of ['FINISH', 'SURRENDER', 'DEGRADE', 'REFUSED'] as const) {
      expect(await finalize(deps(), { state: state(runId, 1), outcome })).toEqual({ runId, status, stopReason });
    }

    expect({ modelCalls, toolCalls }).toEqual({ modelCalls: 0, toolCalls: 0 });
    expect(await runs.listEvents(runId)).toHaveLength(events);
    expect(await runs.getRun(runId)).toMatchObject({ status, stopReason, step: 1, degraded: [] });
  });

  it('a tool that failed after all its retries: its error is the result, the run records it degraded, the answer says so', async () => {
    const runId = 'tool-gave-up';
    await runs.createRun({ runId, userId: 'u', input: 'hi', maxSteps: 10, maxTokens: 100_000 });
    await modelStep(deps(), { state: state(runId), step: 1, tier: 'primary' });
    modelCalls = 0;
    expect(await toolStep(deps(), { runId, step: 1, toolCallId: 'c1', failure: { Error: 'TransientError', Cause: 'MCP server billing: 503' } })).toEqual({
      toolCallId: 'c1',
      isError: true,
    });
    expect((await runs.getRun(runId))?.degraded).toEqual([{ dependency: 'tool:calculator', reason: 'TransientError', fallback: 'none' }]);
    const out = await finalize(deps(), { state: { ...state(runId, 1), outcome: 'final' }, outcome: 'FINISH' });
    expect(out.status).toBe('DEGRADED');
    expect((await runs.getRun(runId))?.answer).toMatch(/calculator.*unavailable \(TransientError\)/);
  });

  it('an MCP `allow` naming a tool the server lacks: a notice in the trace at the first call, the run not degraded', async () => {
    const runId = 'allow-missing';
    await runs.createRun({ runId, userId: 'u', input: 'hi', maxSteps: 10, maxTokens: 100_000 });
    const listTools = async () => ({ specs: [], unavailable: [], notListed: [{ dependency: 'tool:billing', names: ['lookup_v2'] }] });
    await modelStep({ ...deps(), listTools }, { state: state(runId), step: 1, tier: 'primary' });
    modelCalls = 0;
    const notices = (await runs.listEvents(runId)).filter((e) => e.type === 'fallback');
    expect(notices).toEqual([expect.objectContaining({ dependency: 'tool:billing', reason: 'NOT_LISTED', listing: true, cause: expect.stringContaining('lookup_v2') })]);
    expect((await runs.getRun(runId))?.degraded).toEqual([]);
  });

  it('daily caps: the call that would cross what is left of the cap is not made; a smaller one is capped to fit', async () => {
    const runId = 'daily-cap';
    await runs.createRun({ runId, userId: 'u', input: 'hi', maxSteps: 10, maxTokens: 100_000 });
    const price = { inputPerMTokUsd: 1_000, outputPerMTokUsd: 1_000 }; // $0.001 a token
    let requested: number | undefined;
    const counting: ModelProvider = {
      ...model,
      complete: async (req) => {
        requested = req.maxOutputTokens;
        return model.complete(req);
      },
    };
    const capped = (spentMicros: number): LoopDeps => ({
      ...deps(),
      model: () => counting,
      priceOf: () => ({ price, source: 'config' }),
      caps: { dailyUsdPerUser: 1 },
      spend: { today: async () => ({ userMicros: spentMicros, totalMicros: spentMicros }), add: async () => undefined, isDisabled: async () => false },
    });
    // $0.99 of $1 spent: $0.01 is ~10 tokens, less than the prompt and a minimal answer.
    await expect(modelStep(capped(990_000), { state: state(runId), step: 1, tier: 'primary' })).rejects.toMatchObject({ name: 'BudgetExceeded', reason: 'SPEND_LIMIT' });
    expect(modelCalls).toBe(0);
    // $0.80 spent: the call is made, its output capped to what the $0.20 left can pay for after the prompt.
    await modelStep(capped(800_000), { state: state(runId), step: 1, tier: 'primary' });
    expect(modelCalls).toBe(1);
    expect(requested).toBeLessThan(200);
    modelCalls = 0;
  });

  it('a run finalized while the step prepares its call (tools listed, budget checked): no request is sent', async () => {
    const runId = 'cancel-before-send';
    await runs.createRun({ runId, userId: 'u', input: 'hi', maxSteps: 10, maxTokens: 100_000 });
    const events = (await runs.listEvents(runId)).length;
    // The cancel lands after the step's first read, while it lists the tools (MCP servers are slow to list).
    const listTools = async () => {
      await runs.finalizeRun(runId, { status: 'CANCELLED', answer: 'The run was cancelled.', stopReason: 'KILLED' });
      return { specs: [], unavailable: [] };
    };
    expect(await modelStep({ ...deps(), listTools }, { state: state(runId), step: 1, tier: 'primary' })).toMatchObject({ outcome: 'stopped', stopReason: 'KILLED' });
    expect(modelCalls).toBe(0);
    expect(await runs.listEvents(runId)).toHaveLength(events);
  });

  it('a run finalized while its model call is in flight: the answer is traced as discarded and not stored', async () => {
    const runId = 'cancel-during-call';
    await runs.createRun({ runId, userId: 'u', input: 'hi', maxSteps: 10, maxTokens: 100_000 });
    const slow: ModelProvider = {
      ...model,
      complete: async (req) => {
        await runs.finalizeRun(runId, { status: 'CANCELLED', answer: 'The run was cancelled.', stopReason: 'CANCELLED' });
        return model.complete(req);
      },
    };
    const out = await modelStep({ ...deps(), model: () => slow }, { state: state(runId), step: 1, tier: 'primary' });
    expect(out).toMatchObject({ outcome: 'stopped', stopReason: 'CANCELLED' });
    expect((await runs.listMessages(runId)).map((m) => m.message.role)).toEqual(['user']);
    expect((await runs.listEvents(runId)).map((e) => [e.type, 'discarded' in e ? e.discarded : undefined])).toEqual([['model_call', 'CANCELLED']]);
    expect(await runs.getRun(runId)).toMatchObject({ step: 0, status: 'CANCELLED' });
  });

  it('a pause requested during the model call is seen at this step’s boundary', async () => {
    const runId = 'pause-during-call';
    await runs.createRun({ runId, userId: 'u', input: 'hi', maxSteps: 10, maxTokens: 100_000 });
    const pausing: ModelProvider = {
      ...model,
      complete: async (req) => {
        await runs.updateRun(runId, { pauseRequested: true }, { statusIn: ['RUNNING'] });
        return model.complete(req);
      },
    };
    expect(await modelStep({ ...deps(), model: () => pausing }, { state: state(runId), step: 1, tier: 'primary' })).toMatchObject({ outcome: 'tools', pauseRequested: true });
  });
});
