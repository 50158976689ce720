import { idempotencyKeyFor } from '../../lambdas/core/signature';
import type { LocalEngine } from '../../local/engine';
import { replayRun } from '../../local/replay';
import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { testEngine } from '../helpers/engine';
import { deadUrl, startMcpServer, type TestMcpServer } from '../helpers/mcp-server';

/**
 * An MCP server as a tool source, through the synthesized state machine offline: the model (a fake OpenAI-compatible
 * server, scripted) is offered the server's tools, calls one, and the call's result is checkpointed and traced.
 */
// Each config names a loopback port, so each is synthesized afresh (slow on a busy machine): one engine per config.
jest.setTimeout(240_000);

describe('an MCP server as a tool source, on the synthesized machine', () => {
  let mcp: TestMcpServer;
  let model: FakeProvider;
  let engine: LocalEngine;
  beforeAll(async () => {
    mcp = await startMcpServer();
    model = await startFakeProvider('openai');
    process.env.FAKE_MCP_MODEL_KEY = 'sk-fake';
    engine = await testEngine({
      models: { primary: { provider: 'openai', model: 'm-1', contextWindowTokens: 128_000, baseUrl: model.baseUrl, apiKeyEnv: 'FAKE_MCP_MODEL_KEY', timeoutMs: 2000 } },
      tools: [{ name: 'billing', kind: 'mcp', url: mcp.url, allow: ['lookup_invoice', 'refund'] }],
      retry: { maxAttempts: 3 },
    });
  });
  afterAll(async () => {
    await engine?.close();
    await mcp.close();
    await model.close();
  });
  beforeEach(() => {
    model.reset();
    mcp.failNext(0);
  });

  it('offers its tools to the model, runs the model call once with its arguments, checkpoints the result and finishes', async () => {
    model.script({ kind: 'tools', calls: [{ name: 'lookup_invoice', args: { id: 'INV-7' } }] }, { kind: 'text', text: 'Invoice INV-7 is paid (42.00 EUR).' });
    const callsBefore = mcp.calls.length;
    const { run } = await engine.run({ input: 'Is invoice INV-7 paid?' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', steps: 2, degraded: [], answer: 'Invoice INV-7 is paid (42.00 EUR).' });
    // Offered with its JSON Schema, next to the built-ins.
    const offered = ((model.requests[0]?.body.tools ?? []) as { function: { name: string; parameters: Record<string, unknown> } }[]).map((t) => t.function);
    expect(offered.map((t) => t.name)).toEqual(['calculator', 'search_docs', 'lookup_invoice', 'refund']);
    expect(offered.find((t) => t.name === 'lookup_invoice')?.parameters).toMatchObject({ properties: { id: { type: 'string' } }, required: ['id'] });
    // Run once, with the model's arguments and the call's idempotency key.
    expect(mcp.calls.slice(callsBefore)).toEqual([{ name: 'lookup_invoice', args: { id: 'INV-7' }, meta: { idempotencyKey: idempotencyKeyFor(run.runId, 1, 'call_1') } }]);
    // Checkpointed as the tool's message, and traced.
    const messages = await engine.runtime.runs.listMessages(run.runId);
    expect(messages.find((m) => m.message.role === 'tool')?.message).toMatchObject({ name: 'lookup_invoice', content: 'invoice INV-7: 42.00 EUR, paid on 2026-11-01' });
    const trace = await engine.runtime.runs.listEvents(run.runId);
    expect(trace.filter((e) => e.type === 'tool_call')).toEqual([
      expect.objectContaining({
        name: 'lookup_invoice',
        arguments: { id: 'INV-7' },
        result: 'invoice INV-7: 42.00 EUR, paid on 2026-11-01',
        isError: false,
        source: 'mcp:billing/lookup_invoice',
      }),
    ]);
    expect(trace.find((e) => e.type === 'model_call')).toMatchObject({ input: { tools: ['calculator', 'search_docs', 'lookup_invoice', 'refund'] } });
    // The second model call saw the result.
    expect(JSON.stringify(model.requests[1]?.body.messages)).toContain('42.00 EUR');

    // Replay: the recording serves the model and the tool; the MCP server is not asked anything.
    const requestsBefore = mcp.requests.length;
    const { verdict, replayed } = await replayRun({ run, events: trace }, engine.options.config);
    expect(verdict).toEqual({ matched: true });
    expect(replayed.status).toBe('SUCCEEDED');
    expect(mcp.requests.length).toBe(requestsBefore);
  });

  it('retries a failed call (HTTP 503) through the state machine with the same idempotency key; the tool runs once', async () => {
    model.script({ kind: 'tools', calls: [{ name: 'lookup_invoice', args: { id: 'INV-8' } }] }, { kind: 'text', text: 'done' });
    const rpcBefore = mcp.rpc('tools/call').length;
    const callsBefore = mcp.calls.length;
    mcp.failNext(1);
    const { run } = await engine.run({ input: 'Is invoice INV-8 paid?' });
    expect(run.status).toBe('SUCCEEDED');
    const attempts = mcp.rpc('tools/call').slice(rpcBefore);
    expect(attempts).toHaveLength(2);
    const keys = attempts.map((a) => (a.params?._meta as { idempotencyKey?: string } | undefined)?.idempotencyKey);
    expect(new Set(keys).size).toBe(1);
    expect(mcp.calls.length - callsBefore).toBe(1);
    const trace = await engine.runtime.runs.listEvents(run.runId);
    expect(trace.filter((e) => e.type === 'tool_call').map((e) => (e.error as { name?: string } | undefined)?.name ?? 'ok')).toEqual(['TransientError', 'ok']);
  });

  it('gives an isError result to the model, and the run goes on', async () => {
    model.script({ kind: 'tools', calls: [{ name: 'refund', args: { id: 'INV-9' } }] }, { kind: 'text', text: 'The refund was refused.' });
    const { run } = await engine.run({ input: 'Refund INV-9' });
    expect(run.status).toBe('SUCCEEDED');
    const messages = await engine.runtime.runs.listMessages(run.runId);
    expect(messages.find((m) => m.message.role === 'tool')?.message).toMatchObject({ name: 'refund', isError: true, content: expect.stringContaining('not refundable') });
  });

  it('with the server down, the run still ends in a terminal status, with a notice', async () => {
    const down = await testEngine({ tools: [{ name: 'billing', kind: 'mcp', url: await deadUrl() }] });
    try {
      const { run } = await down.run({ input: 'What is 6 * 7?' });
      expect(run.status).toBe('DEGRADED');
      expect(run.answer).toMatch(/^Note: the billing tool was unavailable \(TransientError\); I answered without it\./);
      expect(run.answer).toContain('42');
      expect(run.degraded).toEqual([{ dependency: 'tool:billing', reason: 'TransientError', fallback: 'none' }]);
      const trace = await down.runtime.runs.listEvents(run.runId);
      expect(trace).toContainEqual(expect.objectContaining({ type: 'fallback', dependency: 'tool:billing', listing: true, step: 1 }));
      // Reported once, not at every model call.
      expect(trace.filter((e) => e.type === 'fallback')).toHaveLength(1);
      // Its replay reports the same outage from the recording, even with the server up now, and never asks it.
      const config = down.options.config;
      const requestsBefore = mcp.requests.length;
      const { verdict, replayed } = await replayRun({ run, events: trace }, { ...config, tools: config.tools.map((t) => ({ ...t, url: mcp.url }) as typeof t) });
      expect(verdict).toEqual({ matched: true });
      expect(replayed.degraded).toEqual(run.degraded);
      expect(mcp.requests.length).toBe(requestsBefore);
    } finally {
      await down.close();
    }
  });
});
