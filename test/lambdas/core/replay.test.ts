import { comparePrompts, messagesOfTrace, pathOf, recordedDependencies, recordedHistory } from '../../../lambdas/core/replay';
import { parseTraceEvent } from '../../../lambdas/core/trace';

describe('replay and calls discarded by a cancel', () => {
  // As read back from the table (the store parses its items into the union).
  const events = [
    { type: 'run_started', at: '1', step: 0 },
    { type: 'model_call', at: '2', step: 1, output: { text: '', toolCalls: [{ id: 'c1', name: 'calculator', arguments: { expression: '1+1' } }] } },
    { type: 'tool_call', at: '3', step: 1, toolCallId: 'c1', result: '2' },
    { type: 'cancelled', at: '4', step: 1 },
    { type: 'model_call', at: '5', step: 2, usage: { inputTokens: 1, outputTokens: 1 }, discarded: 'CANCELLED' },
  ].map(parseTraceEvent);
  const run = { status: 'CANCELLED' as const, stopReason: 'CANCELLED' as const };

  it('a discarded call is not a step of the path', () => {
    expect(pathOf(events, run).steps).toEqual([{ step: 1, calls: ['calculator({"expression":"1+1"})'] }]);
  });

  it('is never served to a replay', async () => {
    const { model } = recordedDependencies({ run: { ...run }, events } as never);
    const request = {
      messages: [
        { role: 'user' as const, content: 'hi' },
        { role: 'assistant' as const, content: '', toolCalls: [] },
      ],
      tools: [],
      maxOutputTokens: 10,
    };
    await expect(model('primary').complete(request)).rejects.toThrow('no recorded model call left for step 2');
  });
});

describe('replay of a compacted run', () => {
  const events = [
    { type: 'run_started', at: '1', step: 0 },
    {
      type: 'context_compacted',
      at: '2',
      step: 5,
      tier: 'primary',
      model: 'openai/m',
      reason: 'window',
      windowTokens: 8000,
      tokensBefore: 9000,
      tokensAfter: 3000,
      elidedThroughStep: 4,
      summarizedThroughStep: 3,
      summary: { text: 'Steps 1-3 found foxes.', usage: { inputTokens: 900, outputTokens: 20 } },
    },
    { type: 'model_call', at: '3', step: 5, output: { text: 'Foxes.', toolCalls: [] }, usage: { inputTokens: 10, outputTokens: 2 } },
  ].map(parseTraceEvent);

  it("serves the recorded summary to the summary call, and the step's answer by the step the request names (a compacted prompt hides it)", async () => {
    const { model } = recordedDependencies({ run: { status: 'SUCCEEDED', stopReason: null }, events } as never);
    // The compacted prompt has fewer assistant turns than steps: the step comes from the request.
    const prompt = { messages: [{ role: 'user' as const, content: 'q' }], tools: [], maxOutputTokens: 10, step: 5 };
    await expect(model('primary').complete({ ...prompt, purpose: 'summary' })).resolves.toMatchObject({
      text: 'Steps 1-3 found foxes.',
      usage: { inputTokens: 900, outputTokens: 20 },
    });
    await expect(model('primary').complete(prompt)).resolves.toMatchObject({ text: 'Foxes.' });
    await expect(model('primary').complete({ ...prompt, purpose: 'summary' })).rejects.toThrow('no recorded context summary for step 5');
  });
});

describe('replay of a thread run: the earlier runs rebuilt from their traces', () => {
  const earlier = [
    { type: 'run_started', at: '1', step: 0, input: 'What is 1+1 and 2+2?', maxSteps: 5, maxTokens: 1000 },
    {
      type: 'model_call',
      at: '2',
      step: 1,
      input: { messages: 1 },
      output: {
        text: '',
        toolCalls: [
          { id: 'a', name: 'calculator', arguments: { expression: '1+1' } },
          { id: 'b', name: 'calculator', arguments: { expression: '2+2' } },
        ],
      },
    },
    // Tool calls run in parallel: their events come in any order; the messages follow the answer's order.
    { type: 'tool_call', at: '3', step: 1, toolCallId: 'b', name: 'calculator', result: '4' },
    { type: 'tool_call', at: '4', step: 1, toolCallId: 'a', name: 'calculator', result: '2' },
    { type: 'model_call', at: '5', step: 2, error: { name: 'ModelTimeout', message: 'slow' } },
    { type: 'model_call', at: '6', step: 2, input: { messages: 4 }, output: { text: '2 and 4', toolCalls: [] } },
  ].map(parseTraceEvent);

  it('rebuilds the question, each answer and its tool results in order; a failed call wrote nothing', () => {
    expect(messagesOfTrace(earlier).map((m) => [m.step, m.seq, m.message.role, m.message.content])).toEqual([
      [0, 0, 'user', 'What is 1+1 and 2+2?'],
      [1, 0, 'assistant', ''],
      [1, 1, 'tool', '2'],
      [1, 2, 'tool', '4'],
      [2, 0, 'assistant', '2 and 4'],
    ]);
  });

  it('gives the history as the thread builds it: every earlier turn at step 0, numbered in order', () => {
    const run = { answer: '2 and 4', updatedAt: '7' } as never;
    const history = recordedHistory({
      run,
      events: [],
      history: [
        { run, events: earlier },
        { run, events: earlier },
      ],
    });
    expect(history).toHaveLength(10);
    expect(history.map((m) => [m.step, m.seq])).toEqual(Array.from({ length: 10 }, (_, i) => [0, i]));
  });

  it('a replayed request of another size diverges at that step', () => {
    const replayed = [{ type: 'model_call', at: '2', step: 1, input: { messages: 2 }, output: { text: 'x', toolCalls: [] } }].map(parseTraceEvent);
    expect(comparePrompts(earlier, earlier)).toEqual({ matched: true });
    expect(comparePrompts(earlier, replayed)).toMatchObject({ matched: false, step: 1, reason: expect.stringContaining('had 1 messages, the replayed one 2') });
  });
});
