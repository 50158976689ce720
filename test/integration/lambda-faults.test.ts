import { parseConfig } from '../../lib/config';
import type { LocalEngine } from '../../local/engine';
import type { CfnTemplate } from '../../local/template';
import { sleep } from '../helpers/async';
import { templateFor, testEngine } from '../helpers/engine';

/**
 * Lambda's own failures, as Lambda and the lambda:invoke integration report them, in every Task: a crashed function
 * (Lambda.Unknown) and one past its configured timeout (Sandbox.Timedout). Each is retried (the handlers are
 * idempotent), then caught where the loop can go on, or fails the execution, which closes the run: no run is left
 * RUNNING.
 */

describe('crashed and timed-out functions in every Task', () => {
  let engine: LocalEngine;
  let crash: (handler: string, payload: Record<string, unknown>) => boolean = () => false;
  const invocations = new Map<string, number>();
  beforeAll(async () => {
    engine = await testEngine(
      {},
      {
        lambdaFaults: (fn, payload) => {
          invocations.set(fn.handler, (invocations.get(fn.handler) ?? 0) + 1);
          return crash(fn.handler, payload as Record<string, unknown>) ? 'crash' : undefined;
        },
      },
    );
  });
  beforeEach(() => {
    invocations.clear();
    crash = () => false;
  });
  afterAll(() => engine.close());

  it('LoadRun crashes every time: retried, then the execution fails and the run is FAILED with the cause', async () => {
    crash = (h) => h === 'load-run';
    const { run, error } = await engine.run({ input: 'What is 2+2?', runId: 'crash-load' });
    expect(error?.name).toBe('Lambda.Unknown');
    expect(invocations.get('load-run')).toBe(3);
    expect(run).toMatchObject({ status: 'FAILED', stopReason: 'EXECUTION_FAILED' });
    expect(run.answer).toContain('Lambda.Unknown: The cause could not be determined');
  });

  it('CallModel crashes once: retried and the run succeeds', async () => {
    let crashed = false;
    crash = (h) => {
      if (h !== 'call-model' || crashed) return false;
      crashed = true;
      return true;
    };
    const { run } = await engine.run({ input: 'What is 12.5% of 3480?', runId: 'crash-model-once' });
    expect(crashed).toBe(true);
    expect(run.status).toBe('SUCCEEDED');
  });

  it('CallModel and CallFallbackModel crash every time: the run degrades', async () => {
    crash = (h) => h === 'call-model';
    const { run } = await engine.run({ input: 'What is 2+2?', runId: 'crash-models' });
    expect(run).toMatchObject({ status: 'DEGRADED', stopReason: 'MODELS_UNAVAILABLE' });
  });

  it('CallTool and RecordToolFailure crash every time: the run degrades, with no stuck state', async () => {
    crash = (h) => h === 'call-tool';
    const { run } = await engine.run({ input: 'What is 12.5% of 3480?', runId: 'crash-tools' });
    expect(run.status).toBe('DEGRADED');
  });

  it('a finalizer crashes every time: FAILED, and resumable', async () => {
    crash = (h) => h === 'finalize';
    const { run } = await engine.run({ input: 'What is 2+2?', runId: 'crash-finish' });
    expect(run).toMatchObject({ status: 'FAILED', stopReason: 'EXECUTION_FAILED' });
    crash = () => false;
    await engine.control.resume('crash-finish');
    expect((await engine.execute('crash-finish', 'local')).run.status).toBe('SUCCEEDED');
  });

  it('Pause crashes every time: the pause is given up as expired (UNFINISHED / PAUSE_EXPIRED)', async () => {
    crash = (h) => h === 'pause';
    const runs = engine.runtime.runs;
    await runs.createRun({ runId: 'crash-pause', userId: 'local', input: 'What is 12.5% of 3480?', maxSteps: 10, maxTokens: 100_000 });
    await runs.updateRun('crash-pause', { pauseRequested: true });
    const { run } = await engine.execute('crash-pause', 'local');
    expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'PAUSE_EXPIRED' });
  });
});

describe('function errors and timeouts as Lambda reports them', () => {
  it('a model handler past its function timeout is Sandbox.Timedout, retried; the run succeeds', async () => {
    const base = templateFor(parseConfig({}));
    const template = JSON.parse(JSON.stringify(base)) as CfnTemplate;
    for (const r of Object.values(template.Resources)) {
      const env = (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
      if (r.Type === 'AWS::Lambda::Function' && env?.HANDLER_NAME === 'call-model' && r.Properties) r.Properties.Timeout = 1;
    }
    const engine = await testEngine({}, { template });
    const retried: string[] = [];
    const runs = engine.runtime.runs;
    const original = runs.recordModelStep.bind(runs);
    let slowed = false;
    runs.recordModelStep = async (...args) => {
      if (!slowed) {
        slowed = true;
        await sleep(1300);
      }
      return original(...args);
    };
    try {
      const result = await engine.run({ input: 'What is 12.5% of 3480?', runId: 'slow-model' });
      for (const e of result.events) if (e.type === 'StateRetried') retried.push(String((e as { Error?: string }).Error ?? ''));
      expect(result.run.status).toBe('SUCCEEDED');
      expect(slowed).toBe(true);
      expect(result.events.some((e) => e.type === 'StateRetried')).toBe(true);
    } finally {
      runs.recordModelStep = original;
      await engine.close();
    }
  });

  it('a function error reaches Catch as Error = errorType, Cause = the JSON document; the trace keeps the errorMessage', async () => {
    const engine = await testEngine({ models: { primary: { provider: 'demo', model: 'fail' }, fallback: { provider: 'demo', model: 'default' } } });
    try {
      const { run, events } = await engine.run({ input: 'What is 2+2?', runId: 'caught' });
      expect(run.status).toBe('DEGRADED');
      const caught = events.find((e) => e.type === 'StateCaught') as { Error?: string; Cause?: string } | undefined;
      const failed = events.find((e) => e.type === 'StateFailed') as { Error?: string; Cause?: string } | undefined;
      const cause = JSON.parse(String(failed?.Cause ?? caught?.Cause));
      expect(cause).toMatchObject({ errorType: expect.any(String), errorMessage: expect.any(String), trace: expect.any(Array) });
      const fallback = (await engine.runtime.runs.listEvents('caught')).find((e) => e.type === 'fallback');
      expect(String(fallback?.cause)).toBe(cause.errorMessage.slice(0, String(fallback?.cause).length));
      expect(String(fallback?.cause).startsWith('{')).toBe(false);
    } finally {
      await engine.close();
    }
  });
});
