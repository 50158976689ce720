import { parseConfig } from '../../lib/config';
import type { LocalEngine } from '../../local/engine';
import { sleep, until } from '../helpers/async';
import { patchDefinition, templateFor, testEngine } from '../helpers/engine';

/**
 * The run lifecycle outside the machine's own exits, through the engine: what fails, times out or is stopped closes
 * its run through the EventBridge rule's handler (the engine only publishes the execution's status change).
 */
const fault = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('execution status → run status (engine)', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await testEngine({});
  });
  afterAll(() => engine.close());

  it('a non-retryable failure in LoadRun → FAILED / EXECUTION_FAILED with its cause', async () => {
    const runs = engine.runtime.runs;
    const original = runs.appendEvent.bind(runs);
    runs.appendEvent = async (runId, e) => {
      if (e.type === 'run_started') throw fault('TableGone', 'the table is unavailable');
      return original(runId, e);
    };
    try {
      const { run, error } = await engine.run({ input: 'What is 2+2?', runId: 'load-fails' });
      // As Lambda reports a function error: Error = the errorType, Cause = the JSON document.
      expect(error?.name).toBe('TableGone');
      expect(JSON.parse(String(error?.message))).toMatchObject({ errorType: 'TableGone', errorMessage: 'the table is unavailable' });
      expect(run).toMatchObject({ status: 'FAILED', stopReason: 'EXECUTION_FAILED' });
      expect(run.answer).toContain('TableGone: the table is unavailable');
    } finally {
      runs.appendEvent = original;
    }
  });

  it('a failure in a finalizer → FAILED with its cause; the FAILED run is then resumed to the end', async () => {
    const runs = engine.runtime.runs;
    const original = runs.finalizeRun.bind(runs);
    runs.finalizeRun = async () => {
      throw fault('ValidationException', 'item too large');
    };
    let failed: Awaited<ReturnType<LocalEngine['run']>>;
    try {
      failed = await engine.run({ input: 'What is 12.5% of 3480?', runId: 'finish-fails' });
    } finally {
      runs.finalizeRun = original;
    }
    expect(failed.run).toMatchObject({ status: 'FAILED', stopReason: 'EXECUTION_FAILED' });
    expect(failed.run.answer).toContain('ValidationException: item too large');

    await engine.control.resume('finish-fails');
    const { run } = await engine.execute('finish-fails', 'local');
    expect(run.status).toBe('SUCCEEDED');
    expect(run.answer).toContain('435');
    const types = (await runs.listEvents('finish-fails')).map((e) => e.type);
    expect(types.filter((t) => t === 'run_finished')).toHaveLength(2);
    expect(types).toContain('run_resumed');
  });

  it('StopExecution outside the API → CANCELLED / ABORTED, and the loop stops', async () => {
    const runs = engine.runtime.runs;
    const original = runs.recordModelStep.bind(runs);
    let modelSteps = 0;
    runs.recordModelStep = async (...args) => {
      modelSteps++;
      await sleep(200);
      return original(...args);
    };
    try {
      const finished = engine.run({ input: 'What is 12.5% of 3480?', runId: 'stopped' });
      await until('the first model step', () => modelSteps >= 1);
      const run = await runs.getRun('stopped');
      expect(run?.executionArn).toEqual(expect.stringContaining(':execution:'));
      engine.stopExecution(String(run?.executionArn), 'Operator', 'stopped from the console');
      const { run: closed } = await finished;
      expect(closed).toMatchObject({ status: 'CANCELLED', stopReason: 'ABORTED' });
      const steps = modelSteps;
      await sleep(500);
      expect(modelSteps).toBe(steps);
      expect(engine.describeExecution(String(run?.executionArn)).status).toBe('ABORTED');
    } finally {
      runs.recordModelStep = original;
    }
  });
});

describe('timeouts (a machine synthesized with short ones)', () => {
  it('an execution past the machine timeout → FAILED / EXECUTION_TIMED_OUT', async () => {
    const config = parseConfig({});
    const template = patchDefinition(templateFor(config), (d) => {
      d.TimeoutSeconds = 1;
    });
    const engine = await testEngine({}, { template });
    const runs = engine.runtime.runs;
    const original = runs.recordModelStep.bind(runs);
    runs.recordModelStep = async (...args) => {
      await sleep(1500);
      return original(...args);
    };
    try {
      const { run, error } = await engine.run({ input: 'What is 2+2?', runId: 'too-slow' });
      expect(error?.name).toBe('States.Timeout');
      expect(run).toMatchObject({ status: 'FAILED', stopReason: 'EXECUTION_TIMED_OUT' });
    } finally {
      await engine.close();
    }
  });

  it('a paused run past its pause timeout → UNFINISHED / PAUSE_EXPIRED', async () => {
    const config = parseConfig({});
    const template = patchDefinition(templateFor(config), (d) => {
      const pause = (d.States as Record<string, Record<string, unknown>>).Pause;
      if (pause) pause.TimeoutSeconds = 1;
    });
    const engine = await testEngine({}, { template });
    try {
      const runs = engine.runtime.runs;
      await runs.createRun({ runId: 'pause-expires', userId: 'local', input: 'What is 12.5% of 3480?', maxSteps: 10, maxTokens: 100_000 });
      await runs.updateRun('pause-expires', { pauseRequested: true });
      const finished = engine.execute('pause-expires', 'local');
      await until('PAUSED', async () => (await runs.getRun('pause-expires'))?.status === 'PAUSED');
      const token = String((await runs.getRun('pause-expires'))?.taskToken);
      const { run } = await finished;
      expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'PAUSE_EXPIRED' });
      // The attempt's token is stale once its task timed out, as in AWS.
      expect(() => engine.sendTaskSuccess(token, 'false')).toThrow(expect.objectContaining({ name: 'TaskTimedOut' }));
      expect((await runs.listEvents('pause-expires')).map((e) => e.type)).toContain('paused');
    } finally {
      await engine.close();
    }
  });
});
