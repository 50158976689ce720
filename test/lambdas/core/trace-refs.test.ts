import type { StoredMessage } from '../../../lambdas/core/ports';
import { ofKind, parseTraceEvent } from '../../../lambdas/core/trace';
import { resolveTrace } from '../../../lambdas/core/trace-refs';

const TEN_KB = 'x'.repeat(10 * 1024);
const messages: StoredMessage[] = [
  { step: 0, seq: 0, message: { role: 'user', content: 'fetch' }, at: '2026-01-01T00:00:00.000Z' },
  {
    step: 1,
    seq: 0,
    message: { role: 'assistant', content: 'calling', toolCalls: [{ id: 'c1', name: 'blob', arguments: {} }] },
    at: '2026-01-01T00:00:01.000Z',
    event: parseTraceEvent({
      type: 'model_call',
      at: '2026-01-01T00:00:01.000Z',
      step: 1,
      input: { messages: 1, lastRef: { step: 0, seq: 0 }, tools: ['blob'] },
      outputRef: { step: 1, seq: 0 },
    }),
  },
  {
    step: 1,
    seq: 1,
    message: { role: 'tool', toolCallId: 'c1', name: 'blob', content: TEN_KB },
    at: '2026-01-01T00:00:02.000Z',
    event: parseTraceEvent({ type: 'tool_call', at: '2026-01-01T00:00:02.000Z', step: 1, toolCallId: 'c1', resultRef: { step: 1, seq: 1 }, isError: false }),
  },
];

describe('resolveTrace', () => {
  it('joins the referenced messages back into the events, in time order with the stored events', () => {
    const trace = resolveTrace(
      [
        { type: 'run_started', at: '2026-01-01T00:00:00.500Z', step: 0 },
        { type: 'run_finished', at: '2026-01-01T00:00:03.000Z', step: 1 },
      ].map(parseTraceEvent),
      messages,
    );
    expect(trace.map((e) => e.type)).toEqual(['run_started', 'model_call', 'tool_call', 'run_finished']);
    const [model] = trace.filter(ofKind('model_call'));
    const [tool] = trace.filter(ofKind('tool_call'));
    expect(model?.input).toEqual({ messages: 1, lastRef: { step: 0, seq: 0 }, last: { role: 'user', content: 'fetch' }, tools: ['blob'] });
    expect(model?.output).toEqual({ text: 'calling', toolCalls: [{ id: 'c1', name: 'blob', arguments: {} }] });
    expect(tool?.result).toBe(TEN_KB);
  });

  it('passes a recorded trace with its content inline through unchanged', () => {
    const inline = [parseTraceEvent({ type: 'tool_call', at: '2026-01-01T00:00:02.000Z', step: 1, result: 'inline', input: { last: null } })];
    expect(resolveTrace(inline, [])).toEqual(inline);
  });

  it('a reference to a message that is not there resolves to null, never to another message', () => {
    const event = resolveTrace([parseTraceEvent({ type: 'tool_call', at: 'x', step: 2, resultRef: { step: 2, seq: 1 } })], messages)
      .filter(ofKind('tool_call'))
      .find((e) => e.step === 2);
    expect(event?.result).toBeNull();
  });
});
