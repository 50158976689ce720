import { handleApi } from '../../lambdas/api/routes';
import { countTokens } from '../../lambdas/core/tokens';
import { ofKind } from '../../lambdas/core/trace';
import { type AgentConfig, CONFIG_ENV, configJsonOf, parseConfig } from '../../lib/config';
import type { LocalEngine } from '../../local/engine';
import { type FakeProvider, startFakeOpenAI } from '../../testing/fake-providers';
import { type Loopback, startLoopback } from '../../testing/loopback';
import { templateFor, testEngine } from '../helpers/engine';

/**
 * Your agent in the runtime (docs/agent.md), through the synthesized state machine against a fake OpenAI server:
 * the configured instructions as the system message of every request, structured output requested natively and
 * repaired once, and a long run whose tool results total far more than its model's 8,000-token window.
 */
/** Long enough (~4 KB) that the handlers' configuration carries it compressed (Lambda allows 4 KB of variables). */
const INSTRUCTIONS = [
  'You are the acceptance-test agent. Fetch what you are asked to, then answer in one sentence.',
  ...Array.from({ length: 45 }, (_, i) => `Rule ${i + 1}: when a page mentions item ${i * 7 + 3}, quote its line number and keep the answer short.`),
].join('\n');
const QUESTION = 'Read pages 1 to 30 and tell me what they have in common.';
const WINDOW = 8000;
/** A tool result of about 2 KB (some 500 tokens): thirty of them are twice the window. */
const page = (n: number) => Array.from({ length: 40 }, (_, i) => `page ${n} line ${i}: the quick brown fox ${n * 40 + i}`).join('\n');

type Body = { messages: { role: string; content: string | null }[]; response_format?: unknown; max_tokens?: number };

