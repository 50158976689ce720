/**
 * Breaker state and rolling-window buckets in the agent table (docs/architecture.md, The table):
 * - state  `pk=BRK#<dependency>, sk=STATE`            {state, openedAt, probeLeaseUntil, suspectSince, version, updatedAt}
 * - window `pk=BRK#<dependency>, sk=WIN#<bucketStart>` {bucketStart, calls, failures (ADD), expiresAt (TTL, s)}
 *
 * Every state transition is one conditional Put on the version the caller read (no transactions, no read-then-write
 * race); ConditionalCheckFailedException means another caller won and is reported as `false`. Window buckets are
 * single UpdateItem ADDs; reading the window is one Query on the WIN# range, with `expiresAt` checked in code
 * (dynalite has no TTL, and real TTL deletes late).
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, type QueryCommandOutput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type BreakerState, type BreakerStore, INITIAL_BREAKER_STATE, sumWindow, type WindowBucket, type WindowRange, type WindowTotals } from '../core/breaker';

export const breakerPk = (dependency: string) => `BRK#${dependency}`;
export const BREAKER_STATE_SK = 'STATE';
export const BREAKER_WINDOW_PREFIX = 'WIN#';
/** Bucket starts are zero-padded epoch ms so the sort key orders (and BETWEEN ranges) by time. */
export const breakerWindowSk = (bucketStart: number) => `${BREAKER_WINDOW_PREFIX}${String(bucketStart).padStart(15, '0')}`;

const isConditionFailure = (err: unknown) => (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

const STATES = new Set(['CLOSED', 'OPEN', 'HALF_OPEN']);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The breaker store on DynamoDB (dynalite offline). Reads are strongly consistent. */
export class DynamoBreakerStore implements BreakerStore {
  private readonly now: () => number;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    /** Stamps `updatedAt` on state items (epoch ms). */
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  async getState(dependency: string): Promise<BreakerState> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: breakerPk(dependency), sk: BREAKER_STATE_SK }, ConsistentRead: true }));
    const item = out.Item;
    if (!item || !STATES.has(item.state as string) || typeof item.version !== 'number') return { ...INITIAL_BREAKER_STATE };
    const suspectSince = numOrNull(item.suspectSince);
    return {
      state: item.state as BreakerState['state'],
      openedAt: numOrNull(item.openedAt),
      probeLeaseUntil: numOrNull(item.probeLeaseUntil),
      ...(suspectSince === null ? {} : { suspectSince }),
      version: item.version,
    };
  }

  async compareAndSet(dependency: string, expected: BreakerState, next: BreakerState): Promise<boolean> {
    const fresh = expected.version === 0;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: breakerPk(dependency),
            sk: BREAKER_STATE_SK,
            state: next.state,
            openedAt: next.openedAt,
            probeLeaseUntil: next.probeLeaseUntil,
            suspectSince: next.suspectSince ?? null,
            version: next.version,
            updatedAt: this.now(),
          },
          ConditionExpression: fresh ? 'attribute_not_exists(pk)' : '#version = :version AND #state = :state',
          ...(fresh
            ? {}
            : {
                ExpressionAttributeNames: { '#version': 'version', '#state': 'state' },
                ExpressionAttributeValues: { ':version': expected.version, ':state': expected.state },
              }),
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async recordOutcome(dependency: string, bucket: { bucketStart: number; expiresAt: number }, failed: boolean): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: breakerPk(dependency), sk: breakerWindowSk(bucket.bucketStart) },
        UpdateExpression: 'ADD calls :one, failures :failed SET bucketStart = :start, expiresAt = :expiresAt',
        ExpressionAttributeValues: { ':one': 1, ':failed': failed ? 1 : 0, ':start': bucket.bucketStart, ':expiresAt': bucket.expiresAt },
      }),
    );
  }

  async readWindow(dependency: string, range: WindowRange, now: number): Promise<WindowTotals> {
    if (range.from > range.to) return { calls: 0, failures: 0 };
    const buckets: WindowBucket[] = [];
    let startKey: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const out: QueryCommandOutput = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': breakerPk(dependency), ':from': breakerWindowSk(range.from), ':to': breakerWindowSk(range.to) },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        buckets.push({
          bucketStart: Number(item.bucketStart),
          calls: Number(item.calls ?? 0),
          failures: Number(item.failures ?? 0),
          expiresAt: Number(item.expiresAt ?? 0),
        });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return sumWindow(buckets, range, now);
  }
}

/**
 * The same contract in process memory: for unit tests and single-process use (state is not shared between
 * Lambdas). Each operation is atomic because it runs without awaiting in between.
 */
export class InMemoryBreakerStore implements BreakerStore {
  private readonly states = new Map<string, BreakerState>();
  private readonly buckets = new Map<string, Map<number, WindowBucket>>();

  async getState(dependency: string): Promise<BreakerState> {
    return { ...(this.states.get(dependency) ?? INITIAL_BREAKER_STATE) };
  }

  async compareAndSet(dependency: string, expected: BreakerState, next: BreakerState): Promise<boolean> {
    const current = this.states.get(dependency);
    const matches = expected.version === 0 ? current === undefined : current?.version === expected.version && current.state === expected.state;
    if (!matches) return false;
    this.states.set(dependency, { ...next });
    return true;
  }

  async recordOutcome(dependency: string, bucket: { bucketStart: number; expiresAt: number }, failed: boolean): Promise<void> {
    let byStart = this.buckets.get(dependency);
    if (!byStart) {
      byStart = new Map();
      this.buckets.set(dependency, byStart);
    }
    const b = byStart.get(bucket.bucketStart) ?? { bucketStart: bucket.bucketStart, calls: 0, failures: 0, expiresAt: bucket.expiresAt };
    b.calls += 1;
    b.failures += failed ? 1 : 0;
    b.expiresAt = bucket.expiresAt;
    byStart.set(bucket.bucketStart, b);
  }

  async readWindow(dependency: string, range: WindowRange, now: number): Promise<WindowTotals> {
    return sumWindow(this.buckets.get(dependency)?.values() ?? [], range, now);
  }
}
