import { TransientError } from '../../lambdas/core/errors';
import type { LocalEngine } from '../../local/engine';
import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { type Loopback, startLoopback } from '../../testing/loopback';
import { until } from '../helpers/async';
import { testEngine } from '../helpers/engine';

/** A "charge" tool whose side effects the loopback server counts per Idempotency-Key; each call takes `delayMs`. */
function chargeServer(server: Loopback, delayMs: number, effects: Map<string, number>) {
  server.on('/charge', (req, res) => {
    const key = String(req.headers['idempotency-key']);
    effects.set(key, (effects.get(key) ?? 0) + 1);
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ charged: JSON.parse(req.body || '{}').amount }));
    }, delayMs);
  });
}

describe('durable state on the synthesized machine', () => {
  let model: FakeProvider;
  let tools: Loopback;
  const effects = new Map<string, number>();
  let engine: LocalEngine;
  const script = (steps: number) =>
    model.script(...Array.from({ length: steps }, (_, i) => ({ kind: 'tools' as const, calls: [{ name: 'charge', args: { amount: i + 1 } }] })), {
      kind: 'text',
      text: 'all charged',
    });

  beforeAll(async () => {
    model = await startFakeProvider('openai');
    tools = await startLoopback();
    chargeServer(tools, 150, effects);
    engine = await testEngine({
      models: { primary: { provider: 'openai', model: 'm', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 2000 } },
      tools: [{ name: 'charge', kind: 'http', url: tools.url('/charge'), timeoutMs: 2000 }],
    });
  });
  afterAll(async () => {
    await engine.close();
    await model.close();
    await tools.close();
  });
  beforeEach(() => {
    effects.clear();
    model.reset();
  });

  it('pauses at the next boundary and really waits; resume continues to the end', async () => {
    script(4);
    const runId = 'pause-me';
    const finished = engine.run({ input: 'Charge four times.', runId });
    await until('the first charge', () => effects.size >= 1);
    await engine.control.pause(runId);
    await until('PAUSED', async () => (await engine.runtime.runs.getRun(runId))?.status === 'PAUSED');
    const paused = await engine.runtime.runs.getRun(runId);
    expect(paused?.taskToken).toEqual(expect.any(String));
    const requests = model.requests.length;
    const charges = effects.size;
    await new Promise((r) => setTimeout(r, 600));
    expect((await engine.runtime.runs.getRun(runId))?.step).toBe(paused?.step);
    expect(model.requests.length).toBe(requests);
    expect(effects.size).toBe(charges);
    await expect(engine.control.pause(runId)).rejects.toThrow('only a RUNNING run can be paused');

    await engine.control.resume(runId);
    const { run } = await finished;
    expect(run).toMatchObject({ status: 'SUCCEEDED', answer: 'all charged', steps: 5 });
    expect([...effects.values()]).toEqual([1, 1, 1, 1]);
    const trace = await engine.runtime.runs.listEvents(runId);
    expect(trace.map((e) => e.type)).toEqual(expect.arrayContaining(['pause_requested', 'paused', 'resumed']));
  });

  it('cancels a running run: CANCELLED, and the loop stops', async () => {
    script(6);
    const runId = 'cancel-me';
    const finished = engine.run({ input: 'Charge six times.', runId });
    await until('the first charge', () => effects.size >= 1);
    await engine.control.cancel(runId);
    const { run } = await finished;
    expect(run.status).toBe('CANCELLED');
    const after = model.requests.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(model.requests.length).toBe(after);
    expect(effects.size).toBeLessThan(6);
    await expect(engine.control.resume(runId)).rejects.toThrow('only a PAUSED or FAILED run can be resumed');
  });

  it('a tool that crashed after its side effect is not run again: the retry gets the stored result', async () => {
    script(2);
    const runs = engine.runtime.runs;
    const original = runs.putMessage.bind(runs);
    let crashed = false;
    runs.putMessage = async (runId, m, event) => {
      // The first tool result write "crashes" after the tool ran: the state machine retries CallTool.
      if (!crashed && m.message.role === 'tool') {
        crashed = true;
        throw new TransientError('simulated crash after the side effect');
      }
      return original(runId, m, event);
    };
    try {
      const { run } = await engine.run({ input: 'Charge twice.', runId: 'crash-after-effect' });
      expect(crashed).toBe(true);
      expect(run.status).toBe('SUCCEEDED');
      expect([...effects.values()]).toEqual([1, 1]);
      const messages = await runs.listMessages(run.runId);
      expect(messages.filter((m) => m.message.role === 'tool')).toHaveLength(2);
    } finally {
      runs.putMessage = original;
    }
  });

  it('a model response lost after success is not counted twice', async () => {
    model.script(
      { kind: 'tools', calls: [{ name: 'charge', args: { amount: 5 } }], usage: { input: 100, output: 10 } },
      { kind: 'text', text: 'done', usage: { input: 200, output: 5 } },
    );
    const runs = engine.runtime.runs;
    const original = runs.recordModelStep.bind(runs);
    let lost = false;
    runs.recordModelStep = async (...args) => {
      // The assistant message is stored; the Lambda's response is then lost: the state machine retries CallModel.
      if (!lost) {
        lost = true;
        throw new TransientError('response lost');
      }
      return original(...args);
    };
    try {
      const { run } = await engine.run({ input: 'Charge once.', runId: 'lost-response' });
      expect(lost).toBe(true);
      expect(run).toMatchObject({ status: 'SUCCEEDED', usage: { inputTokens: 300, outputTokens: 15 } });
      expect(model.requests).toHaveLength(2);
      const messages = await runs.listMessages(run.runId);
      expect(messages.filter((m) => m.message.role === 'assistant')).toHaveLength(2);
    } finally {
      runs.recordModelStep = original;
    }
  });
});
