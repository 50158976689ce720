import { DynamoModelCallClaims } from '../../../lambdas/store/model-claims';
import { RunStore } from '../../../lambdas/store/run-store';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

/** Claims of a step's model call on dynalite: one holder at a time, a lease that ends, release by the holder only. */
describe('DynamoModelCallClaims', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  let now = 1_000_000;
  let claims: DynamoModelCallClaims;
  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    claims = new DynamoModelCallClaims(dynamo.doc, dynamo.tableName, () => now);
  });
  afterAll(async () => dynamo.close());

  it('one holder per step while its lease lasts; the holder may claim again; another step is another claim', async () => {
    expect(await claims.claim('r1', 1, 'a', 30_000)).toBe(true);
    expect(await claims.claim('r1', 1, 'b', 30_000)).toBe(false);
    expect(await claims.claim('r1', 1, 'a', 30_000)).toBe(true);
    expect(await claims.claim('r1', 2, 'b', 30_000)).toBe(true);
    expect(await claims.claim('r2', 1, 'b', 30_000)).toBe(true);
  });

  it('a lease that ended (a crashed holder) is taken over; only the holder releases; drop removes any claim', async () => {
    expect(await claims.claim('r3', 1, 'a', 30_000)).toBe(true);
    now += 30_001;
    expect(await claims.claim('r3', 1, 'b', 30_000)).toBe(true);
    await claims.release('r3', 1, 'a'); // no longer a's: a no-op
    expect(await claims.claim('r3', 1, 'c', 30_000)).toBe(false);
    await claims.release('r3', 1, 'b');
    expect(await claims.claim('r3', 1, 'c', 30_000)).toBe(true);
    await claims.drop('r3', 1);
    expect(await claims.claim('r3', 1, 'd', 30_000)).toBe(true);
  });

  it('a claim is not a message: the conversation does not list it', async () => {
    const runs = new RunStore(dynamo.doc, dynamo.tableName);
    await runs.createRun({ runId: 'r4', userId: 'u', input: 'hi', maxSteps: 5, maxTokens: 1000 });
    expect(await claims.claim('r4', 1, 'a', 30_000)).toBe(true);
    expect((await runs.listMessages('r4')).map((m) => m.message.role)).toEqual(['user']);
  });
});
