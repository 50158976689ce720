import type { ModelProvider, ModelRequest } from '../../../lambdas/core/types';
import { createBedrockProvider } from '../../../lambdas/providers/bedrock';
import { createProvider, resolveApiKey } from '../../../lambdas/providers/index';
import { parseConfig } from '../../../lib/config';
import { type FakeProvider, type Protocol, startFakeProvider } from '../../fakes/providers';

const protocols: Protocol[] = ['openai', 'anthropic', 'bedrock'];

function providerFor(fake: FakeProvider, timeoutMs = 2000): ModelProvider {
  const model = parseConfig({ models: { primary: { provider: fake.protocol, model: 'm-1', baseUrl: fake.baseUrl, timeoutMs, apiKeyEnv: 'FAKE_KEY' } } }).models.primary;
  if (fake.protocol === 'bedrock') {
    return createBedrockProvider(model, { clientConfig: { region: 'us-east-1', credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' } } });
  }
  return createProvider(model, { env: { FAKE_KEY: 'sk-test-123' } });
}

const request = (messages: ModelRequest['messages'] = [{ role: 'user', content: 'What is 2+2?' }]): ModelRequest => ({
  system: 'be brief',
  messages,
  tools: [{ name: 'calculator', description: 'math', parameters: { type: 'object', properties: { expression: { type: 'string' } } } }],
  maxOutputTokens: 321,
});

describe.each(protocols)('%s provider', (protocol) => {
  let fake: FakeProvider;
  let provider: ModelProvider;
  beforeAll(async () => {
    fake = await startFakeProvider(protocol);
    provider = providerFor(fake);
  });
  afterAll(async () => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
  });

  it('speaks the wire protocol: two tool calls, tool results back, then a final text with usage', async () => {
    fake.script(
      { kind: 'tools', calls: [{ name: 'calculator', args: { expression: '2+2' } }, { name: 'calculator', args: { expression: '3*3' } }], usage: { input: 120, output: 30 } },
      { kind: 'text', text: '4 and 9', usage: { input: 200, output: 8 } },
    );
    const first = await provider.complete(request());
    expect(first.toolCalls.map((c) => c.arguments)).toEqual([{ expression: '2+2' }, { expression: '3*3' }]);
    expect(first.usage).toEqual({ inputTokens: 120, outputTokens: 30 });
    const [a, b] = first.toolCalls;
    const second = await provider.complete(
      request([
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content: '', toolCalls: first.toolCalls },
        { role: 'tool', toolCallId: a!.id, name: 'calculator', content: '4' },
        { role: 'tool', toolCallId: b!.id, name: 'calculator', content: '9' },
      ]),
    );
    expect(second).toMatchObject({ text: '4 and 9', toolCalls: [], usage: { inputTokens: 200, outputTokens: 8 } });
    expect(fake.requests).toHaveLength(2);
    const sent = JSON.stringify(fake.requests[1]?.body);
    expect(sent).toContain(a!.id);
    expect(sent).toContain(b!.id);
    const body = fake.requests[0]!.body;
    if (protocol === 'openai') {
      expect(fake.requests[0]?.path).toBe('/v1/chat/completions');
      expect(fake.requests[0]?.headers.authorization).toBe('Bearer sk-test-123');
      expect(body).toMatchObject({ model: 'm-1', max_tokens: 321, tools: [{ type: 'function', function: { name: 'calculator' } }] });
      expect((fake.requests[1]!.body.messages as { role: string }[]).map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool']);
    } else if (protocol === 'anthropic') {
      expect(fake.requests[0]?.path).toBe('/v1/messages');
      expect(fake.requests[0]?.headers['x-api-key']).toBe('sk-test-123');
      expect(fake.requests[0]?.headers['anthropic-version']).toBe('2023-06-01');
      expect(body).toMatchObject({ model: 'm-1', max_tokens: 321, system: 'be brief', tools: [{ name: 'calculator', input_schema: { type: 'object' } }] });
      // Both tool results travel in one user message.
      expect((fake.requests[1]!.body.messages as { role: string }[]).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    } else {
      expect(fake.requests[0]?.path).toBe('/model/m-1/converse');
      expect(String(fake.requests[0]?.headers.authorization)).toContain('AWS4-HMAC-SHA256');
      expect(body).toMatchObject({ inferenceConfig: { maxTokens: 321 }, system: [{ text: 'be brief' }] });
    }
  });

  const faults: [string, Parameters<FakeProvider['script']>[0], string][] = [
    ['500', { kind: 'status', status: 500 }, 'TransientError'],
    ['503', { kind: 'status', status: 503 }, 'TransientError'],
    ['429 with Retry-After', { kind: 'status', status: 429, headers: { 'retry-after': '7' }, body: { error: { type: 'rate_limit_error', message: 'slow down' } } }, 'RateLimited'],
    ['400', { kind: 'status', status: 400, body: { error: { message: 'bad field' } } }, 'BadRequest'],
    ['refusal', { kind: 'refusal' }, 'ModelRefusal'],
  ];
  if (protocol !== 'bedrock') {
    faults.push(
      ['529 overloaded', { kind: 'status', status: 529, body: { type: 'error', error: { type: 'overloaded_error' } } }, 'TransientError'],
      ['429 insufficient_quota', { kind: 'quota' }, 'QuotaExhausted'],
      ['401', { kind: 'status', status: 401, body: { error: { message: 'invalid api key' } } }, 'BadRequest'],
      ['truncated JSON', { kind: 'truncated' }, 'TransientError'],
      ['400 content policy', { kind: 'status', status: 400, body: { error: { code: 'content_policy_violation', message: 'flagged' } } }, 'ModelRefusal'],
    );
  }
  it.each(faults)('maps %s to %s, after exactly one request', async (_label, reply, name) => {
    fake.script(reply);
    const err = await provider.complete(request()).catch((e: Error) => e);
    expect((err as Error).name).toBe(name);
    expect(fake.requests).toHaveLength(1);
    expect((err as Error).message).not.toContain('sk-test-123');
    if (name === 'RateLimited' && protocol !== 'bedrock') expect((err as { retryAfterSeconds?: number }).retryAfterSeconds).toBe(7);
  });

  it('fires its client timeout as TimeoutError', async () => {
    fake.script({ kind: 'hang' });
    const quick = providerFor(fake, 200);
    const started = Date.now();
    const err = await quick.complete(request()).catch((e: Error) => e);
    expect((err as Error).name).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(1500);
    expect(fake.requests).toHaveLength(1);
  });
});

describe('openai tool arguments that are not JSON', () => {
  it('come back as a tool call marked with argumentsError, not a crash', async () => {
    const fake = await startFakeProvider('openai');
    try {
      fake.script({ kind: 'bad-args', name: 'calculator', raw: '{"expression": "2+' });
      const res = await providerFor(fake).complete(request());
      expect(res.toolCalls[0]).toMatchObject({ name: 'calculator', arguments: '{"expression": "2+' });
      expect(res.toolCalls[0]?.argumentsError).toMatch(/JSON/);
    } finally {
      await fake.close();
    }
  });
});

describe('API keys', () => {
  const model = parseConfig({ models: { primary: { provider: 'openai', model: 'x', apiKeyEnv: 'MY_KEY' } } }).models.primary;
  it('come from the named environment variable locally', async () => {
    await expect(resolveApiKey(model, { MY_KEY: 'k' })).resolves.toBe('k');
    await expect(resolveApiKey(model, {})).rejects.toThrow('the API key variable MY_KEY (models.*.apiKeyEnv) is empty or not set');
  });
  it('come from Secrets Manager when a secret is configured', async () => {
    const withSecret = { ...model, apiKeySecret: 'agent/key' };
    const reads: string[] = [];
    await expect(
      resolveApiKey(withSecret, {}, async (id) => {
        reads.push(id);
        return 'from-secret';
      }),
    ).resolves.toBe('from-secret');
    expect(reads).toEqual(['agent/key']);
  });
});
