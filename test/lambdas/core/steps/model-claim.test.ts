import { TransientError } from '../../../../lambdas/core/errors';
import type { StoredMessage } from '../../../../lambdas/core/ports';
import { withModelClaim } from '../../../../lambdas/core/steps/model-claim';
import { DynamoModelCallClaims } from '../../../../lambdas/store/model-claims';
import { RunStore } from '../../../../lambdas/store/run-store';
import { dynamoWithAgentTable } from '../../../helpers/dynamo';

/**
 * Two copies of one step at the same time (an Express segment run twice at once, docs/hybrid.md): one calls the
 * model, the other waits for the stored answer; a copy that waits past the lease fails transiently.
 */
describe('withModelClaim', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  let runs: RunStore;
  let claims: DynamoModelCallClaims;
  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    runs = new RunStore(dynamo.doc, dynamo.tableName);
    claims = new DynamoModelCallClaims(dynamo.doc, dynamo.tableName);
  });
  afterAll(async () => dynamo.close());

  const answer = (step: number): StoredMessage => ({ step, seq: 0, at: new Date().toISOString(), message: { role: 'assistant', content: 'hi', toolCalls: [] } });

  it('two copies at once: one model call, both get the stored answer', async () => {
    await runs.createRun({ runId: 'both', userId: 'u', input: 'hi', maxSteps: 5, maxTokens: 1000 });
    let calls = 0;
    let release: () => void = () => undefined;
    const slowCall = async () => {
      calls++;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return (await runs.putMessage('both', answer(1))).stored;
    };
    const deps = { runs, modelClaims: claims };
    const first = withModelClaim(deps, 'both', 1, { remainingMs: () => 30_000 }, slowCall);
    // The second copy starts while the first holds the claim (its call not answered yet).
    while (calls === 0) await new Promise((r) => setImmediate(r));
    const second = withModelClaim(deps, 'both', 1, { remainingMs: () => 30_000 }, slowCall);
    await new Promise((r) => setTimeout(r, 20));
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(calls).toBe(1);
    expect(a).toMatchObject({ step: 1, message: { content: 'hi' } });
    expect(b).toMatchObject({ step: 1, message: { content: 'hi' } });
    // A late copy of step 1 reads the stored answer without a call (the claim is left to the TTL).
    expect(await withModelClaim(deps, 'both', 1, {}, slowCall)).toMatchObject({ step: 1 });
    expect(calls).toBe(1);
  });

  it('a call that failed gives its claim back: the retry claims at once', async () => {
    const deps = { runs, modelClaims: claims };
    await expect(withModelClaim(deps, 'failed', 1, { remainingMs: () => 30_000 }, async () => Promise.reject(new TransientError('503')))).rejects.toThrow('503');
    expect(await claims.claim('failed', 1, 'retry', 30_000)).toBe(true);
  });

  it('a copy that waits past the holder’s lease without an answer fails transiently (the state machine retries it)', async () => {
    expect(await claims.claim('stuck', 1, 'dead-holder', 60_000)).toBe(true);
    let t = 0;
    const deps = {
      runs,
      modelClaims: claims,
      clock: () => t,
      sleep: async () => {
        t += 1000;
      },
    };
    await expect(withModelClaim(deps, 'stuck', 1, { remainingMs: () => 5000 }, async () => answer(1))).rejects.toThrow(TransientError);
    expect(t).toBeLessThanOrEqual(5000);
  });
});
