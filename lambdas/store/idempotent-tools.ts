import { IdempotencyAlreadyInProgressError, IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { TransientError } from '../core/errors';
import type { ToolCall, ToolContext, ToolResult } from '../core/types';

/** How long a tool's stored result answers retries of the same call. */
export const TOOL_IDEMPOTENCY_SECONDS = 7 * 24 * 3600;

/**
 * Wraps the tool runner with Powertools idempotency, keyed by the call's idempotency key (runId + step +
 * toolCallId): a retry of a call that already ran — say the handler crashed after the side effect — gets the stored
 * result instead of running the tool again. The payload (tool name and arguments) is validated: another payload
 * under the same key is an IdempotencyValidationError, never a silent reuse.
 */
export function idempotentToolRunner(
  run: (call: ToolCall, ctx: ToolContext) => Promise<ToolResult>,
  options: { tableName: string; client: DynamoDBClient },
): { run: (call: ToolCall, ctx: ToolContext) => Promise<ToolResult>; registerLambdaContext: (context: Context) => void } {
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: options.tableName, awsSdkV3Client: options.client });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'idempotencyKey',
    payloadValidationJmesPath: '[name, arguments]',
    expiresAfterSeconds: TOOL_IDEMPOTENCY_SECONDS,
    throwOnNoIdempotencyKey: true,
  });
  const once = makeIdempotent(
    async (input: { idempotencyKey: string; name: string; arguments: unknown; call: ToolCall; ctx: ToolContext }) => run(input.call, input.ctx),
    { persistenceStore, config },
  );
  return {
    run: async (call, ctx) => {
      try {
        return await once({ idempotencyKey: ctx.idempotencyKey, name: call.name, arguments: call.arguments ?? null, call, ctx });
      } catch (err) {
        // Another attempt holds the call (or a crashed one did, until its lease expires): retry later, never run twice.
        if (err instanceof IdempotencyAlreadyInProgressError) throw new TransientError(`tool ${call.name}: the same call is in progress elsewhere`, { cause: err });
        throw err;
      }
    },
    registerLambdaContext: (context) => config.registerLambdaContext(context),
  };
}
