import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { idempotencyKeyFor } from '../../../lambdas/core/signature';
import type { ToolCall, ToolContext, ToolResult } from '../../../lambdas/core/types';
import { idempotentToolRunner, releaseInProgressToolCalls } from '../../../lambdas/store/idempotent-tools';
import { ensureTable, type LocalDynamo, startDynalite } from '../../../local/dynamo';

const TABLE = 'Idempotency';
const lambdaContext = { getRemainingTimeInMillis: () => 60_000 } as never;

describe('idempotent tool runs and releasing the calls of a dead worker', () => {
  let dynamo: LocalDynamo;
  let client: DynamoDBClient;

  beforeAll(async () => {
    dynamo = await startDynalite();
    await ensureTable(dynamo.doc, {
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    });
    client = new DynamoDBClient({ ...dynamo.clientConfig });
  });
  afterAll(async () => {
    client.destroy();
    await dynamo.close();
  });

  const callOf = (id: string): ToolCall => ({ id, name: 'charge', arguments: { amount: 1 } });
  const ctxOf = (call: ToolCall): ToolContext => ({ runId: 'run-1', step: 2, toolCallId: call.id, idempotencyKey: idempotencyKeyFor('run-1', 2, call.id) });

  it('releases a call left in progress, keeps a completed one: the first runs again, the second answers from its record', async () => {
    let runs = 0;
    let hang: () => void = () => {};
    const runner = idempotentToolRunner(
      async (call): Promise<ToolResult> => {
        runs++;
        if (call.id === 'stuck') await new Promise<void>((resolve) => (hang = resolve));
        return { content: `ran ${call.id}` };
      },
      { tableName: TABLE, client },
    );
    runner.registerLambdaContext(lambdaContext);
    const done = callOf('done');
    const stuck = callOf('stuck');
    await runner.run(done, ctxOf(done));
    const hanging = runner.run(stuck, ctxOf(stuck)); // a worker that will "die" holding the call
    while (runs < 2) await new Promise((r) => setTimeout(r, 5));

    // Another worker meanwhile: the call is held (in progress), so it is not run twice.
    const other = idempotentToolRunner(async () => ({ content: 'again' }), { tableName: TABLE, client, inProgressWaitMs: 0 });
    other.registerLambdaContext(lambdaContext);
    await expect(other.run(stuck, ctxOf(stuck))).rejects.toMatchObject({ name: 'TransientError' });

    const released = await releaseInProgressToolCalls(
      [done, stuck, callOf('never-ran')].map((call) => ({ call, idempotencyKey: ctxOf(call).idempotencyKey })),
      { tableName: TABLE, client },
    );
    expect(released).toBe(1);
    expect(await other.run(stuck, ctxOf(stuck))).toEqual({ content: 'again' });
    expect(await other.run(done, ctxOf(done))).toEqual({ content: 'ran done' });
    const items = (await dynamo.doc.send(new ScanCommand({ TableName: TABLE }))).Items ?? [];
    expect(items).toHaveLength(2);
    hang();
    await hanging.catch(() => undefined);
  });

  it('a copy of a call held in progress waits for its result (no second run), within its invocation’s time', async () => {
    let runs = 0;
    let finish: () => void = () => {};
    const holder = idempotentToolRunner(
      async (call): Promise<ToolResult> => {
        runs++;
        await new Promise<void>((resolve) => (finish = resolve));
        return { content: `ran ${call.id}` };
      },
      { tableName: TABLE, client },
    );
    holder.registerLambdaContext(lambdaContext);
    const call = callOf('held');
    const first = holder.run(call, ctxOf(call));
    while (runs < 1) await new Promise((r) => setTimeout(r, 5));
    let polls = 0;
    const copy = idempotentToolRunner(async () => ({ content: 'again' }), {
      tableName: TABLE,
      client,
      sleep: async () => {
        // The holder's call ends while the copy waits.
        if (++polls === 2) finish();
        await new Promise((r) => setTimeout(r, 5));
      },
    });
    copy.registerLambdaContext(lambdaContext);
    expect(await copy.run(call, ctxOf(call))).toEqual({ content: 'ran held' });
    expect(await first).toEqual({ content: 'ran held' });
    expect(runs).toBe(1);
    expect(polls).toBeGreaterThanOrEqual(2);
  });
});
