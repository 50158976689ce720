import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { ModelProvider, ModelResponse } from '../../lambdas/core/types';
import { parseConfig } from '../../lib/config';
import { HistoryCounter, itemBytes, MAX_ITEM_BYTES, MAX_PAYLOAD_BYTES, namesDataLimit, payloadBytes } from '../../local/limits';
import { dynamoWithAgentTable } from '../helpers/dynamo';
import { patchDefinition, templateFor, testEngine } from '../helpers/engine';

describe('AWS limits offline', () => {
  describe('400 KB per DynamoDB item, in UTF-8 bytes', () => {
    let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
    beforeAll(async () => {
      dynamo = await dynamoWithAgentTable();
    });
    afterAll(() => dynamo.close());
    const key = (pk: string) => ({ pk: { S: pk }, sk: { S: 'META' } });

    it('measures strings in bytes: 2-byte characters count twice', () => {
      expect(itemBytes({ pk: { S: 'é' } })).toBe(2 + 2);
      expect(itemBytes({ n: { N: '12345' } })).toBe(1 + 1 + 3);
      expect(itemBytes({ m: { M: { a: { S: 'xy' } } } })).toBe(1 + 3 + 1 + 1 + 2);
    });

    it('rejects a put of 210,000 two-byte characters (420,000 bytes) that dynalite alone accepts by characters', async () => {
      const text = 'é'.repeat(210_000);
      expect(text.length).toBeLessThan(MAX_ITEM_BYTES);
      const put = dynamo.doc.send(new PutItemCommand({ TableName: dynamo.tableName, Item: { ...key('big'), text: { S: text } } }));
      await expect(put).rejects.toMatchObject({ name: 'ValidationException', message: 'Item size has exceeded the maximum allowed size' });
      await dynamo.doc.send(new PutItemCommand({ TableName: dynamo.tableName, Item: { ...key('fits'), text: { S: 'é'.repeat(200_000) } } }));
      expect((await dynamo.doc.send(new GetItemCommand({ TableName: dynamo.tableName, Key: key('fits') }))).Item?.text?.S).toHaveLength(200_000);
    });

    it('rejects an update that grows the item past the limit', async () => {
      await dynamo.doc.send(new PutItemCommand({ TableName: dynamo.tableName, Item: { ...key('grows'), a: { S: 'é'.repeat(150_000) } } }));
      const update = dynamo.doc.send(
        new UpdateItemCommand({ TableName: dynamo.tableName, Key: key('grows'), UpdateExpression: 'SET b = :b', ExpressionAttributeValues: { ':b': { S: 'é'.repeat(60_000) } } }),
      );
      await expect(update).rejects.toMatchObject({ name: 'ValidationException' });
    });
  });

  describe('256 KB per state input, output and task result (States.DataLimitExceeded)', () => {
    it('measures payloads in UTF-8 and lets only a catcher naming the error handle it', () => {
      expect(payloadBytes('é')).toBe(4);
      expect(namesDataLimit({ Catch: [{ ErrorEquals: ['States.ALL'] }] })).toBe(false);
      expect(namesDataLimit({ Catch: [{ ErrorEquals: ['States.DataLimitExceeded'] }] })).toBe(true);
    });

    /** A model whose tool call carries an id so long that CallModel's result passes 256 KB. */
    const hugeResult = (): ModelProvider => ({
      provider: 'demo',
      model: 'huge',
      complete: async (): Promise<ModelResponse> => ({
        text: 'calling',
        toolCalls: [{ id: 'x'.repeat(MAX_PAYLOAD_BYTES), name: 'calculator', arguments: { expression: '1+1' } }],
        usage: { inputTokens: 1, outputTokens: 1 },
        finishReason: 'tool_use',
        model: 'demo/huge',
      }),
    });

    it('fails the execution when a task result passes 256 KB, though the Task catches States.ALL', async () => {
      const engine = await testEngine({}, { overrides: { model: hugeResult } });
      try {
        const result = await engine.run({ input: 'anything' });
        expect(result.error).toMatchObject({ name: 'States.DataLimitExceeded', message: expect.stringContaining('task result of state CallModel') });
        const names = result.events.filter((e) => e.type === 'StateEntered').map((e) => (e as { state: { name: string } }).state.name);
        expect(names).not.toContain('Degrade');
        // The status change reached the status rule: the run is terminal, not left RUNNING.
        expect(result.run.status).toBe('FAILED');
      } finally {
        await engine.close();
      }
    });

    it('lets a Catch that names States.DataLimitExceeded handle it', async () => {
      const config = parseConfig({});
      const template = patchDefinition(templateFor(config), (definition) => {
        const callModel = (definition.States as Record<string, { Catch: { ErrorEquals: string[] }[] }>).CallModel;
        callModel?.Catch.unshift({ ErrorEquals: ['States.DataLimitExceeded'], ResultPath: '$.error', Next: 'Degrade' } as never);
      });
      const engine = await testEngine({}, { template, overrides: { model: hugeResult } });
      try {
        const result = await engine.run({ input: 'anything' });
        expect(result.error).toBeUndefined();
        expect(result.run).toMatchObject({ status: 'DEGRADED', stopReason: 'MODELS_UNAVAILABLE' });
      } finally {
        await engine.close();
      }
    });

    it('fails the execution when a state output passes 256 KB (a Pass state)', async () => {
      const config = parseConfig({});
      const template = patchDefinition(templateFor(config), (definition) => {
        const states = definition.States as Record<string, Record<string, unknown>>;
        states.Big = { Type: 'Pass', Result: 'é'.repeat(140_000), ResultPath: '$.big', Next: 'Gate' };
        states.Gate = { Type: 'Choice', Choices: [{ Variable: '$.never', IsPresent: true, Next: 'LoadRun' }], Default: 'Stopped' };
        definition.StartAt = 'Big';
      });
      const engine = await testEngine({}, { template });
      try {
        const result = await engine.run({ input: 'anything' });
        expect(result.error).toMatchObject({ name: 'States.DataLimitExceeded', message: expect.stringContaining('output of state Big') });
        expect([...engine.executions.values()].map((e) => e.status)).toEqual(['FAILED']);
      } finally {
        await engine.close();
      }
    });
  });

  describe('the execution history, counted as Step Functions writes it', () => {
    const states: Record<string, Record<string, unknown>> = {
      Call: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke' },
      Wait: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken' },
      Route: { Type: 'Choice' },
      Tools: { Type: 'Map' },
    };
    const ev = (type: string, name?: string, index?: number) => ({
      type,
      ...(name ? { state: { name, type: String(states[name]?.Type) } } : {}),
      ...(index !== undefined ? { index } : {}),
    });
    const count = (events: ReturnType<typeof ev>[]) => {
      const counter = new HistoryCounter((name) => states[name]);
      for (const e of events) counter.add(e);
      return counter.count;
    };

    it('a task: 5 when it succeeds at once, 3 more per failed attempt, a caught failure exits with one event; a token task adds TaskSubmitted per attempt', () => {
      expect(count([ev('StateEntered', 'Call'), ev('StateExited', 'Call')])).toBe(5);
      expect(count([ev('StateEntered', 'Call'), ev('StateFailed', 'Call'), ev('StateRetried', 'Call'), ev('StateExited', 'Call')])).toBe(8);
      expect(count([ev('StateEntered', 'Call'), ev('StateFailed', 'Call'), ev('StateCaught', 'Call'), ev('StateExited', 'Call')])).toBe(5);
      expect(count([ev('StateEntered', 'Wait'), ev('StateFailed', 'Wait'), ev('StateRetried', 'Wait'), ev('StateExited', 'Wait')])).toBe(10);
    });

    it("drafts AWS's event types: Task* for the lambda:invoke integration, no StateFailed/StateRetried/StateCaught", () => {
      const counter = new HistoryCounter((name) => states[name]);
      const types = (events: ReturnType<typeof ev>[]) => events.flatMap((e) => counter.draftsOf({ ...e, Error: e.type === 'StateFailed' ? 'Boom' : undefined }).map((d) => d.type));
      expect(
        types([
          ev('ExecutionStarted'),
          ev('StateEntered', 'Call'),
          ev('StateFailed', 'Call'),
          ev('StateRetried', 'Call'),
          ev('StateExited', 'Call'),
          ev('StateEntered', 'Route'),
          ev('StateExited', 'Route'),
        ]),
      ).toEqual([
        'ExecutionStarted',
        'TaskStateEntered',
        'TaskScheduled',
        'TaskStarted',
        'TaskFailed',
        'TaskScheduled',
        'TaskStarted',
        'TaskSucceeded',
        'TaskStateExited',
        'ChoiceStateEntered',
        'ChoiceStateExited',
      ]);
      expect(types([ev('StateEntered', 'Wait'), ev('StateFailed', 'Wait'), ev('StateCaught', 'Wait'), ev('StateExited', 'Wait')])).toEqual([
        'TaskStateEntered',
        'TaskScheduled',
        'TaskStarted',
        'TaskSubmitted',
        'TaskFailed',
        'TaskStateExited',
      ]);
      expect(types([ev('StateEntered', 'Tools'), ev('MapIterationStarted'), ev('MapIterationSucceeded'), ev('StateExited', 'Tools')])).toEqual([
        'MapStateEntered',
        'MapStateStarted',
        'MapIterationStarted',
        'MapIterationSucceeded',
        'MapStateSucceeded',
        'MapStateExited',
      ]);
      const timedOut = counter.draftsOf({ type: 'StateFailed', state: { name: 'Call', type: 'Task' }, Error: 'States.Timeout' });
      expect(timedOut).toEqual([
        expect.objectContaining({ type: 'TaskTimedOut', details: expect.objectContaining({ resourceType: 'lambda', resource: 'invoke', error: 'States.Timeout' }) }),
      ]);
    });

    it('a Choice 2; a Map 4 plus 2 per item plus its items’ states; the execution’s start and end 1 each', () => {
      expect(count([ev('ExecutionStarted'), ev('StateEntered', 'Route'), ev('StateExited', 'Route'), ev('ExecutionSucceeded')])).toBe(4);
      const item = (i: number) => [ev('MapIterationStarted'), ev('StateEntered', 'Call', i), ev('StateExited', 'Call', i), ev('MapIterationSucceeded')];
      expect(count([ev('StateEntered', 'Tools'), ...item(0), ...item(1), ev('StateExited', 'Tools')])).toBe(4 + 2 * (2 + 5));
    });
  });
});
