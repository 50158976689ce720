import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, type QueryCommandOutput, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RunRecord } from '../core/ports';
import type { AdminRead, AdminSpendPort, UserSpend } from '../core/spend';
import { decodeCursor, encodeCursor, RUN_SK, USER_INDEX } from './keys';

/**
 * Spend counters, the disable flag and the admin read log in the agent table (docs/spend.md):
 * - `SPEND#<yyyy-mm-dd>` / `USER#<userId>` and `SPEND#<yyyy-mm-dd>` / `TOTAL`: `micros` and `calls`, ADD per model
 *   call (atomic, no read-modify-write), whole micro-dollars;
 * - `CONTROL` / `DISABLED`: `disabled`, `by`, `at` (the kill switch for new runs);
 * - `AUDIT#<yyyy-mm-dd>` / `<at>#<adminId>#<runId>`: who read which run, when.
 * None of these items has a `userId` attribute, so none appears in the byUser index.
 */
export const spendPk = (day: string) => `SPEND#${day}`;
export const SPEND_TOTAL_SK = 'TOTAL';
export const spendUserSk = (userId: string) => `USER#${userId}`;
export const CONTROL_PK = 'CONTROL';
export const DISABLED_SK = 'DISABLED';
export const auditPk = (day: string) => `AUDIT#${day}`;

export type { AdminRead, UserSpend };

export class SpendStore implements AdminSpendPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async add(userId: string, day: string, micros: number): Promise<void> {
    const at = this.now().toISOString();
    for (const sk of [spendUserSk(userId), SPEND_TOTAL_SK]) {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: spendPk(day), sk },
          UpdateExpression: 'ADD micros :m, calls :one SET updatedAt = :at',
          ExpressionAttributeValues: { ':m': micros, ':one': 1, ':at': at },
        }),
      );
    }
  }

  async today(userId: string, day: string): Promise<{ userMicros: number; totalMicros: number }> {
    const get = async (sk: string) => {
      const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: spendPk(day), sk }, ConsistentRead: true }));
      return Number(out.Item?.micros ?? 0);
    };
    const [userMicros, totalMicros] = await Promise.all([get(spendUserSk(userId)), get(SPEND_TOTAL_SK)]);
    return { userMicros, totalMicros };
  }

  /** The day's totals: every user's and the deployment's. */
  async day(day: string): Promise<{ totalMicros: number; calls: number; users: UserSpend[] }> {
    const users: UserSpend[] = [];
    let total = { micros: 0, calls: 0 };
    let start: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const out: QueryCommandOutput = await this.doc.send(
        new QueryCommand({ TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': spendPk(day) }, ExclusiveStartKey: start }),
      );
      for (const item of out.Items ?? []) {
        const row = { micros: Number(item.micros ?? 0), calls: Number(item.calls ?? 0) };
        if (item.sk === SPEND_TOTAL_SK) total = row;
        else if (String(item.sk).startsWith('USER#')) users.push({ userId: String(item.sk).slice(5), ...row });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    users.sort((a, b) => b.micros - a.micros);
    return { totalMicros: total.micros, calls: total.calls, users };
  }

  async isDisabled(): Promise<boolean> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: CONTROL_PK, sk: DISABLED_SK }, ConsistentRead: true }));
    return out.Item?.disabled === true;
  }

  async setDisabled(disabled: boolean, by: string): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { pk: CONTROL_PK, sk: DISABLED_SK, disabled, by, at: this.now().toISOString() } }));
  }

  /** Records that an admin read someone's run (or its trace). */
  async recordAdminRead(read: Omit<AdminRead, 'at'>): Promise<AdminRead> {
    const at = this.now().toISOString();
    const entry = { at, ...read };
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { pk: auditPk(at.slice(0, 10)), sk: `${at}#${read.adminId}#${read.runId}#${read.what}`, ...entry } }));
    return entry;
  }

  /** The admin reads of a UTC day, oldest first. */
  async adminReads(day: string): Promise<AdminRead[]> {
    const out: AdminRead[] = [];
    let start: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const page: QueryCommandOutput = await this.doc.send(
        new QueryCommand({ TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': auditPk(day) }, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) out.push({ at: item.at, adminId: item.adminId, runId: item.runId, owner: item.owner, what: item.what });
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /**
   * Support access: runs of any user (or of everyone), optionally only one status and a createdAt range (ISO
   * instants, inclusive). With a user it is one byUser index query, newest first; without, a filtered scan (order
   * unspecified). Pages may hold fewer than `limit` runs when the filters drop some; follow `nextCursor`.
   */
  async listRunsForSupport(query: {
    userId?: string;
    status?: string;
    from?: string;
    to?: string;
    cursor?: string;
    limit?: number;
  }): Promise<{ runs: RunRecord[]; nextCursor: string | null }> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const filters: string[] = [];
    if (query.status) {
      names['#status'] = 'status';
      values[':status'] = query.status;
      filters.push('#status = :status');
    }
    const from = query.from ?? '0000';
    const to = query.to ?? '9999';
    values[':from'] = from;
    values[':to'] = to;
    const start = query.cursor ? decodeCursor(query.cursor) : undefined;
    let out: { Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> };
    if (query.userId) {
      values[':u'] = query.userId;
      out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: USER_INDEX,
          KeyConditionExpression: 'userId = :u AND createdAt BETWEEN :from AND :to',
          ...(filters.length ? { FilterExpression: filters.join(' AND ') } : {}),
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: query.limit ?? 20,
          ExclusiveStartKey: start,
        }),
      );
    } else {
      values[':meta'] = RUN_SK;
      // The scan reads every item kind; keep reading (bounded) until a page of runs is found.
      const items: Record<string, unknown>[] = [];
      let key = start;
      for (let page = 0; page < 50; page++) {
        const res = await this.doc.send(
          new ScanCommand({
            TableName: this.tableName,
            FilterExpression: ['sk = :meta', 'createdAt BETWEEN :from AND :to', ...filters].join(' AND '),
            ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
            ExpressionAttributeValues: values,
            Limit: 500,
            ExclusiveStartKey: key,
          }),
        );
        items.push(...(res.Items ?? []));
        key = res.LastEvaluatedKey;
        if (!key || items.length >= (query.limit ?? 20)) break;
      }
      out = { Items: items, LastEvaluatedKey: key };
    }
    const runs = (out.Items ?? []).map((item) => {
      const { pk: _pk, sk: _sk, ...rest } = item;
      return rest as unknown as RunRecord;
    });
    return { runs, nextCursor: out.LastEvaluatedKey ? encodeCursor(out.LastEvaluatedKey) : null };
  }
}
