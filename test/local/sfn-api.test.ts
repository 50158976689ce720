import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { LocalEngine } from '../../local/engine';
import { newTaskToken } from '../../local/task-tokens';
import { sleep, until } from '../helpers/async';
import { testEngine } from '../helpers/engine';

/** The local Step Functions API, driven by the unchanged AWS SDK with the endpoint from AWS_ENDPOINT_URL_SFN. */
describe('local Step Functions API (JSON 1.0 wire protocol)', () => {
  let engine: LocalEngine;
  let sfn: SFNClient;
  const saved = { ...process.env };
  beforeAll(async () => {
    engine = await testEngine({});
    process.env.AWS_ENDPOINT_URL_SFN = engine.sfnApi.url;
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    process.env.AWS_REGION = 'us-east-1';
    sfn = new SFNClient({ maxAttempts: 1 });
  });
  afterAll(async () => {
    process.env = saved;
    sfn.destroy();
    await engine.close();
  });

  it('answers a body that is not a JSON object with SerializationException, as the service does', async () => {
    for (const body of ['not json', '[1, 2]']) {
      const res = await fetch(engine.sfnApi.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.ListStateMachines' },
        body,
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ __type: 'SerializationException' });
    }
  });

  it('lists the state machine; a run started through the API is seen RUNNING, stopped, and the run ends CANCELLED / ABORTED with its loop stopped', async () => {
    const { stateMachines } = await sfn.send(new ListStateMachinesCommand({}));
    expect(stateMachines).toEqual([expect.objectContaining({ stateMachineArn: engine.stateMachineArn, type: 'STANDARD' })]);

    const runs = engine.runtime.runs;
    const original = runs.recordModelStep.bind(runs);
    let modelSteps = 0;
    runs.recordModelStep = async (...args) => {
      modelSteps++;
      await sleep(300);
      return original(...args);
    };
    try {
      const finished = engine.run({ input: 'What is 12.5% of 3480?', runId: 'sdk-stop' });
      await until('the first model step', () => modelSteps >= 1);
      const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn: engine.stateMachineArn, statusFilter: 'RUNNING' }));
      const execution = executions?.find((e) => e.name === 'sdk-stop');
      expect(execution?.status).toBe('RUNNING');
      expect(execution?.startDate).toBeInstanceOf(Date);
      const stopped = Date.now();
      await sfn.send(new StopExecutionCommand({ executionArn: execution?.executionArn, error: 'Console', cause: 'stopped by an operator' }));
      await until('CANCELLED', async () => (await runs.getRun('sdk-stop'))?.status === 'CANCELLED', 5000);
      expect(Date.now() - stopped).toBeLessThan(5000);
      const { run } = await finished;
      expect(run).toMatchObject({ status: 'CANCELLED', stopReason: 'ABORTED' });
      const steps = modelSteps;
      await sleep(600);
      expect(modelSteps).toBe(steps);

      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: execution?.executionArn }));
      expect(described).toMatchObject({ status: 'ABORTED', error: 'Console', cause: 'stopped by an operator', input: JSON.stringify({ runId: 'sdk-stop', userId: 'local' }) });
      const { events } = await sfn.send(new GetExecutionHistoryCommand({ executionArn: execution?.executionArn }));
      expect(events?.[0]).toMatchObject({ type: 'ExecutionStarted', id: 1 });
      expect(events?.map((e) => e.type)).toEqual(expect.arrayContaining(['TaskStateEntered', 'ExecutionAborted']));
    } finally {
      runs.recordModelStep = original;
    }
  });

  it('starts an execution without the API: LoadRun creates the run with the one budget policy', async () => {
    const start = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: engine.stateMachineArn,
        name: 'direct',
        input: JSON.stringify({ runId: 'direct', userId: 'script', input: 'What is 2+2?', budgets: { maxSteps: 3 } }),
      }),
    );
    await until('the execution ends', async () => (await sfn.send(new DescribeExecutionCommand({ executionArn: start.executionArn }))).status !== 'RUNNING');
    expect(await engine.runtime.runs.getRun('direct')).toMatchObject({ userId: 'script', maxSteps: 3, status: 'SUCCEEDED' });
    // The name of a closed execution is refused whatever the input, as AWS documents for StartExecution.
    for (const input of [JSON.stringify({ runId: 'direct', userId: 'script', input: 'What is 2+2?', budgets: { maxSteps: 3 } }), '{}']) {
      await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: engine.stateMachineArn, name: 'direct', input }))).rejects.toMatchObject({
        name: 'ExecutionAlreadyExists',
      });
    }

    // A raise is refused, as POST /runs refuses it (422): LoadRun fails with BadRequest, the execution FAILED.
    const raised = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: engine.stateMachineArn, input: JSON.stringify({ runId: 'raised', input: 'hi', budgets: { maxSteps: 10_000 } }) }),
    );
    await until('the execution ends', async () => (await sfn.send(new DescribeExecutionCommand({ executionArn: raised.executionArn }))).status !== 'RUNNING');
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn: raised.executionArn }))).toMatchObject({ status: 'FAILED', error: 'BadRequest' });
    expect(await engine.runtime.runs.getRun('raised')).toBeUndefined();
  });

  it('answers with the AWS error codes', async () => {
    await expect(sfn.send(new DescribeExecutionCommand({ executionArn: `${engine.stateMachineArn.replace(':stateMachine:', ':execution:')}:nope` }))).rejects.toMatchObject({
      name: 'ExecutionDoesNotExist',
    });
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:Other' }))).rejects.toMatchObject({
      name: 'StateMachineDoesNotExist',
    });
    // A string that is no token at all is InvalidToken; a well-formed token no task waits for, TaskDoesNotExist.
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: 'unknown', output: '{}' }))).rejects.toMatchObject({ name: 'InvalidToken' });
    await expect(sfn.send(new SendTaskFailureCommand({ taskToken: 'bogus' }))).rejects.toMatchObject({ name: 'InvalidToken' });
    await expect(sfn.send(new SendTaskHeartbeatCommand({ taskToken: 'bogus' }))).rejects.toMatchObject({ name: 'InvalidToken' });
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: newTaskToken(), output: '{}' }))).rejects.toMatchObject({ name: 'TaskDoesNotExist' });
    // DescribeStateMachine: a malformed ARN is InvalidArn, an unknown machine or version StateMachineDoesNotExist.
    await expect(sfn.send(new DescribeStateMachineCommand({ stateMachineArn: 'not-an-arn' }))).rejects.toMatchObject({ name: 'InvalidArn' });
    await expect(sfn.send(new DescribeStateMachineCommand({ stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:Other' }))).rejects.toMatchObject({
      name: 'StateMachineDoesNotExist',
    });
    await expect(sfn.send(new DescribeStateMachineCommand({ stateMachineArn: `${engine.stateMachineArn}:99` }))).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(sfn.send(new DescribeExecutionCommand({ executionArn: engine.stateMachineArn }))).rejects.toMatchObject({ name: 'InvalidArn' });
    // ListExecutions: a status outside the enum is ValidationException naming the allowed values.
    await expect(sfn.send(new ListExecutionsCommand({ stateMachineArn: engine.stateMachineArn, statusFilter: 'BOGUS' as never }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('[RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]'),
    });
    // Execution names as AWS validates them: `run.v1` is valid; white space, `:` or 81 characters are InvalidName.
    const dotted = await sfn.send(new StartExecutionCommand({ stateMachineArn: engine.stateMachineArn, name: 'run.v1', input: JSON.stringify({ runId: 'run.v1', input: 'hi' }) }));
    expect(dotted.executionArn).toBe(`${engine.stateMachineArn.replace(':stateMachine:', ':execution:')}:run.v1`);
    for (const name of ['run v1', 'run:v1', 'x'.repeat(81)]) {
      await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: engine.stateMachineArn, name }))).rejects.toMatchObject({ name: 'InvalidName' });
    }
    await until('run.v1 ends', async () => (await sfn.send(new DescribeExecutionCommand({ executionArn: dotted.executionArn }))).status !== 'RUNNING');
    // A member of the wrong JSON type is refused by the protocol (400 SerializationException), never a 500.
    for (const input of [{ runId: 'x' }, 42]) {
      const res = await fetch(engine.sfnApi.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.StartExecution' },
        body: JSON.stringify({ stateMachineArn: engine.stateMachineArn, input }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ __type: 'SerializationException', message: expect.stringContaining("'input' must be a string") });
    }
    // An input past 256 KB (UTF-8) is refused before anything else is looked at, the machine included.
    const input = JSON.stringify({ runId: 'huge', pad: '€'.repeat(90_000) });
    for (const stateMachineArn of [engine.stateMachineArn, 'arn:aws:states:local:000000000000:stateMachine:Other']) {
      await expect(sfn.send(new StartExecutionCommand({ stateMachineArn, input }))).rejects.toMatchObject({
        name: 'ValidationException',
        message: expect.stringContaining('262144 bytes in UTF-8 encoding'),
      });
    }
  });

  it("GetExecutionHistory lists AWS's event types with ids 1..n, exactly as many events as the history quota counts", async () => {
    const result = await engine.run({ input: 'What is 2+2?', runId: 'history' });
    const execution = [...engine.executions.values()].find((e) => e.name === 'history');
    const events: { id?: number; previousEventId?: number; type?: string; [k: string]: unknown }[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < 100; page++) {
      const out = await sfn.send(new GetExecutionHistoryCommand({ executionArn: execution?.executionArn, maxResults: 7, nextToken }));
      events.push(...((out.events ?? []) as unknown as typeof events));
      nextToken = out.nextToken;
      if (!nextToken) break;
    }
    expect(events).toHaveLength(result.historyEventCount);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.previousEventId)).toEqual(events.map((_, i) => i));
    const types = events.map((e) => e.type);
    expect(types.slice(0, 6)).toEqual(['ExecutionStarted', 'TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskSucceeded', 'TaskStateExited']);
    expect(types).toContain('ChoiceStateEntered');
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    for (const t of types) expect(['StateFailed', 'StateRetried', 'StateCaught', 'StateEntered', 'StateExited']).not.toContain(t);
    const scheduled = events.find((e) => e.type === 'TaskScheduled') as { taskScheduledEventDetails?: { resourceType: string; resource: string; parameters: string } };
    expect(scheduled.taskScheduledEventDetails).toMatchObject({ resourceType: 'lambda', resource: 'invoke' });
    expect(JSON.parse(scheduled.taskScheduledEventDetails?.parameters ?? '{}')).toHaveProperty('FunctionName');
    const succeeded = events.find((e) => e.type === 'TaskSucceeded') as { taskSucceededEventDetails?: { output: string } };
    expect(JSON.parse(succeeded.taskSucceededEventDetails?.output ?? 'null')).toHaveProperty('Payload');
  });

  it('task tokens are per attempt: SendTaskFailure fails the waiting task; the spent token then answers TaskTimedOut; heartbeats reach a waiting task', async () => {
    const runs = engine.runtime.runs;
    await runs.createRun({ runId: 'paused', userId: 'local', input: 'What is 12.5% of 3480?', maxSteps: 10, maxTokens: 100_000 });
    await runs.updateRun('paused', { pauseRequested: true });
    const finished = engine.execute('paused', 'local');
    await until('PAUSED', async () => (await runs.getRun('paused'))?.status === 'PAUSED');
    const token = String((await runs.getRun('paused'))?.taskToken);
    await sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
    await sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'Rejected', cause: 'no' }));
    const { run } = await finished;
    // The Pause task's Catch sends any failure to PauseExpired.
    expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'PAUSE_EXPIRED' });
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: 'false' }))).rejects.toMatchObject({ name: 'TaskTimedOut' });
    await expect(sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }))).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });
});
