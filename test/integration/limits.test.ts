import { ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { ModelProvider } from '../../lambdas/core/types';
import { MAX_ANSWER_BYTES } from '../../lambdas/store/run-store';
import { itemBytes, MAX_ITEM_BYTES, MAX_PAYLOAD_BYTES, payloadBytes } from '../../local/limits';
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
