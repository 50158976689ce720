import { fromAnthropicResponse, toAnthropicMessages } from '../../../lambdas/providers/anthropic';
import { type FakeProvider, startFakeAnthropic } from '../../../testing/fake-providers';
import { failure, providerFor, request } from './helpers';

describe('toAnthropicMessages', () => {
  it('alternates roles: tool results of a step in one user message, a following user text joins them, empty text is left out', () => {
    const messages = toAnthropicMessages([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Let me check.', toolCalls: [{ id: 'toolu_1', name: 'a', arguments: { q: 1 } }] },
      { role: 'tool', toolCallId: 'toolu_1', name: 'a', content: 'one' },
      { role: 'user', content: 'and also…' },
      { role: 'assistant', content: '', toolCalls: [] },
      { role: 'user', content: 'hello?' },
    ]);
    expect(messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_1', name: 'a', input: { q: 1 } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'one' },
          { type: 'text', text: 'and also…' },
          { type: 'text', text: 'hello?' },
        ],
      },
    ]);
  });

  it('reads a history another provider wrote: ids rewritten consistently, non-JSON arguments sent as {}', () => {
    const messages = toAnthropicMessages([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call:1/x', name: 'a', arguments: '{"broken', argumentsError: 'not valid JSON' }] },
      { role: 'tool', toolCallId: 'call:1/x', name: 'a', content: 'bad arguments', isError: true },
    ]);
    const use = messages[1]?.content[0] as { id: string; input: unknown };
    const result = messages[2]?.content[0] as { tool_use_id: string; is_error?: boolean };
    expect(use.id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(use.input).toEqual({});
    expect(result.tool_use_id).toBe(use.id);
    expect(result.is_error).toBe(true);
  });
});

describe('fromAnthropicResponse', () => {
  const read = (json: unknown) => fromAnthropicResponse(json, 'anthropic m', 'm');

  it('joins text blocks, keeps thinking blocks apart (they go back with the turn), normalises the stop reason', () => {
    const res = read({
      content: [
        { type: 'thinking', thinking: '…' },
        { type: 'text', text: 'a' },
        { type: 'tool_use', id: 'toolu_1', name: 'calc', input: { x: 1 } },
        { type: 'text', text: 'b' },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 3, output_tokens: 4 },
    });
    expect(res).toEqual({
      text: 'ab',
      toolCalls: [{ id: 'toolu_1', name: 'calc', arguments: { x: 1 } }],
      usage: { inputTokens: 3, outputTokens: 4 },
      finishReason: 'tool_use',
      model: 'm',
      reasoning: { provider: 'anthropic', blocks: [{ type: 'thinking', thinking: '…' }] },
    });
    expect(read({ content: [], stop_reason: 'max_tokens' }).finishReason).toBe('length');
    expect(read({ content: [], stop_reason: 'end_turn' }).finishReason).toBe('stop');
  });

  it.each([
    ['no content', { stop_reason: 'end_turn' }],
    ['a tool_use without an id', { content: [{ type: 'tool_use', name: 'calc', input: {} }] }],
  ])('%s is a malformed response (TransientError)', (_label, json) => {
    expect(() => read(json)).toThrow(expect.objectContaining({ name: 'TransientError' }));
  });
});

describe('anthropic provider', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeAnthropic();
  });
  afterAll(async () => fake.close());
  beforeEach(() => fake.reset());

  it('maps an overloaded 529 to TransientError with one request', async () => {
    fake.script({ kind: 'status', status: 529 });
    const err = await failure(providerFor(fake).complete(request()));
    expect(err).toMatchObject({ name: 'TransientError', status: 529 });
    expect(err.message).toContain('overloaded_error');
    expect(fake.requests).toHaveLength(1);
  });

  it('posts to {baseUrl}/v1/messages with a JSON content type', async () => {
    await providerFor(fake).complete(request());
    expect(fake.requests[0]).toMatchObject({ method: 'POST', path: '/v1/messages' });
    expect(fake.requests[0]?.headers['content-type']).toBe('application/json');
  });
});
