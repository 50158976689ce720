import { pathOf, recordedDependencies } from '../../../lambdas/core/replay';
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
  const run = { status: 'CANCELLED' as const, stopReason: 'CANCELLED' };

  it('a discarded call is not a step of the path', () => {
    expect(pathOf(events, run).steps).toEqual([{ step: 1, calls: ['calculator({"expression":"1+1"})'] }]);
  });

  it('is never served to a replay', async () => {
    const { model } = recordedDependencies({ run: { ...run }, events } as never);
    const request = { messages: [{ role: 'user' as const, content: 'hi' }, { role: 'assistant' as const, content: '', toolCalls: [] }], tools: [], maxOutputTokens: 10 };
    await expect(model('primary').complete(request)).rejects.toThrow('no recorded model call left for step 2');
  });
});
