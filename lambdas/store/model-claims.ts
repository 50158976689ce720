import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ModelCallClaims } from '../core/ports';
import { isConditionFailure } from './items';
import { modelClaimSk, runPk } from './keys';

/** A claim item outlives its lease by a day at most (the table's TTL removes what a crash left behind). */
const CLAIM_TTL_SECONDS = 24 * 3600;

/**
 * Model call claims in the agent table (one item per claimed step, next to the run's messages): a conditional put
 * takes a claim that is absent, expired or the owner's own; a conditional delete gives it back.
 */
export class DynamoModelCallClaims implements ModelCallClaims {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(runId: string, step: number, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.now();
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: runPk(runId), sk: modelClaimSk(step), owner, leaseUntil: now + leaseMs, expiresAt: Math.ceil((now + leaseMs) / 1000) + CLAIM_TTL_SECONDS },
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now OR #owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': now, ':owner': owner },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async release(runId: string, step: number, owner: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: runPk(runId), sk: modelClaimSk(step) },
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async drop(runId: string, step: number): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: runPk(runId), sk: modelClaimSk(step) } }));
  }
}
