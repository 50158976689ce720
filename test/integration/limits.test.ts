import { ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { MAX_INPUT_CHARS } from '../../lambdas/api/routes';
import type { ModelProvider } from '../../lambdas/core/types';
import { MAX_ANSWER_BYTES } from '../../lambdas/store/run-store';
import { parseConfig } from '../../lib/config';
import { worstCaseEventsPerStep, worstCaseHistoryEvents } from '../../lib/history';
import { itemBytes, MAX_ITEM_BYTES, MAX_PAYLOAD_BYTES, payloadBytes } from '../../local/limits';
import { historyEvents } from '../../local/sfn-api';
import { testEngine } from '../helpers/engine';

describe('payloads and items stay within the AWS limits by design', () => {
  it('a 280,000-character answer of 2-byte characters: SUCCEEDED, every payload ≤ 256 KB and every item ≤ 400 KB in UTF-8', async () => {
    const answer = 'é'.repeat(280_000);
    const model = (): ModelProvider => ({
      provider: 'demo',
      model: 'long',
      complete: async () => ({ text: answer, toolCalls: [], usage: { inputTokens: 10, outputTokens: 10 }, finishReason: 'stop', model: 'demo/long' }),
    });
    const engine = await testEngine({}, { overrides: { model } });
    try {
      const result = await engine.run({ input: `${'ü'.repeat(120_000)} — summarize` });
      expect(result.error).toBeUndefined();
      const execution = [...engine.executions.values()][0];
      expect(execution?.status).toBe('SUCCEEDED');
      // The execution's output names the run; the answer is read from the table.
      expect(JSON.parse(execution?.output ?? 'null')).toEqual({ runId: result.runId, status: 'SUCCEEDED', stopReason: null });
      expect(result.run.status).toBe('SUCCEEDED');
      expect(result.run.answer?.startsWith('é'.repeat(1000))).toBe(true);
      expect(Buffer.byteLength(result.run.answer ?? '', 'utf8')).toBeLessThanOrEqual(MAX_ANSWER_BYTES + 100);
      for (const event of result.events) {
        const state = (event as { state?: { input?: unknown; output?: unknown } }).state;
        if (state) expect(Math.max(payloadBytes(state.input), payloadBytes(state.output))).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
      }
      const tables = (await engine.dynamo.doc.send(new ListTablesCommand({}))).TableNames ?? [];
      let largest = 0;
      for (const TableName of tables) {
        const items = (await engine.dynamo.doc.send(new ScanCommand({ TableName }))).Items ?? [];
        for (const item of items) largest = Math.max(largest, itemBytes(item as never));
      }
      expect(largest).toBeGreaterThan(MAX_ANSWER_BYTES);
      expect(largest).toBeLessThanOrEqual(MAX_ITEM_BYTES);
    } finally {
      await engine.close();
    }
  });
});

describe('StartExecution input: 256 KB, kept small by design', () => {
  it('a run with the largest prompt the API takes starts with a tiny input (the prompt is in the run item); an oversized StartExecution is refused as AWS refuses it', async () => {
    const engine = await testEngine({});
    try {
      const prompt = `${'ü'.repeat(MAX_INPUT_CHARS - 12)} What is 2+2?`;
      const result = await engine.run({ input: prompt });
      expect(result.run.status).toBe('SUCCEEDED');
      const execution = [...engine.executions.values()][0];
      // {runId, userId}: the prompt is read from the run item by LoadRun.
      expect(JSON.parse(execution?.input ?? '{}')).toEqual({ runId: result.runId, userId: 'local' });
      expect(Buffer.byteLength(execution?.input ?? '', 'utf8')).toBeLessThan(200);

      const start = (input: string, name: string) => engine.sfn.send(new StartExecutionCommand({ stateMachineArn: engine.stateMachineArn, name, input }));
      const sized = (bytes: number) => {
        const shell = JSON.stringify({ runId: 'big', pad: '' });
        return JSON.stringify({ runId: 'big', pad: 'é'.repeat(Math.floor((bytes - shell.length) / 2)) + 'x'.repeat((bytes - shell.length) % 2) });
      };
      expect(Buffer.byteLength(sized(MAX_PAYLOAD_BYTES + 1), 'utf8')).toBe(MAX_PAYLOAD_BYTES + 1);
      await expect(start(sized(MAX_PAYLOAD_BYTES + 1), 'too-big')).rejects.toMatchObject({
        name: 'ValidationException',
        message: "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less than or equal to 262144 bytes in UTF-8 encoding",
      });
      expect(engine.executions.has(`${engine.stateMachineArn.replace(':stateMachine:', ':execution:')}:too-big`)).toBe(false);
      // Exactly 256 KB is accepted (the execution then fails: there is no run "big").
      const fits = await start(sized(MAX_PAYLOAD_BYTES), 'just-fits');
      expect(fits.executionArn).toContain(':just-fits');
      await engine.describeExecution(fits.executionArn ?? '').done;
    } finally {
      await engine.close();
    }
  });
});

describe('the execution history quota (25,000 events), enforced offline', () => {
  const wander = { models: { primary: { provider: 'demo' as const, model: 'wander' } } };

  it('fails the execution with States.Runtime when its next event would pass the quota; the status rule closes the run FAILED', async () => {
    const engine = await testEngine(wander, { historyLimit: 100 });
    try {
      const result = await engine.run({ input: 'keep exploring' });
      expect(result.error).toEqual({ name: 'States.Runtime', message: 'The execution reached the maximum number of history events (100).' });
      expect(result.historyEventCount).toBe(100);
      expect(result.run).toMatchObject({ status: 'FAILED', stopReason: 'EXECUTION_FAILED' });
      expect(result.run.answer).toContain('maximum number of history events');
      const execution = [...engine.executions.values()][0];
      expect(execution?.status).toBe('FAILED');
      const history = historyEvents(execution as never);
      // One list for the quota and the API: GetExecutionHistory lists exactly the events the quota counted.
      expect(history).toHaveLength(100);
      expect(history.at(-1)).toMatchObject({ type: 'ExecutionFailed', executionFailedEventDetails: { error: 'States.Runtime' } });
      // It stopped at the quota, long before the step budget.
      expect(result.run.steps).toBeLessThan(20);
    } finally {
      await engine.close();
    }
  });

  it('event number N may be ExecutionSucceeded: a run of exactly N events succeeds at a quota of N, fails at N - 1', async () => {
    const measure = await testEngine({});
    let events = 0;
    try {
      const result = await measure.run({ input: 'What is 2+2?' });
      expect(result.run.status).toBe('SUCCEEDED');
      events = result.historyEventCount;
      // ExecutionStarted, LoadRun, Route, CallModel, Route, CallTool, CallModel, Route, Finish, ExecutionSucceeded.
      expect(events).toBe(1 + 5 + 2 + 5 + 2 + 5 + 5 + 2 + 5 + 1);
    } finally {
      await measure.close();
    }
    for (const [limit, status] of [
      [events, 'SUCCEEDED'],
      [events - 1, 'FAILED'],
    ] as const) {
      const engine = await testEngine({}, { historyLimit: limit });
      try {
        const result = await engine.run({ input: 'What is 2+2?' });
        expect([...engine.executions.values()].map((e) => e.status)).toEqual([status]);
        expect(result.historyEventCount).toBe(limit);
        // At N - 1 the quota is reached on Finish's last events, after Finish wrote the run: it stays terminal (the
        // status handler never overwrites a terminal run), as it would in AWS.
        expect(result.run.status).toBe('SUCCEEDED');
      } finally {
        await engine.close();
      }
    }
  });

  it('the synth-time bound holds: a run using the whole default step budget writes fewer events than the worst-case estimate', async () => {
    const config = parseConfig(wander);
    const engine = await testEngine(wander);
    try {
      const result = await engine.run({ input: 'keep exploring' });
      expect(result.run).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET', steps: config.budgets.maxSteps });
      expect(result.historyEventCount).toBeGreaterThan(config.budgets.maxSteps * 12);
      expect(result.historyEventCount).toBeLessThanOrEqual(worstCaseHistoryEvents(config));
    } finally {
      await engine.close();
    }
  });

  it('the per-step bound is exact on the worst path: every attempt fails but the last, the fallback runs, every tool call fails over to its record', async () => {
    const demo = { provider: 'demo' as const, model: 'default' };
    const input = { budgets: { maxToolCallsPerStep: 2 }, models: { primary: demo, fallback: demo } };
    let calls = 0;
    const twoCalls = (): ModelProvider => ({
      provider: 'demo',
      model: 'two',
      complete: async () => {
        calls++;
        return {
          text: 'two tools',
          toolCalls: [0, 1].map((i) => ({ id: `c${calls}_${i}`, name: 'calculator', arguments: { expression: `${calls}+${i}` } })),
          usage: { inputTokens: 1, outputTokens: 1 },
          finishReason: 'tool_use',
          model: 'demo/two',
        };
      },
    });
    const attempts = new Map<string, number>();
    const worstPath = (fn: { handler: string }, payload: unknown): 'crash' | undefined => {
      const p = payload as { tier?: string; step?: number; toolCallId?: string; failure?: unknown; runId?: string; state?: { runId?: string } };
      const key = JSON.stringify([fn.handler, p.state?.runId ?? p.runId, p.step, p.tier, p.toolCallId, p.failure !== undefined]);
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (fn.handler === 'call-model') return p.tier === 'primary' || n < 3 ? 'crash' : undefined;
      if (fn.handler === 'call-tool') return p.failure === undefined || n < 3 ? 'crash' : undefined;
      return undefined;
    };
    const config = parseConfig(input);
    expect(config.models.fallback).toBeDefined();
    const engine = await testEngine(input, { overrides: { model: twoCalls }, lambdaFaults: worstPath });
    try {
      const two = await engine.run({ input: 'go', budgets: { maxSteps: 2 }, runId: 'steps-2' });
      const three = await engine.run({ input: 'go', budgets: { maxSteps: 3 }, runId: 'steps-3' });
      for (const r of [two, three]) expect(r.run).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET' });
      // One more step: CallModel and CallFallbackModel (3 attempts each), Route, the Map of two failing calls.
      expect(three.historyEventCount - two.historyEventCount).toBe(worstCaseEventsPerStep(config));
    } finally {
      await engine.close();
    }
  });
});
