import type { ModelProvider, ModelRequest } from '../../../lambdas/core/types';
import { createProvider } from '../../../lambdas/providers';
import { parseConfig } from '../../../lib/config';
import type { FakeProvider } from '../../../testing/fake-providers';

/** The API key the provider tests use; no error message may contain it. */
export const KEY = 'sk-test-123';

/** A provider pointed at `fake`, built the way the runtime builds it (key from the env var the config names). */
export function providerFor(fake: FakeProvider, timeoutMs = 2000): ModelProvider {
  const model = parseConfig({
    models: {
      primary: {
        provider: fake.protocol,
        model: 'm-1',
        contextWindowTokens: 128_000,
        baseUrl: fake.url,
        timeoutMs,
        ...(fake.protocol === 'bedrock' ? { region: 'us-east-1' } : { apiKeyEnv: 'FAKE_KEY' }),
      },
    },
  }).models.primary;
  return createProvider(model, {
    env: { FAKE_KEY: KEY },
    bedrock: { clientConfig: { credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' } } },
  });
}

/** A request with one tool (calculator), a system prompt and max 321 output tokens. */
export const request = (messages: ModelRequest['messages'] = [{ role: 'user', content: 'What is 2+2?' }]): ModelRequest => ({
  system: 'be brief',
  messages,
  tools: [{ name: 'calculator', description: 'math', parameters: { type: 'object', properties: { expression: { type: 'string' } } } }],
  maxOutputTokens: 321,
});

/** The error a promise rejects with (test/helpers/async.ts). */
export { rejection as failure } from '../../helpers/async';
