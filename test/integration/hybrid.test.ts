import { idempotencyKeyFor } from '../../lambdas/core/signature';
import { parseConfig } from '../../lib/config';
import type { LocalEngine } from '../../local/engine';
import type { SegmentFault } from '../../local/engine-options';
import type { CfnTemplate } from '../../local/template';
import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { type Loopback, startLoopback } from '../../testing/loopback';
import { patchDefinition, templateFor, testEngine } from '../helpers/engine';

/**
 * The same scenarios through both engine shapes (docs/hybrid.md): budgets, repetition, degradation, a crashed
 * handler, pause, approvals, cancel, admin stop. The hybrid engine runs with two steps per segment, so every
 * scenario of more than two steps crosses segment boundaries. Then what only the hybrid shape has: its Express
 * executions, and a segment run twice (at-least-once) repeating no model answer and no tool effect.
 */

const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
};

const promptOf = (body: Record<string, unknown>) => String((body.messages as { role: string; content: unknown }[]).find((m) => m.role === 'user')?.content ?? '');
const toolResults = (body: Record<string, unknown>) => (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;

let model: FakeProvider;
let tools: Loopback;
/** Idempotency keys of the tool requests: one per tool effect. */
const effects: string[] = [];
/** How long a tool takes to answer (0 but where a scenario needs the tool in flight). */
let toolDelayMs = 0;

beforeAll(async () => {
  model = await startFakeProvider('openai');
  model.respondWith((body) => {
    const prompt = promptOf(body);
    const done = toolResults(body);
    if (prompt.startsWith('fail')) return { kind: 'status', status: 500 };
    // The primary is down, the fallback answers.
    if (prompt.startsWith('primary-down')) return body.model === 'scripted' ? { kind: 'status', status: 500 } : { kind: 'text', text: 'the fallback answered' };
    if (prompt.startsWith('repeat')) return { kind: 'tools', calls: [{ name: 'charge', args: { amount: 1 } }] };
    if (prompt.startsWith('slow')) {
      // biome-ignore lint/suspicious/noThenProperty: a scripted reply's follow-up, not a thenable
      return { kind: 'delay', ms: 40, then: { kind: 'tools', calls: [{ name: 'charge', args: { amount: done + 1 } }] } };
    }
    if (prompt.startsWith('approve')) return done === 0 ? { kind: 'tools', calls: [{ name: 'wire', args: { to: 'acct' } }] } : { kind: 'text', text: 'wired' };
    const steps = Number(/steps:(\d+)/.exec(prompt)?.[1] ?? 1);
    return done < steps ? { kind: 'tools', calls: [{ name: 'charge', args: { amount: done + 1 } }] } : { kind: 'text', text: `done after ${done}` };
  });
  tools = await startLoopback();
  for (const path of ['/charge', '/wire']) {
    tools.on(path, (req, res) => {
      effects.push(String(req.headers['idempotency-key']));
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }, toolDelayMs);
    });
  }
});
afterAll(async () => {
  await model?.close();
  await tools?.close();
});

const configFor = (engine: 'standard' | 'hybrid') => ({
  models: {
    primary: { provider: 'openai' as const, model: 'scripted', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 5000, maxOutputTokens: 100 },
    fallback: { provider: 'openai' as const, model: 'scripted-fallback', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 5000, maxOutputTokens: 100 },
  },
  // $10 / $30 per million tokens; the primary's breaker never opens across the file's runs (each scenario stands alone).
  pricing: { scripted: { inputPerMTokUsd: 10, outputPerMTokUsd: 30 }, 'scripted-fallback': { inputPerMTokUsd: 10, outputPerMTokUsd: 30 } },
  breakers: { 'model:primary': { failureThreshold: 1000, minimumCalls: 1000 } },
  tools: [
    { name: 'charge', kind: 'http' as const, url: tools.url('/charge'), timeoutMs: 5000 },
    { name: 'wire', kind: 'http' as const, url: tools.url('/wire'), timeoutMs: 5000 },
  ],
  toolApprovals: { wire: 'required' as const },
  budgets: { maxSteps: 30 },
  engine,
  hybrid: { segmentSteps: 2 },
});

const modelRequests = (runId: string) => model.requests.filter((r) => promptOf(r.body).includes(runId)).length;

