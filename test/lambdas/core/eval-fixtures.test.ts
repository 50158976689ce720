import { caseFromRun, fixturesFromTrace, fixtureToolRunner } from '../../../lambdas/core/eval-fixtures';
import { trace } from '../../../lambdas/core/trace';
import type { ToolCall, ToolContext, TraceEvent } from '../../../lambdas/core/types';

describe('fixtures', () => {
  const ctx = (runId: string): ToolContext => ({ runId, step: 1, toolCallId: 'c1', idempotencyKey: 'k' });
  const call = (args: unknown): ToolCall => ({ id: 'c1', name: 'calculator', arguments: args });

  it('serves a call with the same name and arguments (any key order), in order; names a call that has none; leaves other runs to the real tools', async () => {
    const real = jest.fn(async () => ({ content: 'real' }));
    const misses: string[] = [];
    const fixtures = [
      { tool: 'calculator', arguments: { expression: '1+1', precision: 2 }, result: '2' },
      { tool: 'calculator', arguments: { precision: 2, expression: '1+1' }, result: '2.00', isError: false },
    ];
    const run = fixtureToolRunner(
      real,
      (id) => (id === 'fx' ? fixtures : undefined),
      (_id, c) => misses.push(c),
    );
    expect(await run(call({ precision: 2, expression: '1+1' }), ctx('fx'))).toEqual({ content: '2' });
    expect(await run(call({ expression: '1+1', precision: 2 }), ctx('fx'))).toEqual({ content: '2.00' });
    expect(await run(call({ expression: '1+1', precision: 2 }), ctx('fx'))).toEqual({ content: '2.00' });
    expect(await run(call({ expression: '2+2' }), ctx('fx'))).toMatchObject({ isError: true, content: expect.stringContaining('calculator({"expression":"2+2"})') });
    expect(misses).toEqual(['calculator({"expression":"2+2"})']);
    expect(real).not.toHaveBeenCalled();
    expect(await run(call({ expression: '2+2' }), ctx('live'))).toEqual({ content: 'real' });
  });

  it('makes a case from a recorded run: input, tool results as fixtures, status, the answer as reference', () => {
    const events = [
      { ...trace.runStarted({ step: 0, input: 'What is 6 * 7?', maxSteps: 20, maxTokens: 1000 }), at: 't0' },
      { ...trace.toolCall({ step: 1, toolCallId: 'c1', name: 'calculator', arguments: { expression: '6 * 7' }, idempotencyKey: 'k', latencyMs: 1 }), at: 't1', result: '42' },
      {
        ...trace.toolCall({ step: 1, toolCallId: 'c2', name: 'calculator', arguments: {}, idempotencyKey: 'k', latencyMs: 1, error: { name: 'TransientError', message: 'x' } }),
        at: 't1',
      },
    ] as TraceEvent[];
    expect(fixturesFromTrace(events)).toEqual([{ tool: 'calculator', arguments: { expression: '6 * 7' }, result: '42' }]);
    expect(caseFromRun({ runId: 'abc', status: 'SUCCEEDED', answer: '42.' }, events)).toEqual({
      id: 'run-abc',
      input: 'What is 6 * 7?',
      fixtures: [{ tool: 'calculator', arguments: { expression: '6 * 7' }, result: '42' }],
      reference: '42.',
      expect: { status: 'SUCCEEDED' },
    });
    expect(() => caseFromRun({ runId: 'abc', status: 'SUCCEEDED', answer: null }, [])).toThrow('no run_started event');
  });
});
