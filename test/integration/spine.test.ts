import type { LocalEngine } from '../../local/engine';
import { countTransitions, type EventLog } from '../../local/engine';
import { testEngine } from '../helpers/engine';

/** Billed transitions per loop step, from the engine's event log (StateEntered events, Map iterations included). */
function transitionsPerStep(events: EventLog[]): number[] {
  const perStep: number[] = [];
  let current = -1;
  for (const e of events) {
    if (e.type !== 'StateEntered') continue;
    if (e.state.name === 'LoadRun') continue;
    if (e.state.name === 'CallModel') perStep[++current] = 0;
    if (current >= 0) perStep[current] = (perStep[current] ?? 0) + 1;
  }
  return perStep;
}

describe('the synthesized state machine, run offline', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await testEngine();
  });
  afterAll(async () => engine.close());

  it('answers arithmetic through a calculator call, with its trace in the table', async () => {
    const { run, events } = await engine.run({ input: 'What is 12.5% of 3480?' });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.answer).toContain('435');
    expect(run.steps).toBe(2);
    expect(run.stopReason).toBeNull();
    expect(run.usage.inputTokens).toBeGreaterThan(0);
    const trace = await engine.runtime.runs.listEvents(run.runId);
    const calls = trace.filter((e) => e.type === 'tool_call');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ name: 'calculator', result: '435', isError: false });
    expect(trace.filter((e) => e.type === 'model_call')).toHaveLength(2);

    const perStep = transitionsPerStep(events);
    // eslint-disable-next-line no-console
    console.log(`billed transitions: ${countTransitions(events)} in all; per step ${JSON.stringify(perStep)} (single-tool step, final step)`);
    expect(perStep).toEqual([3, 3]);
  });

  it('answers a demo question through two tool calls in one step (Map), every call traced in order', async () => {
    const { run } = await engine.run({ input: 'What is 17 * 23, and how does the circuit breaker work?' });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.answer).toContain('391');
    expect(run.answer?.toLowerCase()).toContain('breaker');
    const trace = await engine.runtime.runs.listEvents(run.runId);
    const types = trace.map((e) => e.type);
    expect(types[0]).toBe('run_started');
    expect(types.at(-1)).toBe('run_finished');
    const tools = trace
      .filter((e) => e.type === 'tool_call')
      .map((e) => e.name)
      .sort();
    expect(tools).toEqual(['calculator', 'search_docs']);
    const ats = trace.map((e) => e.at);
    expect([...ats].sort()).toEqual(ats);
    const messages = await engine.runtime.runs.listMessages(run.runId);
    expect(messages.map((m) => m.message.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant']);
  });
});

describe('step budget', () => {
  it('stops a wandering agent after exactly maxSteps, UNFINISHED with its partial answer', async () => {
    const engine = await testEngine({ models: { primary: { provider: 'demo', model: 'wander' } }, budgets: { maxSteps: 3 } });
    try {
      const { run } = await engine.run({ input: 'Keep exploring the budgets.' });
      expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET', steps: 3 });
      expect(run.answer).toContain('step budget');
      expect(run.answer).toContain('Here is what I found before stopping:\n- search_docs:');
      const trace = await engine.runtime.runs.listEvents(run.runId);
      expect(trace.filter((e) => e.type === 'model_call')).toHaveLength(3);
      expect(trace.filter((e) => e.type === 'tool_call')).toHaveLength(2);
      expect(trace.at(-2)).toMatchObject({ type: 'surrender', stopReason: 'STEP_BUDGET' });
      expect(trace.at(-1)).toMatchObject({ type: 'run_finished', status: 'UNFINISHED', stopReason: 'STEP_BUDGET' });
    } finally {
      await engine.close();
    }
  });
});
