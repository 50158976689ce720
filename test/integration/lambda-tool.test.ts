import { idempotencyKeyFor } from '../../lambdas/core/signature';
import { testEngine } from '../helpers/engine';

/**
 * An existing Lambda function as a tool, offline: its `localHandler` stands in for the ARN in the local engine. The
 * demo model sends product questions to a tool named `retrieve`, so the function is configured under that name.
 */
jest.setTimeout(240_000);

describe('a lambda tool on the synthesized machine, offline', () => {
  it('is offered to the model, invoked with its arguments and the idempotency key, and its result checkpointed', async () => {
    const engine = await testEngine({
      tools: [
        {
          name: 'retrieve',
          kind: 'lambda',
          functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders',
          description: 'Looks up orders and product notes.',
          parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
          localHandler: 'test/fixtures/lambda/orders.ts#lookup',
        },
      ],
    });
    try {
      const { run } = await engine.run({ input: 'How does the circuit breaker work?' });
      expect(run.status).toBe('SUCCEEDED');
      const trace = await engine.runtime.runs.listEvents(run.runId);
      const call = trace.find((e) => e.type === 'tool_call');
      expect(call).toMatchObject({
        name: 'retrieve',
        arguments: { query: 'circuit breaker work' },
        isError: false,
        source: 'lambda:arn:aws:lambda:us-east-1:123456789012:function:orders',
      });
      expect(JSON.parse(String(call?.result))).toEqual({
        order: null,
        status: 'shipped',
        about: 'circuit breaker work',
        idempotencyKey: idempotencyKeyFor(run.runId, 1, String(call?.toolCallId)),
      });
      expect(trace.find((e) => e.type === 'model_call')).toMatchObject({ input: { tools: ['calculator', 'search_docs', 'retrieve'] } });
      const messages = await engine.runtime.runs.listMessages(run.runId);
      expect(messages.map((m) => m.message.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
      expect(run.answer).toContain('shipped');
    } finally {
      await engine.close();
    }
  });
});
