import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunControl } from '../../lambdas/core/control';
import type { TraceEvent } from '../../lambdas/core/types';
import { parseConfig } from '../../lib/config';
import { type ExecutionResult, LocalEngine } from '../../local/engine';
import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { type Loopback, startLoopback } from '../../testing/loopback';
import { until } from '../helpers/async';
import { templateFor, testEngine } from '../helpers/engine';

/**
 * A cancelled (or otherwise final) run does no more work, whether or not its execution could be stopped: every step
 * re-reads the run first. These drive the synthesized machine in the offline engine against a slow fake provider.
 */

/** The user prompt of a recorded model request (each run has its own). */
const promptOf = (body: Record<string, unknown>) => (body.messages as { role: string; content: unknown }[]).find((m) => m.role === 'user')?.content;

/**
 * Events after `cancelled` in time (events stamped in the same millisecond are concurrent, not after): only calls
 * that were in flight at cancel time, traced as discarded, may follow.
 */
const afterCancel = (events: TraceEvent[]) => {
  const cancelledAt = events.find((e) => e.type === 'cancelled')?.at ?? '';
  return events.filter((e) => e.type !== 'cancelled' && e.at > cancelledAt);
};
const allowedAfterCancel = (e: TraceEvent) => (e.type === 'model_call' || e.type === 'tool_call') && e.discarded === 'CANCELLED';

describe('cancel: no model or tool request after the calls in flight return', () => {
  let model: FakeProvider;
  let tools: Loopback;
  let engine: LocalEngine;
  /** Tool requests per run (the tool's Idempotency-Key starts with the run id). */
  const toolRequests: string[] = [];
  const MODEL_MS = 250;

  beforeAll(async () => {
    model = await startFakeProvider('openai');
    // A model that never finishes on its own: one charge per step, a new amount each time (no repetition stop).
    model.respondWith((body) => {
      const done = (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
      // biome-ignore lint/suspicious/noThenProperty: a scripted reply's follow-up, not a thenable
      return { kind: 'delay', ms: MODEL_MS, then: { kind: 'tools', calls: [{ name: 'charge', args: { amount: done + 1 } }] } };
    });
    tools = await startLoopback();
    tools.on('/charge', (req, res) => {
      toolRequests.push(String(req.headers['idempotency-key']));
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }, 60);
    });
    engine = await testEngine({
      models: { primary: { provider: 'openai', model: 'slow', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 5000 } },
      tools: [{ name: 'charge', kind: 'http', url: tools.url('/charge'), timeoutMs: 5000 }],
      budgets: { maxSteps: 30 },
    });
  });
  afterAll(async () => {
    await engine.close();
    await model.close();
    await tools.close();
  });

  /** Starts `n` runs, each with its own prompt, and waits until each has a model request in flight or done. */
  const startRuns = async (prefix: string, n: number) => {
    const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const finished = new Map<string, Promise<ExecutionResult>>();
    for (const runId of ids) finished.set(runId, engine.run({ input: `prompt of ${runId}`, runId }));
    await until('a model request of every run', () => ids.every((id) => model.requests.some((r) => promptOf(r.body) === `prompt of ${id}`)));
    return { ids, finished };
  };

  it('when the execution cannot be stopped (StopExecution failed, ARN not saved, engine restarted), the steps stop by themselves', async () => {
    // The cancel of the API, with a stop that reaches no execution: only the status check can end these runs.
    const control = createRunControl({
      runs: engine.runtime.runs,
      executions: { start: async () => ({}), sendTaskSuccess: async () => undefined, stop: async () => undefined },
    });
    const { ids, finished } = await startRuns('unstoppable', 8);
    await new Promise((r) => setTimeout(r, 400)); // a step or two in, some calls in flight
    await Promise.all(ids.map((id) => control.cancel(id)));
    const modelAtCancel = model.requests.length;
    const toolsAtCancel = toolRequests.length;

    // Every execution leaves the loop at once (Stopped), without finalizing over CANCELLED.
    const results = await Promise.all(ids.map((id) => finished.get(id) as Promise<ExecutionResult>));
    const modelAtEnd = model.requests.length;
    const toolsAtEnd = toolRequests.length;
    await new Promise((r) => setTimeout(r, MODEL_MS * 2));
    // Nothing once the executions have left the loop; between the cancel and that, at most the one call per run
    // whose step had read RUNNING just before the cancel landed (in flight at cancel time).
    expect(model.requests.length).toBe(modelAtEnd);
    expect(toolRequests.length).toBe(toolsAtEnd);
    expect(modelAtEnd + toolsAtEnd - (modelAtCancel + toolsAtCancel)).toBeLessThanOrEqual(ids.length);
    for (const result of results) {
      expect(result.run).toMatchObject({ status: 'CANCELLED', stopReason: 'CANCELLED', answer: 'The run was cancelled.' });
      expect(result.error).toBeUndefined();
      const entered = result.events.filter((e) => e.type === 'StateEntered').map((e) => (e as { state?: { name?: string } }).state?.name);
      expect(entered.at(-1)).toBe('Stopped');
      expect(entered).not.toEqual(expect.arrayContaining(['Finish', 'Surrender', 'Degrade']));
      const events = await engine.runtime.runs.listEvents(result.runId);
      expect(events.filter((e) => e.type === 'cancelled')).toHaveLength(1);
      const after = afterCancel(events);
      expect({ runId: result.runId, after: after.filter((e) => !allowedAfterCancel(e)).map((e) => e.type) }).toEqual({ runId: result.runId, after: [] });
      expect(after.length).toBeLessThanOrEqual(1); // at most the one call that was in flight
      expect(events.filter((e) => e.type === 'run_finished')).toHaveLength(0);
    }
  }, 60_000);

  it('with a working stop, the model call in flight at cancel time is traced as discarded, not as a step of the run', async () => {
    const { ids, finished } = await startRuns('stoppable', 4);
    await Promise.all(ids.map((id) => engine.control.cancel(id)));
    const modelAtCancel = model.requests.length;
    await Promise.all(ids.map((id) => finished.get(id)));
    await new Promise((r) => setTimeout(r, MODEL_MS * 2)); // the calls in flight return meanwhile
    expect(model.requests.length).toBe(modelAtCancel);
    for (const runId of ids) {
      const run = await engine.runtime.runs.getRun(runId);
      expect(run).toMatchObject({ status: 'CANCELLED', step: 0 });
      const events = await engine.runtime.runs.listEvents(runId);
      const after = afterCancel(events);
      expect(after.map((e) => [e.type, 'discarded' in e ? e.discarded : undefined])).toEqual([['model_call', 'CANCELLED']]);
      // Its answer is not part of the run: no assistant message stored.
      expect((await engine.runtime.runs.listMessages(runId)).map((m) => m.message.role)).toEqual(['user']);
    }
  }, 60_000);

  it('an execution started for a run that is already cancelled (a resume from a stale list) does nothing at all', async () => {
    const runId = 'cancelled-before-resume';
    await engine.runtime.runs.createRun({ runId, userId: 'u', input: `prompt of ${runId}`, maxSteps: 10, maxTokens: 100_000 });
    await engine.runtime.runs.finalizeRun(runId, { status: 'CANCELLED', answer: 'The run was cancelled.', stopReason: 'KILLED' });
    const before = model.requests.length;
    const result = await engine.execute(runId, 'u');
    expect(model.requests.length).toBe(before);
    expect(result.run).toMatchObject({ status: 'CANCELLED', stopReason: 'KILLED' });
    expect(result.events.filter((e) => e.type === 'StateEntered').map((e) => (e as { state?: { name?: string } }).state?.name)).toEqual(['LoadRun', 'Route', 'Stopped']);
    expect(await engine.runtime.runs.listEvents(runId)).toEqual([]);
  });

  it('a pause requested while the model is answering stops at that step’s boundary, before its tool calls', async () => {
    const runId = 'pause-mid-call';
    const finished = engine.run({ input: `prompt of ${runId}`, runId });
    await until('the first model request', () => model.requests.some((r) => promptOf(r.body) === `prompt of ${runId}`));
    await engine.control.pause(runId);
    await until('PAUSED', async () => (await engine.runtime.runs.getRun(runId))?.status === 'PAUSED');
    const paused = await engine.runtime.runs.getRun(runId);
    expect(paused?.step).toBe(1);
    expect(toolRequests.filter((k) => k.startsWith(runId))).toEqual([]);
    await engine.control.cancel(runId);
    expect((await finished).run.status).toBe('CANCELLED');
  }, 30_000);
});

