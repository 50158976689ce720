import { BatchWriteCommand, type DynamoDBDocumentClient, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { TraceCursor, TraceItem } from '../core/run-events';
import { parseTraceEvent } from '../core/trace';
import { resolveTrace } from '../core/trace-refs';
import { type StoredItem, storedMessageOf } from './items';
import { EVENT_PREFIX, MESSAGE_PREFIX, RUN_SK, runPk } from './keys';
import { queryRunItems } from './run-items';

/**
 * A run's trace items after a cursor, for the live event stream (lambdas/core/run-events.ts): trace event items after
 * `after.events` and message items carrying an event after `after.messages`, each a strongly consistent query, the
 * events parsed and their message references resolved as RunStore.listEvents does.
 */
export async function traceItemsAfter(doc: DynamoDBDocumentClient, table: string, runId: string, after: TraceCursor): Promise<TraceItem[]> {
  const [events, messages] = await Promise.all([
    queryRunItems<Record<string, unknown>>(doc, table, runId, EVENT_PREFIX, after.events, true),
    queryRunItems<StoredItem & { sk: string }>(doc, table, runId, MESSAGE_PREFIX, after.messages, true),
  ]);
  const items: TraceItem[] = events.map(({ sk, ...e }) => ({ sk: String(sk), event: parseTraceEvent(e) }));
  for (const { sk, ...m } of messages) {
    const stored = storedMessageOf(m);
    const event = stored.event ? resolveTrace([], [stored])[0] : undefined;
    if (event) items.push({ sk, event });
  }
  return items;
}

/** Attempts at a batch's unprocessed deletes. */
const MAX_BATCH_ATTEMPTS = 8;

/**
 * Deletes every item of a run (the run item, its messages and trace events, so its checkpoint too: docs/threads.md
 * "Erase"), in batches of 25 with their unprocessed items retried; returns how many were deleted.
 */
export async function eraseRunItems(doc: DynamoDBDocumentClient, table: string, runId: string): Promise<number> {
  const keys: Record<string, unknown>[] = [];
  let start: QueryCommandOutput['LastEvaluatedKey'];
  do {
    const out: QueryCommandOutput = await doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': runPk(runId) },
        ProjectionExpression: 'pk, sk',
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) keys.push({ pk: item.pk, sk: item.sk });
    start = out.LastEvaluatedKey;
  } while (start);
  // The run item last: while it is there, a retried erase finds the run and finishes the job.
  keys.sort((a, b) => Number(a.sk === RUN_SK) - Number(b.sk === RUN_SK));
  for (let i = 0; i < keys.length; i += 25) {
    let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt >= MAX_BATCH_ATTEMPTS) throw new Error(`erasing run ${runId}: ${requests.length} deletes still unprocessed after ${attempt} attempts`);
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
      requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
      if (requests.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }
  return keys.length;
}

/** The run items read by the live event stream and deleted by an erase (used beside lambdas/store/run-store.ts). */
export class RunItems {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  traceItemsAfter(runId: string, after: TraceCursor): Promise<TraceItem[]> {
    return traceItemsAfter(this.doc, this.tableName, runId, after);
  }

  eraseRun(runId: string): Promise<number> {
    return eraseRunItems(this.doc, this.tableName, runId);
  }
}
