import { ofKind } from '../../lambdas/core/trace';
import type { LocalEngine } from '../../local/engine';
import { type FakeProvider, type Protocol, type Reply, startFakeProvider } from '../../testing/fake-providers';
import { testEngine } from '../helpers/engine';

/**
 * Every fault of a real provider, through the real state machine: how many requests reached the fake server, how
 * the run ended, and what the trace says. Retries are the state machine's (3 attempts in all here).
 */
const protocols: Protocol[] = ['openai', 'anthropic', 'bedrock'];

describe.each(protocols)('%s as the primary model', (protocol) => {
  let primary: FakeProvider;
  let fallback: FakeProvider;
  let engine: LocalEngine;
  beforeAll(async () => {
    primary = await startFakeProvider(protocol);
    fallback = await startFakeProvider('openai');
    process.env.AWS_ACCESS_KEY_ID ??= 'AKIDFAKE';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'fake';
    engine = await testEngine({
      models: {
        primary: {
          provider: protocol,
          model: 'primary-1',
          contextWindowTokens: 128_000,
          baseUrl: primary.baseUrl,
          timeoutMs: 400,
          ...(protocol === 'bedrock' ? { region: 'us-east-1' } : { apiKeyEnv: 'FAKE_PROVIDER_KEY' }),
        },
        fallback: { provider: 'openai', model: 'fallback-1', contextWindowTokens: 128_000, baseUrl: fallback.baseUrl, timeoutMs: 400 },
      },
      retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 5 },
      breaker: { enabled: false },
    });
    process.env.FAKE_PROVIDER_KEY = 'sk-fake';
  });
  afterAll(async () => {
    await engine.close();
    await primary.close();
    await fallback.close();
  });
  beforeEach(() => {
    primary.requests.length = 0;
    fallback.requests.length = 0;
    fallback.setDefault({ kind: 'text', text: 'fallback answer' });
  });

  it('answers through two tool calls (happy path), usage normalised and recorded', async () => {
    primary.script(
      {
        kind: 'tools',
        calls: [
          { name: 'calculator', args: { expression: '17 * 23' } },
          { name: 'search_docs', args: { query: 'circuit breaker' } },
        ],
        usage: { input: 300, output: 40 },
      },
      { kind: 'text', text: '17 * 23 = 391, and the breaker opens after five failures.', usage: { input: 900, output: 25 } },
    );
    const { run } = await engine.run({ input: 'What is 17 * 23 and how does the breaker work?' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', steps: 2, usage: { inputTokens: 1200, outputTokens: 65 } });
    expect(run.answer).toContain('391');
    expect(primary.requests).toHaveLength(2);
    expect(fallback.requests).toHaveLength(0);
    const trace = await engine.runtime.runs.listEvents(run.runId);
    expect(trace.filter((e) => e.type === 'tool_call').map((e) => [e.name, e.result === '391' || String(e.result).includes('breaker')])).toEqual(
      expect.arrayContaining([
        ['calculator', true],
        ['search_docs', true],
      ]),
    );
    expect(trace.find((e) => e.type === 'model_call')).toMatchObject({ provider: protocol, model: 'primary-1', usage: { inputTokens: 300, outputTokens: 40 } });
  });

  const faultCases: [string, Reply, number, string][] = [
    ['400 → exactly 1 request, then the fallback', { kind: 'status', status: 400, body: { error: { message: 'bad request' } } }, 1, 'BadRequest'],
    ['500 → 3 attempts, then the fallback', { kind: 'status', status: 500 }, 3, 'TransientError'],
    ['503 → 3 attempts, then the fallback', { kind: 'status', status: 503 }, 3, 'TransientError'],
    ['a hang past the timeout → 3 attempts, then the fallback', { kind: 'hang' }, 3, 'TimeoutError'],
  ];
  if (protocol !== 'bedrock') {
    faultCases.push(
      ['529 → 3 attempts, then the fallback', { kind: 'status', status: 529 }, 3, 'TransientError'],
      ['429 insufficient_quota → 1 request, then the fallback', { kind: 'quota' }, 1, 'QuotaExhausted'],
      ['401 → exactly 1 request, then the fallback', { kind: 'status', status: 401, body: { error: { message: 'invalid key' } } }, 1, 'BadRequest'],
      ['truncated JSON → 3 attempts, then the fallback', { kind: 'truncated' }, 3, 'TransientError'],
      [
        '429 with Retry-After past the retry window → 1 request, then the fallback at once',
        { kind: 'status', status: 429, headers: { 'retry-after': '60' } },
        1,
        'RetryAfterTooLong',
      ],
    );
  }
  it.each(faultCases)('%s', async (_label, reply, requests, errorName) => {
    primary.setDefault(reply);
    try {
      const { run } = await engine.run({ input: 'Say something.' });
      expect(primary.requests).toHaveLength(requests);
      expect(fallback.requests.length).toBeGreaterThanOrEqual(1);
      expect(run.status).toBe('DEGRADED');
      expect(run.answer).toContain('fallback answer');
      expect(run.degraded).toEqual([{ dependency: 'model:primary', reason: errorName, fallback: 'model:fallback' }]);
      const trace = await engine.runtime.runs.listEvents(run.runId);
      const failed = trace.filter(ofKind('model_call')).filter((e) => e.tier === 'primary');
      expect(failed).toHaveLength(requests);
      expect(failed.every((e) => e.error?.name === (errorName === 'RetryAfterTooLong' ? 'RateLimited' : errorName))).toBe(true);
    } finally {
      primary.setDefault({ kind: 'text', text: 'done' });
    }
  });

  it('a refusal → 1 request, no fallback, the run ends with a refusal notice', async () => {
    primary.script({ kind: 'refusal' });
    const { run } = await engine.run({ input: 'Something disallowed.' });
    expect(primary.requests).toHaveLength(1);
    expect(fallback.requests).toHaveLength(0);
    expect(run).toMatchObject({ status: 'SUCCEEDED', stopReason: 'MODEL_REFUSAL' });
    expect(run.answer).toContain('declined');
  });

  if (protocol !== 'bedrock') {
    it('a 429 with a short Retry-After is retried no sooner than it says', async () => {
      primary.script({ kind: 'status', status: 429, headers: { 'retry-after': '1' } }, { kind: 'text', text: 'after the wait' });
      const started = Date.now();
      const { run } = await engine.run({ input: 'Hello' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(primary.requests).toHaveLength(2);
      expect(run).toMatchObject({ status: 'SUCCEEDED', answer: 'after the wait' });
    });
  }
});

describe('tool arguments that are not JSON', () => {
  it('go back to the model as a tool error and the run continues', async () => {
    const primary = await startFakeProvider('openai');
    const engine = await testEngine({ models: { primary: { provider: 'openai', model: 'm', contextWindowTokens: 128_000, baseUrl: primary.baseUrl, timeoutMs: 1000 } } });
    try {
      primary.script({ kind: 'bad-args', name: 'calculator', raw: '{"expression": "2+' }, { kind: 'text', text: 'Sorry, let me answer directly: 4.' });
      const { run } = await engine.run({ input: 'What is 2+2?' });
      expect(run).toMatchObject({ status: 'SUCCEEDED', steps: 2, answer: 'Sorry, let me answer directly: 4.' });
      const sent = primary.requests[1]?.body.messages as { role: string; content: string }[];
      expect(sent.find((m) => m.role === 'tool')?.content).toMatch(/not valid JSON/);
    } finally {
      await engine.close();
      await primary.close();
    }
  });
});

describe.each(protocols)('%s: a valid answer over 1 MiB', (protocol) => {
  let primary: FakeProvider;
  let fallback: FakeProvider;
  let engine: LocalEngine;
  beforeAll(async () => {
    primary = await startFakeProvider(protocol);
    fallback = await startFakeProvider('openai');
    fallback.setDefault({ kind: 'text', text: 'fallback answer' });
    process.env.AWS_ACCESS_KEY_ID ??= 'AKIDFAKE';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'fake';
    process.env.FAKE_PROVIDER_KEY = 'sk-fake';
    engine = await testEngine({
      models: {
        // A generous client timeout: this is about size, not speed.
        primary: {
          provider: protocol,
          model: 'primary-1',
          contextWindowTokens: 128_000,
          baseUrl: primary.baseUrl,
          timeoutMs: 15_000,
          ...(protocol === 'bedrock' ? { region: 'us-east-1' } : { apiKeyEnv: 'FAKE_PROVIDER_KEY' }),
        },
        fallback: { provider: 'openai', model: 'fallback-1', contextWindowTokens: 128_000, baseUrl: fallback.baseUrl, timeoutMs: 15_000 },
      },
      retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 5 },
      breaker: { enabled: false },
    });
  });
  afterAll(async () => {
    await engine.close();
    await primary.close();
    await fallback.close();
  });

  it('is requested once, never retried', async () => {
    primary.script({ kind: 'text', text: 'b'.repeat(1_500_000) });
    const { run } = await engine.run({ input: 'Say a lot.' });
    expect(primary.requests).toHaveLength(1);
    if (protocol === 'bedrock') {
      // The Bedrock SDK reads the whole body itself (no 1 MiB cap on that path): the answer is used.
      expect(run.status).toBe('SUCCEEDED');
    } else {
      // Our HTTP client reads at most 1 MiB: ResponseTooLarge, straight to the fallback.
      expect(run).toMatchObject({ status: 'DEGRADED', answer: expect.stringContaining('fallback answer') });
      const trace = await engine.runtime.runs.listEvents(run.runId);
      expect(trace.find((e) => e.type === 'model_call' && e.tier === 'primary')).toMatchObject({ error: { name: 'ResponseTooLarge' } });
    }
  });
});
