import type { ModelProvider } from '../../../lambdas/core/types';
import { apiKeyFromSecret, createProvider, resolveApiKey } from '../../../lambdas/providers/index';
import { type ModelConfig, parseConfig } from '../../../lib/config';
import { type FakeProvider, startFakeAnthropic, startFakeOpenAI } from '../../../testing/fake-providers';
import { failure } from './helpers';

const modelConfig = (model: Record<string, unknown>): ModelConfig => parseConfig({ models: { primary: { model: 'm', contextWindowTokens: 128_000, ...model } } }).models.primary;

describe('resolveApiKey', () => {
  const fromEnv = modelConfig({ provider: 'openai', apiKeyEnv: 'MY_KEY' });

  it('reads the variable apiKeyEnv names', async () => {
    await expect(resolveApiKey(fromEnv, { MY_KEY: 'k' })).resolves.toBe('k');
  });

  it.each([
    ['unset', {}],
    ['empty', { MY_KEY: '' }],
    ['blank', { MY_KEY: '  ' }],
  ])('an %s variable is a BadRequest naming it', async (_label, env) => {
    const err = await failure(resolveApiKey(fromEnv, env));
    expect(err.name).toBe('BadRequest');
    expect(err.message).toContain('MY_KEY');
  });

  it('reads Secrets Manager when apiKeySecret is set and a reader is given (the secret wins over the variable)', async () => {
    const reads: string[] = [];
    const secrets = async (id: string) => {
      reads.push(id);
      return 'from-secret';
    };
    await expect(resolveApiKey({ ...fromEnv, apiKeySecret: 'agent/key' }, { MY_KEY: 'from-env' }, secrets)).resolves.toBe('from-secret');
    expect(reads).toEqual(['agent/key']);
  });

  it('falls back on the variable locally (no reader), and fails clearly with neither', async () => {
    await expect(resolveApiKey({ ...fromEnv, apiKeySecret: 'agent/key' }, { MY_KEY: 'from-env' })).resolves.toBe('from-env');
    const err = await failure(resolveApiKey(modelConfig({ provider: 'openai', apiKeySecret: 'agent/key' }), {}));
    expect(err).toMatchObject({ name: 'BadRequest', message: expect.stringContaining('agent/key') });
  });

  it('needs no key when none is configured (a local Ollama)', async () => {
    await expect(resolveApiKey(modelConfig({ provider: 'openai' }), {})).resolves.toBeUndefined();
  });

  it('takes the key out of a JSON secret', () => {
    expect(apiKeyFromSecret('sk-plain\n', 's')).toBe('sk-plain');
    expect(apiKeyFromSecret('{"apiKey":"sk-json","org":"o"}', 's')).toBe('sk-json');
    expect(apiKeyFromSecret('{"api_key":"sk-snake"}', 's')).toBe('sk-snake');
    expect(() => apiKeyFromSecret('{"token":"x"}', 's')).toThrow(expect.objectContaining({ name: 'BadRequest' }));
  });
});

describe('createProvider', () => {
  let openai: FakeProvider;
  let anthropic: FakeProvider;
  beforeAll(async () => {
    [openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
  });
  afterAll(async () => Promise.all([openai.close(), anthropic.close()]));
  beforeEach(() => {
    openai.reset();
    anthropic.reset();
  });
  const hi = { messages: [{ role: 'user' as const, content: 'hi' }], tools: [], maxOutputTokens: 5 };

  it('builds each provider', () => {
    expect(createProvider(modelConfig({ provider: 'openai' }))).toMatchObject({ provider: 'openai', model: 'm' });
    expect(createProvider(modelConfig({ provider: 'anthropic' }))).toMatchObject({ provider: 'anthropic', model: 'm' });
    expect(createProvider(modelConfig({ provider: 'bedrock', region: 'us-east-1' }))).toMatchObject({ provider: 'bedrock', model: 'm' });
    expect(createProvider(modelConfig({ provider: 'demo', model: 'default' }))).toMatchObject({ provider: 'demo', model: 'default' });
  });

  it('uses deps.demo for the demo provider when given', () => {
    const custom: ModelProvider = {
      provider: 'demo',
      model: 'custom',
      complete: async () => ({ text: '', toolCalls: [], usage: { inputTokens: 0, outputTokens: 0 }, finishReason: 'stop', model: 'custom' }),
    };
    const seen: ModelConfig[] = [];
    const built = createProvider(modelConfig({ provider: 'demo', model: 'default' }), {
      demo: (config) => {
        seen.push(config);
        return custom;
      },
    });
    expect(built).toBe(custom);
    expect(seen[0]?.model).toBe('default');
  });

  it('uses an explicit apiKey as is', async () => {
    await createProvider(modelConfig({ provider: 'anthropic', baseUrl: anthropic.url, apiKeyEnv: 'UNSET_VAR' }), { apiKey: 'sk-explicit', env: {} }).complete(hi);
    expect(anthropic.requests[0]?.headers['x-api-key']).toBe('sk-explicit');
  });

  it('a missing key fails the call (not the build) as a BadRequest naming the variable, with no request sent; a later call retries the lookup', async () => {
    const env: NodeJS.ProcessEnv = {};
    const provider = createProvider(modelConfig({ provider: 'openai', baseUrl: openai.url, apiKeyEnv: 'OPENAI_KEY_FOR_TEST' }), { env });
    const err = await failure(provider.complete(hi));
    expect(err).toMatchObject({ name: 'BadRequest', message: expect.stringContaining('OPENAI_KEY_FOR_TEST') });
    expect(openai.requests).toHaveLength(0);
    env.OPENAI_KEY_FOR_TEST = 'sk-later';
    await provider.complete(hi);
    expect(openai.requests[0]?.headers.authorization).toBe('Bearer sk-later');
  });

  it('reads the secret once for many calls', async () => {
    let reads = 0;
    const provider = createProvider(modelConfig({ provider: 'openai', baseUrl: openai.url, apiKeySecret: 'agent/openai' }), {
      secrets: async () => {
        reads++;
        return '{"apiKey":"sk-from-secret"}';
      },
    });
    await provider.complete(hi);
    await provider.complete(hi);
    expect(reads).toBe(1);
    expect(openai.requests.map((r) => r.headers.authorization)).toEqual(['Bearer sk-from-secret', 'Bearer sk-from-secret']);
  });
});