describe('resume after an engine restart', () => {
  it('writes exactly one event for one resume', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'resume-once-'));
    const model = await startFakeProvider('openai');
    model.respondWith((body) => {
      const done = (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
      if (done >= 2) return { kind: 'text', text: 'done' };
      // biome-ignore lint/suspicious/noThenProperty: a scripted reply's follow-up, not a thenable
      return { kind: 'delay', ms: 150, then: { kind: 'tools', calls: [{ name: 'calculator', args: { expression: `${done} + 1` } }] } };
    });
    const config = parseConfig({ models: { primary: { provider: 'openai', model: 'm', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 5000 } } });
    const start = () => LocalEngine.start({ config, template: templateFor(config), dataDir }, { retryScale: 0 });
    try {
      const first = await start();
      const runId = 'paused-across-restart';
      // Its result is never read: the engine closes under it (the run stays PAUSED in the table).
      first.run({ input: 'Add twice.', runId }).catch(() => undefined);
      await until('the first model request', () => model.requests.length >= 1);
      await first.control.pause(runId);
      await until('PAUSED', async () => (await first.runtime.runs.getRun(runId))?.status === 'PAUSED');
      await first.close(); // the waiting execution is gone with the process

      const second = await start();
      try {
        const before = (await second.runtime.runs.listEvents(runId)).length;
        await second.control.resume(runId);
        await until('the end', async () => (await second.runtime.runs.getRun(runId))?.status === 'SUCCEEDED');
        const events = (await second.runtime.runs.listEvents(runId)).slice(before);
        expect(events.filter((e) => ['resumed', 'run_resumed'].includes(e.type)).map((e) => [e.type, 'attempt' in e ? e.attempt : undefined])).toEqual([['run_resumed', 1]]);
      } finally {
        await second.close();
      }
    } finally {
      await model.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
