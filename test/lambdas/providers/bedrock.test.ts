import { classifyBedrockError, fromBedrockResponse, toBedrockMessages } from '../../../lambdas/providers/bedrock';
import { type FakeProvider, startFakeBedrock } from '../../../testing/fake-providers';
import { failure, providerFor, request } from './helpers';

describe('bedrock provider', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeBedrock();
  });
  afterAll(async () => fake.close());
  beforeEach(() => fake.reset());

  it.each([
    ['ThrottlingException', 429, 'RateLimited'],
    ['ServiceQuotaExceededException', 400, 'RateLimited'],
    ['ModelTimeoutException', 408, 'TimeoutError'],
    ['ServiceUnavailableException', 503, 'TransientError'],
    ['InternalServerException', 500, 'TransientError'],
    ['ModelNotReadyException', 429, 'TransientError'],
    ['ModelErrorException', 424, 'TransientError'],
    ['ValidationException', 400, 'BadRequest'],
    ['AccessDeniedException', 403, 'BadRequest'],
    ['ResourceNotFoundException', 404, 'BadRequest'],
    ['SomethingNewException', 409, 'BadRequest'],
    ['SomethingNewException', 502, 'TransientError'],
  ])('maps %s (HTTP %i) to %s, after exactly one request (SDK retries off)', async (errorType, status, name) => {
    fake.script({ kind: 'status', status, errorType, body: { message: 'scripted' } });
    const err = await failure(providerFor(fake).complete(request()));
    expect(err.name).toBe(name);
    expect(err.message).toContain(`bedrock m-1: ${errorType} (HTTP ${status}): scripted`);
    expect(fake.requests).toHaveLength(1);
  });

  it('maps stopReason content_filtered to ModelRefusal', async () => {
    fake.script({ kind: 'refusal', reason: 'content_filtered' });
    expect((await failure(providerFor(fake).complete(request()))).name).toBe('ModelRefusal');
  });

  it('sends no toolConfig without tools', async () => {
    await providerFor(fake).complete({ messages: [{ role: 'user', content: 'hi' }], tools: [], maxOutputTokens: 5 });
    expect(fake.requests[0]?.body).toEqual({ messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { maxTokens: 5 } });
  });
});

describe('toBedrockMessages', () => {
  it('alternates roles and rewrites ids another provider minted', () => {
    const messages = toBedrockMessages([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call.1', name: 'a', arguments: 'not json', argumentsError: 'bad' }] },
      { role: 'tool', toolCallId: 'call.1', name: 'a', content: 'error: bad arguments', isError: true },
      { role: 'user', content: 'next' },
    ]);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    const use = messages[1]?.content?.[0]?.toolUse;
    const result = messages[2]?.content?.[0]?.toolResult;
    expect(use?.toolUseId).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(use?.input).toEqual({});
    expect(result).toEqual({ toolUseId: use?.toolUseId, content: [{ text: 'error: bad arguments' }], status: 'error' });
    expect(messages[2]?.content?.[1]).toEqual({ text: 'next' });
  });
});

describe('fromBedrockResponse', () => {
  it('a response without a message is malformed (TransientError)', () => {
    expect(() => fromBedrockResponse({ $metadata: {}, stopReason: 'end_turn', output: undefined, usage: undefined, metrics: undefined }, 'bedrock m', 'm')).toThrow(
      expect.objectContaining({ name: 'TransientError' }),
    );
  });
});

describe('classifyBedrockError', () => {
  it('treats network errors and unknown failures as transient, the SDK handler timeout as TimeoutError', () => {
    expect(classifyBedrockError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'bedrock m').name).toBe('TransientError');
    expect(classifyBedrockError(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }), 'bedrock m').name).toBe('TimeoutError');
    expect(classifyBedrockError('weird', 'bedrock m').name).toBe('TransientError');
  });

  it('takes retry-after from the response headers of a throttle', () => {
    const err = classifyBedrockError(
      Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 429 }, $response: { headers: { 'retry-after': '3' } } }),
      'bedrock m',
    ) as { name: string; retryAfterSeconds?: number; status?: number };
    expect(err).toMatchObject({ name: 'RateLimited', retryAfterSeconds: 3, status: 429 });
  });
});
