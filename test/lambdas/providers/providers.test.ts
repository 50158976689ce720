import type { ModelProvider } from '../../../lambdas/core/types';
import { FAULTS, type FakeProvider, type Protocol, type Reply, startFakeProvider } from '../../../testing/fake-providers';
import { failure, KEY, providerFor, request } from './helpers';

/**
 * What every provider owes the runtime, against a real HTTP fake of its service: the wire format, normalised usage,
 * every fault mapped to its taxonomy error after exactly ONE request (Step Functions owns retries), and the client
 * timeout. Protocol-specific details are in openai/anthropic/bedrock.test.ts.
 */

const protocols: Protocol[] = ['openai', 'anthropic', 'bedrock'];

describe.each(protocols)('%s provider', (protocol) => {
  let fake: FakeProvider;
  let provider: ModelProvider;
  beforeAll(async () => {
    fake = await startFakeProvider(protocol);
    provider = providerFor(fake);
  });
  afterAll(async () => fake.close());
  beforeEach(() => fake.reset());

  it('speaks the wire protocol: two tool calls, tool results back, then a final text with usage', async () => {
    fake.script(
      {
        kind: 'tools',
        calls: [
          { name: 'calculator', args: { expression: '2+2' } },
          { name: 'calculator', args: { expression: '3*3' } },
        ],
        usage: { input: 120, output: 30 },
      },
      { kind: 'text', text: '4 and 9', usage: { input: 200, output: 8 } },
    );
    const first = await provider.complete(request());
    expect(first).toMatchObject({ text: '', finishReason: 'tool_use', usage: { inputTokens: 120, outputTokens: 30 } });
    expect(first.toolCalls.map((c) => [c.name, c.arguments, c.argumentsError])).toEqual([
      ['calculator', { expression: '2+2' }, undefined],
      ['calculator', { expression: '3*3' }, undefined],
    ]);
    const [a, b] = first.toolCalls;
    const second = await provider.complete(
      request([
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content: '', toolCalls: first.toolCalls },
        { role: 'tool', toolCallId: a!.id, name: 'calculator', content: '4' },
        { role: 'tool', toolCallId: b!.id, name: 'calculator', content: '9', isError: true },
      ]),
    );
    expect(second).toEqual({ text: '4 and 9', toolCalls: [], usage: { inputTokens: 200, outputTokens: 8 }, finishReason: 'stop', model: expect.any(String) });
    expect(fake.requests).toHaveLength(2);

    const [req1, req2] = fake.requests;
    const messages = req2!.body.messages;
    if (protocol === 'openai') {
      expect(req1!.path).toBe('/v1/chat/completions');
      expect(req1!.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(req1!.body).toEqual({
        model: 'm-1',
        max_tokens: 321,
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'What is 2+2?' },
        ],
        tools: [{ type: 'function', function: { name: 'calculator', description: 'math', parameters: { type: 'object', properties: { expression: { type: 'string' } } } } }],
      });
      expect(messages).toEqual([
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'What is 2+2?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: a!.id, type: 'function', function: { name: 'calculator', arguments: '{"expression":"2+2"}' } },
            { id: b!.id, type: 'function', function: { name: 'calculator', arguments: '{"expression":"3*3"}' } },
          ],
        },
        { role: 'tool', tool_call_id: a!.id, content: '4' },
        { role: 'tool', tool_call_id: b!.id, content: '9' },
      ]);
    } else if (protocol === 'anthropic') {
      expect(req1!.path).toBe('/v1/messages');
      expect(req1!.headers['x-api-key']).toBe(KEY);
      expect(req1!.headers['anthropic-version']).toBe('2023-06-01');
      expect(req1!.headers.authorization).toBeUndefined();
      expect(req1!.body).toEqual({
        model: 'm-1',
        max_tokens: 321,
        system: 'be brief',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'What is 2+2?' }] }],
        tools: [{ name: 'calculator', description: 'math', input_schema: { type: 'object', properties: { expression: { type: 'string' } } } }],
      });
      // Both tool results travel in one user message.
      expect(messages).toEqual([
        { role: 'user', content: [{ type: 'text', text: 'What is 2+2?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: a!.id, name: 'calculator', input: { expression: '2+2' } },
            { type: 'tool_use', id: b!.id, name: 'calculator', input: { expression: '3*3' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: a!.id, content: '4' },
            { type: 'tool_result', tool_use_id: b!.id, content: '9', is_error: true },
          ],
        },
      ]);
    } else {
      expect(req1!.path).toBe('/model/m-1/converse');
      expect(String(req1!.headers.authorization)).toContain('AWS4-HMAC-SHA256');
      expect(req1!.body).toEqual({
        messages: [{ role: 'user', content: [{ text: 'What is 2+2?' }] }],
        system: [{ text: 'be brief' }],
        inferenceConfig: { maxTokens: 321 },
        toolConfig: {
          tools: [{ toolSpec: { name: 'calculator', description: 'math', inputSchema: { json: { type: 'object', properties: { expression: { type: 'string' } } } } } }],
        },
      });
      expect(messages).toEqual([
        { role: 'user', content: [{ text: 'What is 2+2?' }] },
        {
          role: 'assistant',
          content: [
            { toolUse: { toolUseId: a!.id, name: 'calculator', input: { expression: '2+2' } } },
            { toolUse: { toolUseId: b!.id, name: 'calculator', input: { expression: '3*3' } } },
          ],
        },
        {
          role: 'user',
          content: [
            { toolResult: { toolUseId: a!.id, content: [{ text: '4' }], status: 'success' } },
            { toolResult: { toolUseId: b!.id, content: [{ text: '9' }], status: 'error' } },
          ],
        },
      ]);
    }
  });

  const faults: [label: string, error: string, reply: Reply][] = [
    ['500', 'TransientError', FAULTS.status500],
    ['503', 'TransientError', FAULTS.status503],
    ['429 with Retry-After', 'RateLimited', { kind: 'status', status: 429, headers: { 'retry-after': '7' } }],
    ['400', 'BadRequest', FAULTS.status400],
    ['a refusal', 'ModelRefusal', FAULTS.refusal],
    ['truncated JSON', 'TransientError', FAULTS.truncated],
    ['a reset connection', 'TransientError', FAULTS.reset],
  ];
  if (protocol !== 'bedrock') {
    faults.push(
      ['529 overloaded', 'TransientError', FAULTS.status529],
      ['insufficient quota', 'QuotaExhausted', FAULTS.quota],
      ['401', 'BadRequest', FAULTS.status401],
      ['400 content policy', 'ModelRefusal', { kind: 'status', status: 400, body: { error: { code: 'content_policy_violation', message: 'flagged' } } }],
    );
  }
  it.each(faults)('maps %s to %s, after exactly one request', async (_label, name, reply) => {
    fake.script(reply);
    const err = await failure(provider.complete(request()));
    expect(err.name).toBe(name);
    expect(fake.requests).toHaveLength(1);
    expect(err.message).toContain(protocol);
    expect(err.message).not.toContain(KEY);
    if (name === 'RateLimited') expect(err.retryAfterSeconds).toBe(7);
  });

  it('names the provider, the status and the body in an HTTP error', async () => {
    fake.script({ kind: 'status', status: 503, body: { message: 'upstream is being upgraded' } });
    const err = await failure(provider.complete(request()));
    expect(err.message).toMatch(new RegExp(`^${protocol} m-1`));
    expect(err.message).toContain('503');
    expect(err.message).toContain('upstream is being upgraded');
    expect(err.status).toBe(503);
  });

  it('fires its client timeout as TimeoutError naming the timeout, after one request', async () => {
    fake.script(FAULTS.hang);
    const quick = providerFor(fake, 200);
    const started = Date.now();
    const err = await failure(quick.complete(request()));
    expect(err.name).toBe('TimeoutError');
    expect(err.message).toContain('200 ms');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(fake.requests).toHaveLength(1);
  });

  it('waits for a slow provider that answers within the timeout', async () => {
    // biome-ignore lint/suspicious/noThenProperty: a scripted reply's follow-up, not a thenable
    fake.script({ kind: 'delay', ms: 50, then: { kind: 'text', text: 'slow but fine' } });
    await expect(provider.complete(request())).resolves.toMatchObject({ text: 'slow but fine' });
  });
});
