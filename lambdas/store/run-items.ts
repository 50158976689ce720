import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { idempotencyPk, isConditionFailure, stripKeys } from './items';
import { runPk } from './keys';

/** Idempotency-Key claims and run-item queries of the agent table, for RunStore (one item or one key range each). */

/** Binds `runId` to a user's Idempotency-Key (one conditional write), or returns the run already bound to it. */
export async function claimKey(
  doc: DynamoDBDocumentClient,
  table: string,
  c: { userId: string; key: string; runId: string; at: string; fingerprint?: string },
): Promise<{ runId: string; claimed: boolean; fingerprint?: string }> {
  const pk = idempotencyPk(c.userId, c.key);
  try {
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: { pk, sk: 'RUN', runId: c.runId, userId: c.userId, at: c.at, ...(c.fingerprint !== undefined ? { fingerprint: c.fingerprint } : {}) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { runId: c.runId, claimed: true };
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const out = await doc.send(new GetCommand({ TableName: table, Key: { pk, sk: 'RUN' }, ConsistentRead: true }));
    const stored = out.Item?.fingerprint;
    return { runId: String(out.Item?.runId), claimed: false, ...(typeof stored === 'string' ? { fingerprint: stored } : {}) };
  }
}

/** Releases a claimed key, only while it still names that run. */
export async function releaseKey(doc: DynamoDBDocumentClient, table: string, c: { userId: string; key: string; runId: string }): Promise<void> {
  try {
    await doc.send(
      new DeleteCommand({
        TableName: table,
        Key: { pk: idempotencyPk(c.userId, c.key), sk: 'RUN' },
        ConditionExpression: 'runId = :r',
        ExpressionAttributeValues: { ':r': c.runId },
      }),
    );
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}

/** The items of a run under a sort-key prefix, in key order (strongly consistent); after `afterSk` only (exclusive) when given. */
export async function queryRunItems<T>(doc: DynamoDBDocumentClient, table: string, runId: string, prefix: string, afterSk?: string, withSortKey = false): Promise<T[]> {
  const items: T[] = [];
  let start: QueryCommandOutput['LastEvaluatedKey'] = afterSk ? { pk: runPk(runId), sk: afterSk } : undefined;
  do {
    const out: QueryCommandOutput = await doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': runPk(runId), ':prefix': prefix },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    // The live event stream keeps each item's sort key (its event id).
    for (const item of out.Items ?? []) items.push(withSortKey ? ({ ...stripKeys<T>(item), sk: item.sk } as T) : stripKeys<T>(item));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}
