import { type DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand, type ScanCommandOutput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ApiKeyPort, ApiKeyRecord } from '../core/api-keys';
import { isConditionFailure } from './items';

/**
 * API keys in the agent table: `APIKEY#<keyId>` / `KEY`, with the owner as `keyUserId` (never `userId`, so no key
 * appears in the byUser index of runs) and the secret's SHA-256 only.
 */
export const apiKeyPk = (keyId: string) => `APIKEY#${keyId}`;
export const API_KEY_SK = 'KEY';
/** Pages of a listing scan read at most (keys are few; a bound, not a limit anyone should reach). */
const MAX_SCAN_PAGES = 50;

type Item = Record<string, unknown>;

const recordOf = (item: Item): ApiKeyRecord => ({
  keyId: String(item.keyId),
  userId: String(item.keyUserId),
  admin: item.admin === true,
  secretHash: String(item.secretHash),
  createdAt: String(item.createdAt),
  createdBy: String(item.createdBy),
  ...(typeof item.lastUsedAt === 'string' ? { lastUsedAt: item.lastUsedAt } : {}),
  ...(typeof item.revokedAt === 'string' ? { revokedAt: item.revokedAt } : {}),
});

export class ApiKeyStore implements ApiKeyPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  async create(r: ApiKeyRecord): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: apiKeyPk(r.keyId),
          sk: API_KEY_SK,
          keyId: r.keyId,
          keyUserId: r.userId,
          admin: r.admin,
          secretHash: r.secretHash,
          createdAt: r.createdAt,
          createdBy: r.createdBy,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async get(keyId: string): Promise<ApiKeyRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: apiKeyPk(keyId), sk: API_KEY_SK }, ConsistentRead: true }));
    return out.Item ? recordOf(out.Item) : undefined;
  }

  async list(userId?: string): Promise<ApiKeyRecord[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < MAX_SCAN_PAGES; page++) {
      const out: ScanCommandOutput = await this.doc.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: userId === undefined ? 'sk = :sk AND begins_with(pk, :p)' : 'sk = :sk AND begins_with(pk, :p) AND keyUserId = :u',
          ExpressionAttributeValues: { ':sk': API_KEY_SK, ':p': 'APIKEY#', ...(userId === undefined ? {} : { ':u': userId }) },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
      if (!start) break;
    }
    return items.map(recordOf).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async revoke(keyId: string, at: string): Promise<ApiKeyRecord | undefined> {
    try {
      const out = await this.updateKey(keyId, 'SET revokedAt = if_not_exists(revokedAt, :at)', at, true);
      return out.Attributes ? recordOf(out.Attributes) : undefined;
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  async touch(keyId: string, at: string): Promise<void> {
    await this.updateKey(keyId, 'SET lastUsedAt = :at', at, false);
  }

  /** One update of an existing key's item (`:at` the time it names), the item after it when `returnItem`. */
  private updateKey(keyId: string, expression: string, at: string, returnItem: boolean) {
    return this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: apiKeyPk(keyId), sk: API_KEY_SK },
        UpdateExpression: expression,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':at': at },
        ...(returnItem ? { ReturnValues: 'ALL_NEW' as const } : {}),
      }),
    );
  }
}
