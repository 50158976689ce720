import { createOpenAIProvider, fromOpenAIResponse, maxTokensField, toOpenAIMessages } from '../../../lambdas/providers/openai';
import { parseConfig } from '../../../lib/config';
import { FAULTS, type FakeProvider, startFakeOpenAI } from '../../../testing/fake-providers';
import { failure, providerFor, request } from './helpers';

describe('openai provider', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  afterAll(async () => fake.close());
  beforeEach(() => fake.reset());

  it('returns tool arguments that are not JSON as a call marked with argumentsError, not a failure', async () => {
    fake.script(FAULTS.badArgs);
    const res = await providerFor(fake).complete(request());
    expect(res.toolCalls).toHaveLength(1);
    expect(res.toolCalls[0]).toMatchObject({ name: 'calculator', arguments: '{"expression": "2+' });
    expect(res.toolCalls[0]?.argumentsError).toMatch(/^not valid JSON/);
    expect(fake.requests).toHaveLength(1);
  });

  it('sends such arguments back as the model wrote them', () => {
    const messages = toOpenAIMessages(undefined, [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'calculator', arguments: '{"expression": "2+', argumentsError: 'bad' }] },
      { role: 'tool', toolCallId: 'c1', name: 'calculator', content: 'arguments were not valid JSON', isError: true },
    ]);
    expect(messages[1]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 'calculator', arguments: '{"expression": "2+' } }],
    });
    expect(messages[2]).toEqual({ role: 'tool', tool_call_id: 'c1', content: 'arguments were not valid JSON' });
  });

  it('maps finish_reason content_filter to ModelRefusal', async () => {
    fake.script({ kind: 'refusal', reason: 'content_filter' });
    expect((await failure(providerFor(fake).complete(request()))).name).toBe('ModelRefusal');
  });

  it('sends no tools key when there are no tools, and no Authorization without a key', async () => {
    const model = parseConfig({ models: { primary: { provider: 'openai', model: 'llama3.1', contextWindowTokens: 128_000, baseUrl: fake.url } } }).models.primary;
    await createOpenAIProvider(model).complete({ messages: [{ role: 'user', content: 'hi' }], tools: [], maxOutputTokens: 10 });
    expect(fake.requests[0]?.body).toEqual({ model: 'llama3.1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
    expect(fake.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('uses max_completion_tokens with OpenAI itself, max_tokens with compatible servers', () => {
    expect(maxTokensField('https://api.openai.com/v1')).toBe('max_completion_tokens');
    expect(maxTokensField('http://127.0.0.1:11434/v1')).toBe('max_tokens');
    expect(maxTokensField('https://litellm.internal/v1')).toBe('max_tokens');
  });

  it('posts to the default base URL with max_completion_tokens (stubbed fetch: no network)', async () => {
    const seen: { url: string; body: Record<string, unknown> }[] = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      seen.push({ url, body: JSON.parse(String(init.body)) });
      return new Response(JSON.stringify({ choices: [{ finish_reason: 'stop', message: { content: 'ok' } }] }), { status: 200 });
    }) as typeof fetch;
    const model = parseConfig({ models: { primary: { provider: 'openai', model: 'gpt-x', contextWindowTokens: 128_000 } } }).models.primary;
    await createOpenAIProvider(model, { apiKey: 'k', fetchImpl }).complete({ messages: [{ role: 'user', content: 'hi' }], tools: [], maxOutputTokens: 77 });
    expect(seen[0]?.url).toBe('https://api.openai.com/v1/chat/completions');
    expect(seen[0]?.body.max_completion_tokens).toBe(77);
    expect(seen[0]?.body.max_tokens).toBeUndefined();
  });
});

describe('fromOpenAIResponse', () => {
  const read = (json: unknown) => fromOpenAIResponse(json, 'openai m', 'm');

  it('accepts what compatible servers vary on: object arguments, missing ids, content parts, missing usage', () => {
    const res = read({
      choices: [
        {
          finish_reason: 'tool_calls',
          message: {
            content: [
              { type: 'text', text: 'a' },
              { type: 'text', text: 'b' },
            ],
            tool_calls: [{ function: { name: 'calculator', arguments: { expression: '1+1' } } }, { id: 'x', function: { name: 'search_docs', arguments: '' } }],
          },
        },
      ],
    });
    expect(res.text).toBe('ab');
    expect(res.toolCalls[0]).toMatchObject({ name: 'calculator', arguments: { expression: '1+1' } });
    expect(res.toolCalls[0]?.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(res.toolCalls[1]).toEqual({ id: 'x', name: 'search_docs', arguments: {} });
    expect(res.usage).toEqual({ inputTokens: 0, outputTokens: 0 });
    expect(res.finishReason).toBe('tool_use');
    expect(res.model).toBe('m');
  });

  it.each([
    ['no choices', { choices: [] }],
    ['not an object', 'hello'],
    ['a tool call without a name', { choices: [{ message: { tool_calls: [{ id: 'a', function: { arguments: '{}' } }] } }] }],
  ])('%s is a malformed response (TransientError)', (_label, json) => {
    expect(() => read(json)).toThrow(expect.objectContaining({ name: 'TransientError', message: expect.stringContaining('openai m returned a malformed response') }));
  });

  it('a refusal field is a ModelRefusal', () => {
    expect(() => read({ choices: [{ finish_reason: 'stop', message: { content: null, refusal: "I can't help with that." } }] })).toThrow(
      expect.objectContaining({ name: 'ModelRefusal' }),
    );
  });

  it('normalises length', () => {
    expect(read({ choices: [{ finish_reason: 'length', message: { content: 'cut' } }] }).finishReason).toBe('length');
  });
});
