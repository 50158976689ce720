import type { LoopDeps, LoopState } from '../../../../lambdas/core/loop';
import { modelStep, segmentDue } from '../../../../lambdas/core/steps/call-model';
import { estimatePromptTokens } from '../../../../lambdas/core/tokens';
import type { ModelProvider } from '../../../../lambdas/core/types';
import { RunStore } from '../../../../lambdas/store/run-store';
import { dynamoWithAgentTable } from '../../../helpers/dynamo';

/**
 * The hybrid engine's segment clock (docs/hybrid.md): the model step of an Express segment gets the segment's start
 * time and says, after its call, whether the segment has run its time (Route then hands the loop to the parent).
 */
describe('segmentDue', () => {
  const startedAt = '2026-12-07T12:00:00.000Z';
  it('is due once the segment has run its seconds, not before', () => {
    expect(segmentDue({ startedAt, seconds: 240 }, new Date('2026-12-07T12:03:59.999Z'))).toBe(false);
    expect(segmentDue({ startedAt, seconds: 240 }, new Date('2026-12-07T12:04:00.000Z'))).toBe(true);
  });
  it('refuses a start time that is not a date, saying what it expects', () => {
    expect(() => segmentDue({ startedAt: 'yesterday', seconds: 240 }, new Date())).toThrow(/segment\.startedAt must be an ISO 8601 date/);
  });
});

describe('the model step in a segment', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  let runs: RunStore;
  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    runs = new RunStore(dynamo.doc, dynamo.tableName);
  });
  afterAll(async () => dynamo.close());

  const model: ModelProvider = {
    provider: 'openai',
    model: 'small',
    async complete() {
      return { text: '', toolCalls: [{ id: 'c1', name: 'fetch', arguments: {} }], usage: { inputTokens: 10, outputTokens: 5 }, finishReason: 'tool_calls', model: 'small' };
    },
  };
  const depsAt = (now: Date): LoopDeps => ({
    runs,
    model: () => model,
    toolSpecs: [{ name: 'fetch', description: 'fetch', parameters: { type: 'object' } }],
    runTool: async () => ({ content: '' }),
    maxOutputTokens: () => 256,
    estimatePromptTokens,
    now: () => now,
  });
  const start = (runId: string): LoopState => ({
    runId,
    step: 0,
    maxSteps: 10,
    maxTokens: 100_000,
    outcome: 'start',
    toolCalls: [],
    toolCount: 0,
    callSig: '',
    prevCallSig: '',
    segmentEnd: 10,
  });

  it('marks the state segmentDue when the clock says the segment has run its time, the step recorded as usual', async () => {
    await runs.createRun({ runId: 'due', userId: 'u', input: 'go', maxSteps: 10, maxTokens: 100_000 });
    const segment = { startedAt: '2026-12-07T12:00:00.000Z', seconds: 240 };
    const state = await modelStep(depsAt(new Date('2026-12-07T12:04:01.000Z')), { state: start('due'), step: 1, tier: 'primary', segment });
    expect(state).toMatchObject({ step: 1, outcome: 'tools', toolCount: 1, segmentEnd: 10, segmentDue: true });
    // A second copy of the step (a segment run again) reads the stored answer and the same clock rule.
    const early = await modelStep(depsAt(new Date('2026-12-07T12:00:30.000Z')), { state: start('due'), step: 1, tier: 'primary', segment });
    expect(early.segmentDue).toBeUndefined();
    expect(early).toMatchObject({ step: 1, outcome: 'tools', toolCount: 1 });
  });

  it('has no clock outside a segment (the standard machine)', async () => {
    await runs.createRun({ runId: 'standard', userId: 'u', input: 'go', maxSteps: 10, maxTokens: 100_000 });
    const state = await modelStep(depsAt(new Date('2030-01-01T00:00:00.000Z')), { state: start('standard'), step: 1, tier: 'primary' });
    expect(state.segmentDue).toBeUndefined();
  });
});
