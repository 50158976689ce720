import { TransientError } from '../../../../lambdas/core/errors';
import type { LoopDeps, LoopState } from '../../../../lambdas/core/loop';
import { modelStep } from '../../../../lambdas/core/steps/call-model';
import { finalize } from '../../../../lambdas/core/steps/finalize';
import { estimatePromptTokens } from '../../../../lambdas/core/tokens';
import { ofKind } from '../../../../lambdas/core/trace';
import type { ModelProvider, ModelRequest, ModelResponse } from '../../../../lambdas/core/types';
import { RunStore } from '../../../../lambdas/store/run-store';
import { dynamoWithAgentTable } from '../../../helpers/dynamo';

/**
 * The model step's context compaction against the real store on dynalite: a compaction is a checkpoint (a retried
 * step after a crash reads the stored view and does not summarize again, and the summary's tokens count once), and
 * the fallback tier compacts to its own, smaller window.
 */
describe('compaction in the model step', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  let runs: RunStore;
  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    runs = new RunStore(dynamo.doc, dynamo.tableName);
  });
  afterAll(async () => dynamo.close());

  /** A run with `steps` completed steps, each a 2 KB tool result. */
  async function runWithSteps(runId: string, steps: number, maxTokens = 1_000_000): Promise<LoopState> {
    await runs.createRun({ runId, userId: 'u', input: 'What do the pages say?', maxSteps: 40, maxTokens });
    const at = new Date().toISOString();
    for (let s = 1; s <= steps; s++) {
      await runs.putMessage(runId, {
        step: s,
        seq: 0,
        at,
        message: {
          role: 'assistant',
          content: 'Let me read the next page and think about it at some length. '.repeat(6),
          toolCalls: [{ id: `c${s}`, name: 'fetch', arguments: { n: s } }],
        },
      });
      await runs.putMessage(runId, { step: s, seq: 1, at, message: { role: 'tool', toolCallId: `c${s}`, name: 'fetch', content: `page ${s} says foxes. `.repeat(100) } });
      await runs.recordModelStep(runId, s, { inputTokens: 0, outputTokens: 0 }, `sig${s}`);
    }
    return { runId, step: steps, maxSteps: 40, maxTokens, outcome: 'tools', toolCalls: [], toolCount: 0, callSig: '', prevCallSig: '' };
  }

  /** A model that records its requests and answers from a script (a summary request answers with a summary). */
  function scripted(answers: (ModelResponse | Error)[]): ModelProvider & { requests: ModelRequest[] } {
    const requests: ModelRequest[] = [];
    return {
      provider: 'openai',
      model: 'small',
      requests,
      async complete(request) {
        requests.push(request);
        if (request.purpose === 'summary')
          return { text: 'Pages so far: foxes.', toolCalls: [], usage: { inputTokens: 700, outputTokens: 30 }, finishReason: 'stop', model: 'small' };
        const next = answers.shift();
        if (!next) throw new Error('script exhausted');
        if (next instanceof Error) throw next;
        return next;
      },
    };
  }

  const deps = (model: ModelProvider, windows: { primary: number; fallback?: number }): LoopDeps => ({
    runs,
    model: (tier) => (tier === 'primary' || windows.fallback ? model : undefined),
    toolSpecs: [],
    runTool: async () => ({ content: '' }),
    maxOutputTokens: () => 256,
    estimatePromptTokens,
    contextWindow: (tier) => (tier === 'primary' ? windows.primary : windows.fallback),
  });

  const answer: ModelResponse = { text: 'Foxes.', toolCalls: [], usage: { inputTokens: 100, outputTokens: 5 }, finishReason: 'stop', model: 'small' };

  it('stores the view before the call: a retry after a failed call does not summarize again, and the summary counts once', async () => {
    const state = await runWithSteps('ckpt', 8);
    const model = scripted([new TransientError('boom'), answer]);
    // A window where eliding the results is not enough: the long assistant turns need a summary.
    const d = deps(model, { primary: 2048 });
    await expect(modelStep(d, { state, step: 9, tier: 'primary' })).rejects.toThrow('boom');
    expect(model.requests.map((r) => r.purpose ?? 'answer')).toEqual(['summary', 'answer']);
    const view = (await runs.getRun('ckpt'))?.contextView;
    expect(view?.summary).toMatchObject({ throughStep: expect.any(Number), atStep: 9, text: 'Pages so far: foxes.' });
    // The retry (the state machine's Retry of the same step): the stored view, no second summary.
    const next = await modelStep(d, { state, step: 9, tier: 'primary' });
    expect(next.outcome).toBe('final');
    expect(model.requests.map((r) => r.purpose ?? 'answer')).toEqual(['summary', 'answer', 'answer']);
    expect(model.requests[2]?.messages).toEqual(model.requests[1]?.messages);
    expect(model.requests[2]?.messages[0]).toEqual({ role: 'user', content: 'What do the pages say?' });
    const run = await runs.getRun('ckpt');
    expect(run).toMatchObject({ tokensIn: 100 + 700, tokensOut: 5 + 30 });
    const events = await runs.listEvents('ckpt');
    expect(events.filter(ofKind('context_compacted'))).toHaveLength(1);
  });

  it("counts a summary whose call never answered in the run's usage and dollars when the run ends through Degrade (once)", async () => {
    const state = await runWithSteps('degrade-after-summary', 8);
    const model = scripted([new TransientError('down')]);
    const added: number[] = [];
    const spend = {
      today: async () => ({ userMicros: 0, totalMicros: 0 }),
      add: async (_u: string, _d: string, micros: number) => void added.push(micros),
      isDisabled: async () => false,
    };
    const price = { inputPerMTokUsd: 10, outputPerMTokUsd: 20 };
    const d: LoopDeps = { ...deps(model, { primary: 2048 }), priceOf: () => ({ price, source: 'config' }), spend };
    await expect(modelStep(d, { state, step: 9, tier: 'primary' })).rejects.toThrow('down');
    expect(model.requests.map((r) => r.purpose ?? 'answer')).toEqual(['summary', 'answer']);
    // The state machine's Catch: no model left → Degrade, at the step whose call never answered.
    const ended = { state: { ...state, error: { Error: 'TransientError', Cause: 'down' } }, outcome: 'DEGRADE' as const };
    await finalize(d, ended);
    // The summary: 700 in, 30 out at $10/$20 per million tokens = 7,600 micro-dollars.
    const run = await runs.getRun('degrade-after-summary');
    expect(run).toMatchObject({ status: 'DEGRADED', tokensIn: 700, tokensOut: 30, costMicros: 7600 });
    expect(added).toEqual([7600]);
    expect((await runs.listEvents('degrade-after-summary')).find(ofKind('run_finished'))?.usage).toEqual({ inputTokens: 700, outputTokens: 30, costUsd: 0.0076 });
    // A second Finalize (a redelivered task) adds nothing.
    await finalize(d, ended);
    expect(await runs.getRun('degrade-after-summary')).toMatchObject({ tokensIn: 700, tokensOut: 30, costMicros: 7600 });
    expect(added).toEqual([7600]);
  });

  it('does not count a summary twice when its step answered and the run finishes at that step', async () => {
    const state = await runWithSteps('finish-after-summary', 8);
    const d = deps(scripted([answer]), { primary: 2048 });
    const next = await modelStep(d, { state, step: 9, tier: 'primary' });
    await finalize(d, { state: next, outcome: 'FINISH' });
    expect(await runs.getRun('finish-after-summary')).toMatchObject({ status: 'SUCCEEDED', tokensIn: 100 + 700, tokensOut: 5 + 30 });
  });

  it("compacts for the fallback model's own window when it takes over", async () => {
    const state = await runWithSteps('fallback-window', 6);
    const model = scripted([answer]);
    // The primary's window holds everything; the fallback's does not.
    const d = deps(model, { primary: 200_000, fallback: 3000 });
    await modelStep(d, { state, step: 7, tier: 'fallback', error: { Error: 'TransientError', Cause: 'primary down' } });
    const compacted = (await runs.listEvents('fallback-window')).find(ofKind('context_compacted'));
    expect(compacted).toMatchObject({ tier: 'fallback', windowTokens: 3000, reason: 'window' });
    expect(compacted?.tokensAfter).toBeLessThanOrEqual(3000 * 0.9 - 256);
  });

  it("makes no summary the run's budget could pay for but not the call it makes room for", async () => {
    const state = await runWithSteps('no-room', 8, 1500);
    const model = scripted([answer]);
    await expect(modelStep(deps(model, { primary: 2048 }), { state, step: 9, tier: 'primary' })).rejects.toThrow(/TOKEN_BUDGET/);
    expect(model.requests).toEqual([]);
    expect((await runs.getRun('no-room'))?.tokensIn).toBe(0);
  });
});
