import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { MAX_THREAD_QUEUE, MAX_THREAD_RUNS, type QueuedRun, type ThreadPage, type ThreadRecord, type ThreadRepository } from '../core/threads';
import { decodeCursor, encodeCursor, THREAD_PREFIX, threadSk, threadsPk } from './keys';

const isConditionFailure = (err: unknown) => (err as { name?: string }).name === 'ConditionalCheckFailedException';

function threadOf(item: Record<string, unknown>): ThreadRecord {
  const { pk: _pk, sk: _sk, ...rest } = item;
  const t = rest as unknown as ThreadRecord;
  return { ...t, runIds: t.runIds ?? [], queue: t.queue ?? [] };
}

/**
 * Thread items in the agent table: pk `THREADS#<owner>`, sk `THREAD#<threadId>`, so a user's threads are one query
 * (newest first: thread ids are time-ordered) and another user's thread is simply not under the caller's key. Every
 * change is one conditional write on the one item (no transactions).
 */
export class ThreadStore implements ThreadRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private key(owner: string, threadId: string) {
    return { pk: threadsPk(owner), sk: threadSk(threadId) };
  }

  async createThread(input: { threadId: string; owner: string; title: string | null }): Promise<ThreadRecord> {
    const at = this.now().toISOString();
    const thread: ThreadRecord = { threadId: input.threadId, owner: input.owner, title: input.title, createdAt: at, updatedAt: at, runIds: [], queue: [] };
    await this.doc.send(
      new PutCommand({ TableName: this.tableName, Item: { ...this.key(input.owner, input.threadId), ...thread }, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
    return thread;
  }

  async getThread(owner: string, threadId: string): Promise<ThreadRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: this.key(owner, threadId), ConsistentRead: true }));
    return out.Item ? threadOf(out.Item) : undefined;
  }

  async listThreads(owner: string, options: { limit?: number; cursor?: string } = {}): Promise<ThreadPage> {
    const start = options.cursor ? decodeCursor(options.cursor) : undefined;
    // A cursor pages through its own user's threads only.
    if (start && start.pk !== threadsPk(owner)) throw new Error('invalid cursor');
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': threadsPk(owner), ':prefix': THREAD_PREFIX },
        ScanIndexForward: false,
        Limit: options.limit ?? 20,
        ExclusiveStartKey: start,
      }),
    );
    return { threads: (out.Items ?? []).map(threadOf), nextCursor: out.LastEvaluatedKey ? encodeCursor(out.LastEvaluatedKey) : null };
  }

  async acquire(owner: string, threadId: string, runId: string, replacing?: string): Promise<ThreadRecord | undefined> {
    return this.updateIf(owner, threadId, {
      UpdateExpression: 'SET activeRunId = :run, runIds = list_append(if_not_exists(runIds, :empty), :runs), updatedAt = :at',
      ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(deleting) AND ${replacing ? 'activeRunId = :replacing' : 'attribute_not_exists(activeRunId)'} AND (attribute_not_exists(runIds) OR size(runIds) < :max)`,
      ExpressionAttributeValues: {
        ':run': runId,
        ':runs': [runId],
        ':empty': [],
        ':at': this.now().toISOString(),
        ':max': MAX_THREAD_RUNS,
        ...(replacing ? { ':replacing': replacing } : {}),
      },
    });
  }

  async enqueue(owner: string, threadId: string, entry: QueuedRun, whileActive: string): Promise<ThreadRecord | undefined> {
    return this.updateIf(owner, threadId, {
      UpdateExpression: 'SET #queue = list_append(if_not_exists(#queue, :empty), :entry), updatedAt = :at',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deleting) AND activeRunId = :active AND (attribute_not_exists(#queue) OR size(#queue) < :max)',
      ExpressionAttributeNames: { '#queue': 'queue' },
      ExpressionAttributeValues: { ':entry': [entry], ':empty': [], ':at': this.now().toISOString(), ':active': whileActive, ':max': MAX_THREAD_QUEUE },
    });
  }

  async advance(owner: string, threadId: string, endedRunId: string): Promise<{ thread: ThreadRecord; next?: QueuedRun } | undefined> {
    // Bounded: each failed attempt means the queue changed under us (a run was queued meanwhile).
    for (let attempt = 0; attempt < MAX_THREAD_QUEUE + 2; attempt++) {
      const thread = await this.getThread(owner, threadId);
      if (!thread || thread.activeRunId !== endedRunId) return undefined;
      const next = thread.deleting ? undefined : thread.queue[0];
      const at = this.now().toISOString();
      const moved = next
        ? await this.updateIf(owner, threadId, {
            UpdateExpression: 'SET activeRunId = :next, runIds = list_append(if_not_exists(runIds, :empty), :runs), updatedAt = :at REMOVE #queue[0]',
            ConditionExpression: 'activeRunId = :ended AND #queue[0].runId = :next',
            ExpressionAttributeNames: { '#queue': 'queue' },
            ExpressionAttributeValues: { ':next': next.runId, ':runs': [next.runId], ':empty': [], ':at': at, ':ended': endedRunId },
          })
        : await this.updateIf(owner, threadId, {
            UpdateExpression: 'SET updatedAt = :at REMOVE activeRunId',
            ConditionExpression: 'activeRunId = :ended AND (attribute_not_exists(#queue) OR size(#queue) = :zero OR attribute_exists(deleting))',
            ExpressionAttributeNames: { '#queue': 'queue' },
            ExpressionAttributeValues: { ':at': at, ':ended': endedRunId, ':zero': 0 },
          });
      if (moved) return { thread: moved, ...(next ? { next } : {}) };
    }
    return undefined;
  }

  async dequeue(owner: string, threadId: string, runId: string): Promise<ThreadRecord | undefined> {
    // Bounded: each failed attempt means the queue moved under us (its head started, or another run was dropped).
    for (let attempt = 0; attempt < MAX_THREAD_QUEUE + 2; attempt++) {
      const thread = await this.getThread(owner, threadId);
      const at = thread && !thread.deleting ? thread.queue.findIndex((q) => q.runId === runId) : -1;
      if (at < 0) return undefined;
      // The index is part of the path, checked by the condition: a list element cannot be removed by its value.
      const removed = await this.updateIf(owner, threadId, {
        UpdateExpression: `SET updatedAt = :at REMOVE #queue[${at}]`,
        ConditionExpression: `attribute_not_exists(deleting) AND #queue[${at}].runId = :run`,
        ExpressionAttributeNames: { '#queue': 'queue' },
        ExpressionAttributeValues: { ':run': runId, ':at': this.now().toISOString() },
      });
      if (removed) return removed;
    }
    return undefined;
  }

  async markDeleting(owner: string, threadId: string): Promise<ThreadRecord | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(owner, threadId),
          UpdateExpression: 'SET deleting = :yes, updatedAt = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':yes': true, ':at': this.now().toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return threadOf(out.Attributes ?? {});
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  async deleteThread(owner: string, threadId: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: this.key(owner, threadId) }));
  }

  /** One conditional update of the thread item: the thread after it, or undefined when the condition did not hold. */
  private async updateIf(
    owner: string,
    threadId: string,
    update: Pick<UpdateCommandInput, 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>,
  ): Promise<ThreadRecord | undefined> {
    try {
      const out = await this.doc.send(new UpdateCommand({ TableName: this.tableName, Key: this.key(owner, threadId), ...update, ReturnValues: 'ALL_NEW' }));
      return threadOf(out.Attributes ?? {});
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }
}
