import { IdempotencyAlreadyInProgressError, IdempotencyConfig, IdempotencyItemNotFoundError, IdempotencyRecordStatus, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { TransientError } from '../core/errors';
import type { ToolCall, ToolContext, ToolResult } from '../core/types';

/** How long a tool's stored result answers retries of the same call. */
export const TOOL_IDEMPOTENCY_SECONDS = 7 * 24 * 3600;

/**
 * The records' key prefix, set explicitly (Powertools' `keyPrefix`) rather than derived from the function's name, so
 * the key of a call is the same in every function and process that asks for it (see {@link releaseInProgressToolCalls}).
 */
const KEY_PREFIX = 'tool';

/** The payload Powertools keys (by `idempotencyKey`) and validates (by name and arguments). */
type IdempotentPayload = { idempotencyKey: string; name: string; arguments: unknown };

function toolIdempotencyConfig(): IdempotencyConfig {
  return new IdempotencyConfig({
    eventKeyJmesPath: 'idempotencyKey',
    payloadValidationJmesPath: '[name, arguments]',
    expiresAfterSeconds: TOOL_IDEMPOTENCY_SECONDS,
    throwOnNoIdempotencyKey: true,
  });
}

const payloadOf = (call: ToolCall, idempotencyKey: string): IdempotentPayload => ({ idempotencyKey, name: call.name, arguments: call.arguments ?? null });

/**
 * Wraps the tool runner with Powertools idempotency, keyed by the call's idempotency key (runId + step +
 * toolCallId): a retry of a call that already ran — say the handler crashed after the side effect — gets the stored
 * result instead of running the tool again. The payload (tool name and arguments) is validated: another payload
 * under the same key is an IdempotencyValidationError, never a silent reuse.
 */
export function idempotentToolRunner(
  run: (call: ToolCall, ctx: ToolContext) => Promise<ToolResult>,
  options: { tableName: string; client: DynamoDBClient; inProgressWaitMs?: number; sleep?: (ms: number) => Promise<void> },
): { run: (call: ToolCall, ctx: ToolContext) => Promise<ToolResult>; registerLambdaContext: (context: Context) => void } {
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: options.tableName, awsSdkV3Client: options.client });
  const config = toolIdempotencyConfig();
  const once = makeIdempotent(async (input: IdempotentPayload & { call: ToolCall; ctx: ToolContext }) => run(input.call, input.ctx), {
    persistenceStore,
    config,
    keyPrefix: KEY_PREFIX,
  });
  let lambdaContext: Context | undefined;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return {
    run: async (call, ctx) => {
      // How long a copy of the call waits for the copy that holds it (docs/hybrid.md: two copies of an Express segment
      // at once): what this invocation has left but a margin to record the result, unless set.
      const waitMs = options.inProgressWaitMs ?? Math.max(0, (lambdaContext?.getRemainingTimeInMillis() ?? 0) - IN_PROGRESS_MARGIN_MS);
      const giveUpAt = Date.now() + waitMs;
      for (;;) {
        try {
          return await once({ ...payloadOf(call, ctx.idempotencyKey), call, ctx });
        } catch (err) {
          if (!(err instanceof IdempotencyAlreadyInProgressError)) throw err;
          // Another attempt holds the call (or a crashed one did, until its lease expires): its result answers this
          // one once it is stored; past the wait, retry later. Never run twice.
          if (Date.now() >= giveUpAt) throw new TransientError(`tool ${call.name}: the same call is in progress elsewhere`, { cause: err });
          await sleep(IN_PROGRESS_POLL_MS);
        }
      }
    },
    registerLambdaContext: (context) => {
      lambdaContext = context;
      config.registerLambdaContext(context);
    },
  };
}

/** How often a copy of a call held in progress elsewhere looks for its stored result. */
const IN_PROGRESS_POLL_MS = 100;
/** What a waiting copy keeps of its invocation's time to record the result. */
const IN_PROGRESS_MARGIN_MS = 5000;

/**
 * Releases the in-progress records of tool calls whose worker is known to be dead, so that their next attempt runs
 * at once (the offline engine after its process died; in AWS a record's in-progress lease ends with the Lambda
 * invocation that took it). Through Powertools' public persistence API, keyed as the runner keys the calls: a
 * completed record is kept, so a call that finished is never run again. Returns how many were released.
 */
export async function releaseInProgressToolCalls(
  calls: ReadonlyArray<{ call: ToolCall; idempotencyKey: string }>,
  options: { tableName: string; client: DynamoDBClient },
): Promise<number> {
  const store = new DynamoDBPersistenceLayer({ tableName: options.tableName, awsSdkV3Client: options.client });
  store.configure({ config: toolIdempotencyConfig(), keyPrefix: KEY_PREFIX });
  let released = 0;
  for (const { call, idempotencyKey } of calls) {
    // Arguments are JSON (the model sent them as JSON).
    const payload = payloadOf(call, idempotencyKey) as Parameters<DynamoDBPersistenceLayer['getRecord']>[0];
    try {
      if ((await store.getRecord(payload)).getStatus() !== IdempotencyRecordStatus.INPROGRESS) continue;
    } catch (err) {
      if (err instanceof IdempotencyItemNotFoundError) continue;
      throw err;
    }
    await store.deleteRecord(payload);
    released++;
  }
  return released;
}
