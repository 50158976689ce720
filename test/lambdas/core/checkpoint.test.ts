import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { CHECKPOINT_VERSION, checkpointFormat, storedPrevCallSig } from '../../../lambdas/core/checkpoint';
import { checkpointState, loadRun } from '../../../lambdas/core/loop';
import { callSignature } from '../../../lambdas/core/signature';
import { RunStore } from '../../../lambdas/store/run-store';
import type { LocalDynamo } from '../../../local/dynamo';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

const fixture = JSON.parse(readFileSync(join(__dirname, '../../fixtures/checkpoints/format-1.json'), 'utf8')) as { items: Record<string, unknown>[] };
const SAME_CALL = callSignature([{ name: 'search_docs', arguments: { query: 'retry policy', k: 2 } }]);
const BUDGETS = { maxSteps: 10, maxTokens: 100_000 };

describe('checkpoint format', () => {
  it('reads format 1 (no field) and the current one, and refuses a newer one with what to do', () => {
    expect(checkpointFormat({ runId: 'r' })).toBe(1);
    expect(checkpointFormat({ runId: 'r', checkpointVersion: CHECKPOINT_VERSION })).toBe(CHECKPOINT_VERSION);
    expect(() => checkpointFormat({ runId: 'r', checkpointVersion: CHECKPOINT_VERSION + 1 })).toThrow(/checkpoint format 3; this version reads formats 1 to 2.*rollback/);
  });

  it('uses the stored previous signature only when it belongs to the current step (older code may have moved the step on)', () => {
    expect(storedPrevCallSig({ runId: 'r', step: 3, checkpointVersion: 2, prevCallSig: 'abc', sigStep: 3 })).toBe('abc');
    expect(storedPrevCallSig({ runId: 'r', step: 4, checkpointVersion: 2, prevCallSig: 'abc', sigStep: 3 })).toBeUndefined();
    expect(storedPrevCallSig({ runId: 'r', step: 3, prevCallSig: 'abc', sigStep: 3 })).toBeUndefined();
  });
});

describe('a checkpoint written by the previous format (fixture)', () => {
  let dynamo: LocalDynamo & { tableName: string };
  let runs: RunStore;
  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    runs = new RunStore(dynamo.doc, dynamo.tableName);
    for (const item of fixture.items) await dynamo.doc.send(new PutCommand({ TableName: dynamo.tableName, Item: item }));
  });
  afterAll(async () => dynamo.close());

  it('is read by this version: the pending call, and the repetition it makes with the step before', async () => {
    const state = await loadRun({ runs }, { runId: 'format-1-run' }, BUDGETS);
    expect(state).toMatchObject({ outcome: 'tools', step: 2, toolCalls: [{ id: 'call_2_0' }], toolCount: 1, callSig: SAME_CALL, prevCallSig: SAME_CALL });
    const resumed = (await runs.listEvents('format-1-run')).find((e) => e.type === 'run_resumed');
    expect(resumed).toMatchObject({ resumeAt: 'tools', checkpointVersion: 1 });
  });

  it('becomes format 2 at the next step this version records, and reads the same from the run item', async () => {
    await runs.createRun({ runId: 'format-2-run', userId: 'local', input: 'x', ...BUDGETS });
    expect((await runs.getRun('format-2-run'))?.checkpointVersion).toBe(CHECKPOINT_VERSION);
    const first = await runs.recordModelStep('format-2-run', 1, { inputTokens: 1, outputTokens: 1 }, 'sig-1');
    expect(first).toMatchObject({ step: 1, lastCallSig: 'sig-1', prevCallSig: '', sigStep: 1, checkpointVersion: 2 });
    const second = await runs.recordModelStep('format-2-run', 2, { inputTokens: 1, outputTokens: 1 }, 'sig-2');
    expect(second).toMatchObject({ step: 2, lastCallSig: 'sig-2', prevCallSig: 'sig-1', sigStep: 2 });
    // Format 2 does not need the previous step's message: there is none here, the item has the signature.
    await runs.putMessage('format-2-run', {
      step: 2,
      seq: 0,
      message: { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'calculator', arguments: { expression: '1+1' } }] },
      at: new Date().toISOString(),
    });
    expect(await checkpointState({ runs }, second)).toMatchObject({ outcome: 'tools', prevCallSig: 'sig-1' });
  });
});