describe('your agent: instructions, structured output, context windows', () => {
  let model: FakeProvider;
  let tools: Loopback;
  let engine: LocalEngine;
  let config: AgentConfig;
  beforeAll(async () => {
    model = await startFakeOpenAI();
    tools = await startLoopback();
    tools.on('/page', (req, res) => {
      const { n } = JSON.parse(req.body || '{}') as { n?: number };
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(page(Number(n ?? 0)));
    });
    config = parseConfig({
      instructions: INSTRUCTIONS,
      models: { primary: { provider: 'openai', model: 'small-window', baseUrl: model.baseUrl, timeoutMs: 2000, contextWindowTokens: WINDOW, maxOutputTokens: 512 } },
      budgets: { maxSteps: 40, maxTokens: 5_000_000 },
      breaker: { enabled: false },
      tools: [
        {
          name: 'fetch_page',
          kind: 'http',
          url: tools.url('/page'),
          description: 'Fetches one page by number.',
          parameters: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
        },
      ],
    });
    engine = await testEngine(config);
  });
  afterAll(async () => {
    await engine.close();
    await model.close();
    await tools.close();
  });
  beforeEach(() => {
    model.reset();
    model.respondWith(undefined);
    model.setContextWindow(undefined);
  });

  const bodyOf = (i: number): Body => {
    const r = model.requests[i];
    if (!r) throw new Error(`no request ${i}`);
    return r.body as unknown as Body;
  };
  const schema = { type: 'object', properties: { answer: { type: 'string' }, confidence: { type: 'number' } }, required: ['answer', 'confidence'], additionalProperties: false };

  it("ships the instructions in every handler's configuration, compressed when long (a deploy changes them, a rollback restores them)", async () => {
    const functions = Object.values(templateFor(config).Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    expect(INSTRUCTIONS.length).toBeGreaterThan(4000);
    for (const fn of functions) {
      const value = (fn.Properties as { Environment: { Variables: Record<string, string> } }).Environment.Variables[CONFIG_ENV] ?? '';
      // Too long for the environment as plain JSON: compressed, and read back whole by the handlers (and this engine).
      expect(value.startsWith('gz:')).toBe(true);
      expect(JSON.parse(configJsonOf(value)).instructions).toBe(INSTRUCTIONS);
    }
    // A deploy of the template: each handler runs with the configuration in its environment, as in AWS.
    engine.deploy(templateFor(config));
    model.script({ kind: 'text', text: 'ok' });
    const { run } = await engine.run({ input: 'Say ok.' });
    expect(run.status).toBe('SUCCEEDED');
    expect(bodyOf(0).messages[0]).toEqual({ role: 'system', content: INSTRUCTIONS });
  });

  it('sends the instructions as the system message and asks for the schema natively; a broken answer is repaired in one more call', async () => {
    model.script({ kind: 'text', text: 'The answer is 42.' }, { kind: 'text', text: '{"answer": "42", "confidence": 0.9}' });
    const { run } = await engine.run({ input: 'What is the answer?', outputSchema: { schema, name: 'verdict' } });
    expect(run).toMatchObject({ status: 'SUCCEEDED', stopReason: null, output: { answer: '42', confidence: 0.9 } });
    expect(model.requests).toHaveLength(2);
    for (const r of model.requests) {
      const body = r.body as unknown as Body;
      expect(body.messages[0]).toEqual({ role: 'system', content: INSTRUCTIONS });
      expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'verdict', schema, strict: true } });
    }
    // The repair turn shows the model its answer and what is wrong with it.
    const repair = bodyOf(1).messages;
    expect(repair.at(-2)).toMatchObject({ role: 'assistant', content: 'The answer is 42.' });
    expect(repair.at(-1)?.content).toContain('not JSON');
    const events = await engine.runtime.runs.listEvents(run.runId);
    const started = events.find(ofKind('run_started'));
    expect(started?.instructions?.text).toBe(INSTRUCTIONS);
    const calls = events.filter(ofKind('model_call'));
    expect(calls.map((c) => [c.instructions, Boolean(c.outputInvalid), c.purpose ?? null])).toEqual([
      [started?.instructions?.hash, true, null],
      [started?.instructions?.hash, false, 'repair'],
    ]);
    // Both calls count in the run's usage (50 in / 10 out each at the fake).
    expect(run.usage).toMatchObject({ inputTokens: 100, outputTokens: 20 });
  });

  it('takes outputSchema on POST /runs (at most 16 KB, a schema ajv compiles) and returns the parsed output on the run', async () => {
    const post = (body: unknown) =>
      handleApi(
        { runs: engine.runtime.runs, config: engine.runtime.config, control: engine.control, spend: engine.runtime.spend },
        { method: 'POST', path: '/runs', query: {}, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), userId: 'api-user', isAdmin: false },
      );
    const tooBig = await post({ input: 'hi', outputSchema: { type: 'object', description: 'x'.repeat(17 * 1024) } });
    expect(tooBig.statusCode).toBe(413);
    expect(JSON.parse(tooBig.body).error.message).toMatch(/outputSchema must be at most 16384 bytes/);
    const invalid = await post({ input: 'hi', outputSchema: { type: 'objekt' } });
    expect(invalid.statusCode).toBe(422);
    expect(JSON.parse(invalid.body).error.message).toMatch(/outputSchema is not a valid JSON Schema/);
    expect(model.requests).toHaveLength(0);
    model.script({ kind: 'text', text: '{"answer": "yes", "confidence": 1}' });
    const started = await post({ input: 'Is it?', outputSchema: schema });
    expect(started.statusCode).toBe(202);
    const { run } = await engine.execute(JSON.parse(started.body).runId, 'api-user');
    expect(run).toMatchObject({ status: 'SUCCEEDED', output: { answer: 'yes', confidence: 1 }, answer: '{"answer": "yes", "confidence": 1}' });
    expect(bodyOf(0).response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'final_answer', schema, strict: true } });
  });

  it('ends UNFINISHED / OUTPUT_INVALID with the raw answer kept when the repair fails too', async () => {
    model.script({ kind: 'text', text: 'forty-two' }, { kind: 'text', text: '{"answer": "42"}' });
    const { run } = await engine.run({ input: 'What is the answer?', outputSchema: { schema, name: 'verdict' } });
    expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'OUTPUT_INVALID', output: null });
    expect(run.answer).toContain('{"answer": "42"}');
    expect(model.requests).toHaveLength(2);
  });

  it('finishes a 30-step run whose tool results are far larger than the window, compacting instead of overflowing', async () => {
    model.setContextWindow(WINDOW);
    model.respondWith((body) => {
      const done = (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
      return done < 30 ? { kind: 'tools', calls: [{ name: 'fetch_page', args: { n: done + 1 } }] } : { kind: 'text', text: 'They all describe a quick brown fox.' };
    });
    const { run } = await engine.run({ input: QUESTION });
    expect(run).toMatchObject({ status: 'SUCCEEDED', steps: 31, degraded: [] });
    expect(run.answer).toBe('They all describe a quick brown fox.');
    // The tool results alone are several windows; no request ever went over the window (the fake would refuse it).
    expect(Array.from({ length: 30 }, (_, i) => countTokens(page(i + 1))).reduce((a, b) => a + b)).toBeGreaterThan(2 * WINDOW);
    const bodies = model.requests.map((r) => r.body as unknown as Body);
    expect(bodies).toHaveLength(31);
    for (const [i, b] of bodies.entries()) expect((model.promptTokens[i] ?? 0) + (b.max_tokens ?? 0)).toBeLessThanOrEqual(WINDOW);
    // Every request: the instructions first; the last still holds the user's question and the latest result in full.
    for (const b of bodies) expect(b.messages[0]).toEqual({ role: 'system', content: INSTRUCTIONS });
    const last = bodies.at(-1)?.messages ?? [];
    expect(last).toContainEqual({ role: 'user', content: QUESTION });
    expect(last.at(-1)).toMatchObject({ role: 'tool', content: page(30) });
    const events = await engine.runtime.runs.listEvents(run.runId);
    const compactions = events.filter(ofKind('context_compacted'));
    expect(compactions.length).toBeGreaterThan(0);
    for (const c of compactions) expect(c.tokensAfter).toBeLessThan(c.tokensBefore);
    expect(events.filter(ofKind('model_call')).filter((e) => e.error)).toEqual([]);
    // The full results stay in the table; the view on the run item is the checkpoint a resume reads.
    const stored = await engine.runtime.runs.listMessages(run.runId);
    expect(stored.filter((m) => m.message.role === 'tool').every((m) => m.message.content.length > 1000)).toBe(true);
    expect((await engine.runtime.runs.getRun(run.runId))?.contextView?.elidedThroughStep).toBe(compactions.at(-1)?.elidedThroughStep);
  });

  it('answers a provider overflow by compacting harder and retrying once: no fallback, no "unavailable"', async () => {
    model.script(
      { kind: 'tools', calls: [{ name: 'fetch_page', args: { n: 1 } }] },
      { kind: 'tools', calls: [{ name: 'fetch_page', args: { n: 2 } }] },
      { kind: 'overflow' },
      { kind: 'text', text: 'Page 1 was about a fox.' },
      { kind: 'text', text: 'Both pages describe a fox.' },
    );
    const { run } = await engine.run({ input: 'Read pages 1 and 2.' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', degraded: [], answer: 'Both pages describe a fox.' });
    const events = await engine.runtime.runs.listEvents(run.runId);
    expect(events.filter(ofKind('model_call')).map((e) => e.error?.name ?? 'ok')).toEqual(['ok', 'ok', 'ContextOverflow', 'ok']);
    expect(events.find(ofKind('context_compacted'))).toMatchObject({
      step: 3,
      reason: 'overflow',
      elidedThroughStep: 1,
      summarizedThroughStep: 1,
      summary: { text: 'Page 1 was about a fox.' },
    });
    expect(events.some(ofKind('fallback'))).toBe(false);
    // Every request carries the instructions, the summary call too (its task is the user turn).
    for (const r of model.requests) expect((r.body as unknown as Body).messages[0]).toEqual({ role: 'system', content: INSTRUCTIONS });
    expect(bodyOf(3).messages[1]?.content).toContain('summarize the steps below');
    // The retried request: the question, the summary of step 1, and step 2 in full.
    const retried = bodyOf(4).messages;
    expect(retried).toContainEqual({ role: 'user', content: 'Read pages 1 and 2.' });
    expect(retried.some((m) => String(m.content).includes('Page 1 was about a fox.'))).toBe(true);
    expect(retried.at(-1)).toMatchObject({ role: 'tool', content: page(2) });
  });

  it('ends UNFINISHED / CONTEXT_WINDOW when the provider still says it does not fit after compacting harder', async () => {
    model.script({ kind: 'overflow' }, { kind: 'overflow' });
    const { run } = await engine.run({ input: 'A question far too long for any window.' });
    expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'CONTEXT_WINDOW', degraded: [] });
    expect(run.answer).toContain("no longer fits the model's context window");
    expect(model.requests).toHaveLength(2);
  });
});
