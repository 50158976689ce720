import type { ModelConfig } from '../../../lambdas/core/config';
import { checkOutput } from '../../../lambdas/core/output';
import type { ModelProvider } from '../../../lambdas/core/types';
import { createProvider } from '../../../lambdas/providers';
import { fromAnthropicResponse, toAnthropicMessages } from '../../../lambdas/providers/anthropic';
import { fromBedrockResponse, toBedrockMessages } from '../../../lambdas/providers/bedrock';
import { createDemoProvider, schemaValue } from '../../../lambdas/providers/demo';
import { parseConfig } from '../../../lib/config';
import { type FakeProvider, type Protocol, startFakeProvider } from '../../../testing/fake-providers';
import { failure, request } from './helpers';

/**
 * Model parameters, reasoning effort and structured output on each provider's wire, and each provider's context
 * overflow answer classified as ContextOverflow: what the real APIs take (docs/agent.md).
 */
const protocols: Protocol[] = ['openai', 'anthropic', 'bedrock'];

function providerWith(fake: FakeProvider, extra: Partial<ModelConfig>, model = 'm-1'): ModelProvider {
  const config = parseConfig({
    models: {
      primary: {
        provider: fake.protocol,
        model,
        contextWindowTokens: 128_000,
        baseUrl: fake.url,
        timeoutMs: 2000,
        ...(fake.protocol === 'bedrock' ? { region: 'us-east-1' } : {}),
        ...extra,
      },
    },
  }).models.primary;
  return createProvider(config, { apiKey: 'k', bedrock: { clientConfig: { credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' } } } });
}

const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };

describe.each(protocols)('%s', (protocol) => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider(protocol);
  });
  afterAll(async () => fake.close());
  beforeEach(() => fake.reset());
  const body = () => fake.requests[0]?.body as Record<string, unknown>;

  it('classifies the service\'s own "prompt does not fit" answer as ContextOverflow (not BadRequest, never retried)', async () => {
    fake.script({ kind: 'overflow' });
    const err = await failure(providerWith(fake, {}).complete(request()));
    expect(err.name).toBe('ContextOverflow');
    expect(fake.requests).toHaveLength(1);
  });

  it('still classifies any other 400 as BadRequest', async () => {
    fake.script({ kind: 'status', status: 400 });
    expect((await failure(providerWith(fake, {}).complete(request()))).name).toBe('BadRequest');
  });

  it("sends temperature, topP and stop sequences in the provider's own fields", async () => {
    await providerWith(fake, { temperature: 0.2, topP: 0.9, stopSequences: ['END'] }).complete(request());
    const sent = body();
    if (protocol === 'openai') expect(sent).toMatchObject({ temperature: 0.2, top_p: 0.9, stop: ['END'], max_tokens: 321 });
    if (protocol === 'anthropic') expect(sent).toMatchObject({ temperature: 0.2, top_p: 0.9, stop_sequences: ['END'], max_tokens: 321 });
    if (protocol === 'bedrock') expect(sent.inferenceConfig).toEqual({ maxTokens: 321, temperature: 0.2, topP: 0.9, stopSequences: ['END'] });
  });

  it('sends no parameter the config does not set', async () => {
    await providerWith(fake, {}).complete(request());
    const sent = JSON.stringify(body());
    for (const field of ['temperature', 'top_p', 'topP', 'stop', 'reasoning_effort', 'thinking', 'response_format', 'tool_choice', 'toolChoice'])
      expect(sent).not.toContain(`"${field}"`);
  });

  it('asks for the output schema natively and returns the structured answer as the text', async () => {
    // OpenAI answers in its content (response_format); Anthropic and Bedrock through the forced output tool.
    fake.script(protocol === 'openai' ? { kind: 'text', text: '{"answer":"yes"}' } : { kind: 'tools', calls: [{ name: 'verdict', args: { answer: 'yes' } }] });
    const out = await providerWith(fake, {}).complete({ ...request(), output: { schema, name: 'verdict' } });
    expect(JSON.parse(out.text)).toEqual({ answer: 'yes' });
    expect(out.toolCalls).toEqual([]);
    const sent = body();
    if (protocol === 'openai') expect(sent.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'verdict', schema, strict: true } });
    if (protocol === 'anthropic') {
      expect(sent.tool_choice).toEqual({ type: 'any' });
      expect((sent.tools as { name: string; input_schema: unknown }[]).map((t) => [t.name, t.name === 'verdict' ? t.input_schema : null])).toEqual([
        ['calculator', null],
        ['verdict', schema],
      ]);
    }
    if (protocol === 'bedrock') {
      const toolConfig = sent.toolConfig as { tools: { toolSpec: { name: string; inputSchema: { json: unknown } } }[]; toolChoice: unknown };
      expect(toolConfig.toolChoice).toEqual({ any: {} });
      expect(toolConfig.tools.at(-1)?.toolSpec).toMatchObject({ name: 'verdict', inputSchema: { json: schema } });
    }
  });
});