describe.each(['standard', 'hybrid'] as const)('engine: %s', (shape) => {
  let engine: LocalEngine;
  /** Crash the tool handler's first invocation of these runs (Lambda.Unknown: the Task retries it). */
  const crashOnce = new Set<string>();
  /** Re-run every segment of these runs once more (hybrid: Express is at-least-once). */
  const rerun = new Set<string>();
  /** How far the handlers' clock is ahead of the real one (an injected clock: a segment's time passes without waiting). */
  let clockAheadMs = 0;
  /** Segment faults of these runs, by the parent's `.sync` task count (1 = its first segment). */
  const faults: { runId: string; indexes: number[]; fault: SegmentFault }[] = [];
  /** The tool requests of a run (by the idempotency keys of its recorded calls): a repeated effect shows twice. */
  const effectsOf = async (runId: string) => {
    const messages = await engine.runtime.runs.listMessages(runId);
    const keys = new Set(messages.flatMap((m) => (m.message.role === 'assistant' ? m.message.toolCalls.map((c) => idempotencyKeyFor(runId, m.step, c.id)) : [])));
    return effects.filter((k) => keys.has(k));
  };

  beforeAll(async () => {
    engine = await testEngine(configFor(shape), {
      lambdaFaults: (fn, payload) => {
        const runId = (payload as { runId?: string }).runId ?? '';
        if (fn.handler === 'call-tool' && crashOnce.delete(runId)) return 'crash';
        return undefined;
      },
      rerunSegment: ({ parentArn }) => [...rerun].some((id) => parentArn.includes(id)),
      overrides: { now: () => new Date(Date.now() + clockAheadMs) },
      segmentFault: ({ parentArn, index }) => faults.find((f) => parentArn.includes(f.runId) && f.indexes.includes(index))?.fault,
    });
  }, 60_000);
  afterAll(async () => {
    await engine?.close();
  });

  it('runs a multi-step run to its answer, one tool effect and one model call per step', async () => {
    const runId = `${shape}-steps`;
    const { run } = await engine.run({ input: `${runId} steps:5`, runId });
    expect(run).toMatchObject({ status: 'SUCCEEDED', steps: 6, answer: 'done after 5' });
    expect(await effectsOf(runId)).toHaveLength(5);
    expect(modelRequests(runId)).toBe(6);
  });

  it('holds the step budget and the repetition detector', async () => {
    const budget = await engine.run({ input: `${shape}-budget steps:10`, runId: `${shape}-budget`, budgets: { maxSteps: 3 } });
    expect(budget.run).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET', steps: 3 });
    const repeated = await engine.run({ input: `repeat ${shape}-repeat`, runId: `${shape}-repeat` });
    expect(repeated.run).toMatchObject({ status: 'UNFINISHED', stopReason: 'REPETITION', steps: 2 });
  });

  it('degrades when the model keeps failing', async () => {
    const { run } = await engine.run({ input: `fail ${shape}-degrade`, runId: `${shape}-degrade` });
    expect(run).toMatchObject({ status: 'DEGRADED', stopReason: 'MODELS_UNAVAILABLE' });
  });

  it('degrades to the fallback model when the primary fails: DEGRADED, the fallback’s answer with the notice', async () => {
    const { run } = await engine.run({ input: `primary-down ${shape}-fallback`, runId: `${shape}-fallback` });
    expect(run).toMatchObject({ status: 'DEGRADED', degraded: [{ dependency: 'model:primary', reason: 'TransientError', fallback: 'model:fallback' }] });
    expect(run.answer).toMatch(/^Note: the primary model was unavailable \(TransientError\); a smaller fallback model answered/);
    expect(run.answer).toContain('the fallback answered');
  });

  it('holds the token budget and the dollar budget across steps (UNFINISHED, TOKEN_BUDGET / COST_BUDGET)', async () => {
    const tokens = await engine.run({ input: `${shape}-tokens steps:10`, runId: `${shape}-tokens`, budgets: { maxTokens: 700 } });
    expect(tokens.run).toMatchObject({ status: 'UNFINISHED', stopReason: 'TOKEN_BUDGET' });
    expect(tokens.run.steps).toBeGreaterThan(2); // past the first segment
    expect(tokens.run.usage.inputTokens + tokens.run.usage.outputTokens).toBeLessThanOrEqual(700);
    const dollars = await engine.run({ input: `${shape}-dollars steps:10`, runId: `${shape}-dollars`, budgets: { maxCostUsd: 0.006 } });
    expect(dollars.run).toMatchObject({ status: 'UNFINISHED', stopReason: 'COST_BUDGET' });
    expect(dollars.run.steps).toBeGreaterThan(2);
    expect(await effectsOf(`${shape}-dollars`)).toHaveLength(dollars.run.steps);
  });

  it('a crashed tool handler is retried: the run goes on, the tool effect happens once', async () => {
    const runId = `${shape}-crash`;
    crashOnce.add(runId);
    const { run } = await engine.run({ input: `${runId} steps:3`, runId });
    expect(crashOnce.has(runId)).toBe(false);
    expect(run).toMatchObject({ status: 'SUCCEEDED', steps: 4 });
    expect(await effectsOf(runId)).toHaveLength(3);
  });

  it('pauses at a step boundary and resumes to the end', async () => {
    const runId = `${shape}-pause`;
    const finished = engine.run({ input: `slow ${runId}`, runId, budgets: { maxSteps: 4 } });
    await until('a first model request', () => modelRequests(runId) > 0);
    await engine.control.pause(runId);
    await until('PAUSED', async () => (await engine.runtime.runs.getRun(runId))?.status === 'PAUSED');
    const pausedAt = (await engine.runtime.runs.getRun(runId))?.step ?? 0;
    expect(await effectsOf(runId)).toHaveLength(pausedAt - 1);
    await engine.control.resume(runId);
    const { run } = await finished;
    expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET', steps: 4 });
    expect(await effectsOf(runId)).toHaveLength(3);
  });

  it('waits for an approval in the parent and runs the approved call once', async () => {
    const runId = `${shape}-approve`;
    const finished = engine.run({ input: `approve ${runId}`, runId });
    let callId: string | undefined;
    await until('AWAITING_APPROVAL', async () => {
      const run = await engine.runtime.runs.getRun(runId);
      callId = run?.status === 'AWAITING_APPROVAL' ? Object.keys(run.approvals ?? {})[0] : undefined;
      return callId !== undefined;
    });
    expect(await effectsOf(runId)).toHaveLength(0);
    await engine.control.decide(runId, callId as string, { decision: 'approve', decidedBy: 'reviewer' });
    const { run } = await finished;
    expect(run).toMatchObject({ status: 'SUCCEEDED', answer: 'wired' });
    expect(await effectsOf(runId)).toHaveLength(1);
  });

  it.each([
    ['cancel', 'CANCELLED'],
    ['admin stop', 'KILLED'],
  ] as const)('%s reaches a run in flight within one step', async (what, reason) => {
    const runId = `${shape}-${reason.toLowerCase()}`;
    const finished = engine.run({ input: `slow ${runId}`, runId });
    await until('three model requests', () => modelRequests(runId) >= 3);
    await engine.control.cancel(runId, reason);
    const atCancel = modelRequests(runId) + (await effectsOf(runId)).length;
    const { run, error } = await finished;
    expect(error).toBeUndefined();
    expect(run).toMatchObject({ status: 'CANCELLED', stopReason: reason });
    // At most the one call that was in flight when the cancel landed.
    expect(modelRequests(runId) + (await effectsOf(runId)).length - atCancel).toBeLessThanOrEqual(1);
    expect(what).toBeTruthy();
  });

  if (shape === 'hybrid') {
    it('runs the loop in Express segments of two steps; the parent’s history holds only its own states', async () => {
      const before = engine.stepFunctions.expressExecutions.length;
      const { events } = await engine.run({ input: 'hybrid-segments steps:5', runId: 'hybrid-segments' });
      const segments = engine.stepFunctions.expressExecutions.slice(before).filter((x) => x.parentArn.includes('hybrid-segments'));
      // Steps 1-2, 3-4, 5-6 (the answer): three segments, each SUCCEEDED.
      expect(segments.map((x) => x.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
      const entered = events.filter((e) => e.type === 'StateEntered').map((e) => (e as { state: { name: string } }).state.name);
      expect(entered).toEqual(['LoadRun', 'RunSegment', 'AfterSegment', 'RunSegment', 'AfterSegment', 'RunSegment', 'AfterSegment', 'Finish']);
    });

    it('a segment that has run its time hands back to the parent at the tool-call boundary, the run intact', async () => {
      const runId = 'hybrid-clock';
      const before = engine.stepFunctions.expressExecutions.length;
      // Every model step now sees its segment older than hybrid.segmentSeconds (230 s by default).
      clockAheadMs = 231_000;
      try {
        const { run } = await engine.run({ input: `${runId} steps:3`, runId });
        expect(run).toMatchObject({ status: 'SUCCEEDED', steps: 4, answer: 'done after 3' });
      } finally {
        clockAheadMs = 0;
      }
      // One model step per segment (two per segment on the step budget alone): the pending calls run in the next one.
      const segments = engine.stepFunctions.expressExecutions.slice(before).filter((x) => x.parentArn.includes(runId));
      expect(segments.map((x) => x.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
      expect(modelRequests(runId)).toBe(4);
      expect(await effectsOf(runId)).toHaveLength(3);
    });

    it('a segment that timed out, and again when retried, resumes from the checkpoint in a new segment', async () => {
      const runId = 'hybrid-timeout';
      // The first segment (steps 1-2) and its retry both run, then are reported TIMED_OUT.
      faults.push({ runId, indexes: [1, 2], fault: 'timedOut' });
      const { run } = await engine.run({ input: `${runId} steps:5`, runId });
      expect(run).toMatchObject({ status: 'SUCCEEDED', steps: 6, answer: 'done after 5' });
      // The retry replayed the recorded steps: no model answer and no tool effect twice.
      expect(modelRequests(runId)).toBe(6);
      expect(new Set(await effectsOf(runId)).size).toBe(5);
      expect(await effectsOf(runId)).toHaveLength(5);
      const events = await engine.runtime.runs.listEvents(runId);
      expect(events.filter((e) => e.type === 'run_resumed')).toHaveLength(1);
    });

    it('a segment that keeps timing out without moving the checkpoint on degrades the run', async () => {
      const runId = 'hybrid-stuck';
      // The first segment and its retry time out, as does every segment after (none records a step past the first).
      faults.push({ runId, indexes: [1, 2, 3, 4], fault: 'timedOut' });
      const { run } = await engine.run({ input: `${runId} steps:5`, runId, budgets: { maxSteps: 2 } });
      expect(run).toMatchObject({ status: 'DEGRADED' });
    });

    it('two copies of each segment running at the same time send one model request per step and one request per tool call', async () => {
      const runId = 'hybrid-concurrent';
      faults.push({ runId, indexes: [1, 2, 3, 4, 5, 6, 7, 8], fault: 'concurrent' });
      const before = engine.stepFunctions.expressExecutions.length;
      // `slow`: each model answer takes 40 ms, each tool call 150 ms, so the two copies of a step overlap; the copy
      // that finds a call held waits for its result instead of recording it as failed.
      toolDelayMs = 150;
      const { run } = await engine.run({ input: `slow ${runId}`, runId, budgets: { maxSteps: 4 } }).finally(() => {
        toolDelayMs = 0;
      });
      expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET', steps: 4 });
      const segments = engine.stepFunctions.expressExecutions.slice(before).filter((x) => x.parentArn.includes(runId));
      expect(segments.length).toBeGreaterThanOrEqual(4); // two segments, each run twice at once
      expect(modelRequests(runId)).toBe(4);
      expect(await effectsOf(runId)).toHaveLength(3);
      const messages = await engine.runtime.runs.listMessages(runId);
      expect(messages.filter((m) => m.message.role === 'tool' && m.message.isError)).toEqual([]);
      const events = await engine.runtime.runs.listEvents(runId);
      expect(events.filter((e) => e.type === 'model_call')).toHaveLength(4);
    });

    it('a segment run twice (at-least-once) repeats no model answer and no tool effect', async () => {
      const runId = 'hybrid-twice';
      rerun.add(runId);
      const before = engine.stepFunctions.expressExecutions.length;
      const { run } = await engine.run({ input: `${runId} steps:5`, runId });
      const segments = engine.stepFunctions.expressExecutions.slice(before).filter((x) => x.parentArn.includes(runId));
      expect(segments).toHaveLength(6); // three segments, each run twice
      expect(run).toMatchObject({ status: 'SUCCEEDED', steps: 6, answer: 'done after 5', usage: expect.objectContaining({ inputTokens: 6 * 50 }) });
      expect(modelRequests(runId)).toBe(6);
      expect(await effectsOf(runId)).toHaveLength(5);
      expect(new Set(await effectsOf(runId)).size).toBe(5);
      const events = await engine.runtime.runs.listEvents(runId);
      expect(events.filter((e) => e.type === 'model_call')).toHaveLength(6);
      expect(events.filter((e) => e.type === 'tool_call')).toHaveLength(5);
      expect(events.filter((e) => e.type === 'run_finished')).toHaveLength(1);
    });

    it('an approval nobody gives expires in the parent: UNFINISHED / APPROVAL_EXPIRED, the call never run', async () => {
      // The parent's AwaitApproval with a 1-second timeout (the synthesized parent, patched; same config).
      const template = patchDefinition(templateFor(parseConfig(configFor('hybrid'))), (d) => {
        const states = d.States as Record<string, Record<string, unknown>>;
        states.AwaitApproval = { ...states.AwaitApproval, TimeoutSeconds: 1 };
      });
      const expiring = await testEngine(configFor('hybrid'), { template });
      try {
        const runId = 'hybrid-expire';
        const toolRequests = effects.length;
        const { run } = await expiring.run({ input: `approve ${runId}`, runId });
        expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'APPROVAL_EXPIRED' });
        expect(effects.length).toBe(toolRequests);
        expect(expiring.stepFunctions.expressExecutions.filter((x) => x.parentArn.includes(runId)).map((x) => x.status)).toEqual(['SUCCEEDED']);
      } finally {
        await expiring.close();
      }
    });

    // Last: it deploys a new template to this engine.
    it('a deploy that changes the segment: a run in flight keeps its segment version, new runs start the new one', async () => {
      const segmentsOf = (runId: string) => engine.stepFunctions.expressExecutions.filter((x) => x.parentArn.includes(runId));
      const runId = 'hybrid-versions';
      const finished = engine.run({ input: `slow ${runId}`, runId, budgets: { maxSteps: 3 } });
      await until('a first model request', () => modelRequests(runId) > 0);
      await engine.control.pause(runId);
      await until('PAUSED', async () => (await engine.runtime.runs.getRun(runId))?.status === 'PAUSED');
      const pinned = segmentsOf(runId)[0]?.stateMachineArn;
      expect(pinned).toBeDefined();
      engine.deploy(withSegmentComment(engine.template, 'v2'));
      await engine.run({ input: 'hybrid-after-deploy steps:1', runId: 'hybrid-after-deploy' });
      const current = segmentsOf('hybrid-after-deploy')[0]?.stateMachineArn;
      expect(current).toBeDefined();
      expect(current).not.toBe(pinned);
      await engine.control.resume(runId);
      const { run } = await finished;
      expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET', steps: 3 });
      expect([...new Set(segmentsOf(runId).map((x) => x.stateMachineArn))]).toEqual([pinned]);
      // The parent too: the run in flight stays on the version it started on, the new run is on the new one.
      const parentVersion = (id: string) => [...engine.stepFunctions.executions.values()].find((x) => x.executionArn.includes(id))?.stateMachineVersionArn;
      expect(parentVersion(runId)).toBeDefined();
      expect(parentVersion('hybrid-after-deploy')).toBeDefined();
      expect(parentVersion(runId)).not.toBe(parentVersion('hybrid-after-deploy'));
    });
  }
});

/** A copy of the template whose Express segment definition has a new comment (a changed segment). */
function withSegmentComment(template: CfnTemplate, comment: string): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  const express = Object.values(copy.Resources).find((r) => r.Properties?.StateMachineType === 'EXPRESS');
  const join = express?.Properties?.DefinitionString as { 'Fn::Join': [string, unknown[]] };
  join['Fn::Join'][1][0] = String(join['Fn::Join'][1][0]).replace('{"StartAt"', `{"Comment":"${comment}","StartAt"`);
  return copy;
}