describe('reasoning effort', () => {
  let fakes: Record<Protocol, FakeProvider>;
  beforeAll(async () => {
    fakes = { openai: await startFakeProvider('openai'), anthropic: await startFakeProvider('anthropic'), bedrock: await startFakeProvider('bedrock') };
  });
  afterAll(async () => Promise.all(Object.values(fakes).map((f) => f.close())));

  it('is reasoning_effort for OpenAI', async () => {
    await providerWith(fakes.openai, { reasoningEffort: 'high' }).complete(request());
    expect(fakes.openai.requests.at(-1)?.body).toMatchObject({ reasoning_effort: 'high' });
  });

  it('is extended thinking with a derived budget for Anthropic, within the call\'s output cap, and only "auto" tool choice', async () => {
    const anthropic = providerWith(fakes.anthropic, { reasoningEffort: 'medium', maxOutputTokens: 8000 });
    await anthropic.complete({ ...request(), maxOutputTokens: 8000, output: { schema, name: 'verdict' } });
    expect(fakes.anthropic.requests.at(-1)?.body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 4096 }, tool_choice: { type: 'auto' } });
    // The token budget left 2,000 output tokens: the thinking budget shrinks to fit under them.
    await anthropic.complete({ ...request(), maxOutputTokens: 2000 });
    expect(fakes.anthropic.requests.at(-1)?.body).toMatchObject({ max_tokens: 2000, thinking: { budget_tokens: 1999 } });
    // Below Anthropic's minimum thinking budget: no thinking rather than a request Anthropic refuses.
    await anthropic.complete({ ...request(), maxOutputTokens: 900 });
    expect(fakes.anthropic.requests.at(-1)?.body).not.toHaveProperty('thinking');
  });

  it('goes through additionalModelRequestFields on Bedrock, for the models that take it', async () => {
    await providerWith(fakes.bedrock, { reasoningEffort: 'low', maxOutputTokens: 4000 }, 'us.anthropic.claude-sonnet-4-20250514-v1:0').complete({
      ...request(),
      maxOutputTokens: 4000,
    });
    expect(fakes.bedrock.requests.at(-1)?.body).toMatchObject({ additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 1024 } } });
    await providerWith(fakes.bedrock, { reasoningEffort: 'high' }, 'openai.gpt-oss-120b-1:0').complete(request());
    expect(fakes.bedrock.requests.at(-1)?.body).toMatchObject({ additionalModelRequestFields: { reasoning_effort: 'high' } });
  });
});

describe('reasoning blocks', () => {
  it('are kept from an Anthropic answer and sent back first in that turn, unchanged, with the tool results that follow', () => {
    const thinking = { type: 'thinking', thinking: 'The user wants 2+2.', signature: 'sig-abc' };
    const answer = fromAnthropicResponse(
      {
        model: 'c',
        stop_reason: 'tool_use',
        content: [thinking, { type: 'tool_use', id: 't1', name: 'calculator', input: { expression: '2+2' } }],
        usage: { input_tokens: 1, output_tokens: 1 },
      },
      'anthropic c',
      'c',
    );
    expect(answer.reasoning).toEqual({ provider: 'anthropic', blocks: [thinking] });
    const wire = toAnthropicMessages([
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: '', toolCalls: answer.toolCalls, reasoning: answer.reasoning },
      { role: 'tool', toolCallId: 't1', name: 'calculator', content: '4' },
    ]);
    expect(wire[1]?.content[0]).toEqual(thinking);
    // Another provider's blocks (the primary's, read by the fallback) are not sent.
    expect(toAnthropicMessages([{ role: 'assistant', content: 'x', toolCalls: [], reasoning: { provider: 'bedrock', blocks: [{}] } }])[0]?.content).toEqual([
      { type: 'text', text: 'x' },
    ]);
  });

  it('are kept from a Bedrock answer and sent back in Converse form', () => {
    const block = { reasoningContent: { reasoningText: { text: 'hmm', signature: 's' } } };
    const answer = fromBedrockResponse(
      {
        output: { message: { role: 'assistant', content: [block, { text: 'ok' }] } },
        stopReason: 'end_turn',
        usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
        $metadata: {},
      } as never,
      'bedrock m',
      'm',
    );
    expect(answer).toMatchObject({ text: 'ok', reasoning: { provider: 'bedrock', blocks: [block] } });
    expect(toBedrockMessages([{ role: 'assistant', content: 'ok', toolCalls: [], reasoning: answer.reasoning }])[0]?.content).toEqual([block, { text: 'ok' }]);
  });
});

describe('the demo model answers schemas offline', () => {
  it('answers a request with an output schema with JSON that satisfies it', async () => {
    const out = await createDemoProvider('default').complete({
      messages: [{ role: 'user', content: 'hello there' }],
      tools: [],
      maxOutputTokens: 500,
      output: { schema, name: 'verdict' },
    });
    expect(checkOutput({ schema, name: 'verdict' }, out.text)).toMatchObject({ ok: true, value: { answer: expect.stringContaining('offline demo model') } });
  });

  it('builds a value of the schema from its answer', () => {
    const value = schemaValue(
      {
        type: 'object',
        properties: {
          summary: { type: 'string', maxLength: 5 },
          score: { type: 'integer', minimum: 1 },
          tags: { type: 'array', items: { enum: ['a', 'b'] } },
          ok: { type: 'boolean' },
          note: { type: ['string', 'null'] },
        },
        required: ['summary', 'score', 'tags', 'ok'],
      },
      'The answer text',
      0,
    );
    expect(value).toEqual({ summary: 'The a', score: 1, tags: ['a'], ok: true });
  });

  it('takes its numbers from the answer (the last one the schema allows), so an arithmetic answer keeps its result', () => {
    const schema = {
      type: 'object',
      properties: { percent: { type: 'number' }, result: { type: 'number' }, steps: { type: 'integer', minimum: 1, maximum: 9 } },
      required: ['percent', 'result', 'steps'],
    };
    expect(schemaValue(schema, '12.5% of 3480 = 435.', 0)).toEqual({ percent: 435, result: 435, steps: 1 });
    expect(schemaValue({ type: 'number', maximum: 100 }, '12.5% of 3480 = 435.', 0)).toBe(12.5);
  });
});
