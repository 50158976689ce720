import { randomUUID } from 'node:crypto';
import { type AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { CfnTemplate } from './template';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './template';

type Item = Record<string, AttributeValue>;

/** A table's stream as the template declares it (StreamSpecification), with its key attributes. */
export interface LocalStreamTable {
  name: string;
  keys: string[];
  viewType: 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY';
  arn: string;
}

/** An event source mapping of the template: a stream feeding a function, through its filters. */
export interface LocalStreamMapping {
  logicalId: string;
  table: string;
  functionLogicalId: string;
  batchSize: number;
  retryAttempts: number;
  filters: Record<string, unknown>[];
}

export function streamTablesOf(template: CfnTemplate): LocalStreamTable[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::DynamoDB::Table' && (r.Properties?.StreamSpecification as object | undefined))
    .map(([name, r]) => ({
      name,
      keys: ((r.Properties?.KeySchema ?? []) as { AttributeName: string }[]).map((k) => k.AttributeName),
      viewType: ((r.Properties?.StreamSpecification ?? {}) as { StreamViewType: LocalStreamTable['viewType'] }).StreamViewType,
      arn: `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${name}/stream/local`,
    }));
}

export function streamMappingsOf(template: CfnTemplate): LocalStreamMapping[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::EventSourceMapping')
    .flatMap(([logicalId, r]) => {
      const p = r.Properties ?? {};
      const source = p.EventSourceArn as { 'Fn::GetAtt'?: [string, string] } | undefined;
      const fn = p.FunctionName as { Ref?: string } | undefined;
      const table = source?.['Fn::GetAtt']?.[1] === 'StreamArn' ? source['Fn::GetAtt'][0] : undefined;
      if (!table || !fn?.Ref) return [];
      const filters = ((p.FilterCriteria as { Filters?: { Pattern: string }[] } | undefined)?.Filters ?? []).map((f) => JSON.parse(f.Pattern) as Record<string, unknown>);
      return [{ logicalId, table, functionLogicalId: fn.Ref, batchSize: Number(p.BatchSize ?? 100), retryAttempts: Number(p.MaximumRetryAttempts ?? -1), filters }];
    });
}

/** Test knobs for what DynamoDB does that dynalite does not. */
export interface DynamoFaults {
  /** A global secondary index shows a write this long after it (eventually consistent; 0 = at once). */
  indexLagMs?: number;
}

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand']);

/**
 * DynamoDB Streams and index lag, emulated on the client the engine's handlers share (a middleware of its build
 * step, where the input is in wire form): after each successful write
 * to a table with a stream, the item is read back (consistently) and a stream record with its new image (and its
 * old one, read before the write, when the view type asks for it) is handed to `onRecord`, in write order. A write
 * that changed nothing emits no record, as in DynamoDB. With `faults.indexLagMs`, a Query on an index answers as
 * the index stood that long ago: a newly written item is missing, a changed one shows its previous image.
 */
export function attachTableEmulation(
  doc: DynamoDBDocumentClient,
  clientConfig: ConstructorParameters<typeof DynamoDBClient>[0],
  tables: LocalStreamTable[],
  onRecord: (table: LocalStreamTable, record: DynamoDBRecord) => void,
  faults: DynamoFaults = {},
): TableEmulation {
  const raw = new DynamoDBClient({ ...clientConfig, maxAttempts: 5 });
  const byName = new Map(tables.map((t) => [t.name, t]));
  /** key → when the index shows the latest write, and the image it shows until then. */
  const indexView = new Map<string, { visibleAt: number; previous?: Item }>();
  let sequence = 0;
  const keyOf = (table: LocalStreamTable, item: Item) => Object.fromEntries(table.keys.map((k) => [k, item[k] as AttributeValue]));
  // Keys are compared in their plain form: a document client's Query answers plain items at this step.
  const id = (table: string, key: Item) => `${table}\u0000${JSON.stringify(unmarshall(key))}`;
  const isPlain = (table: LocalStreamTable, item: Record<string, unknown>) => table.keys.every((k) => typeof item[k] !== 'object');
  const read = async (table: string, key: Item) => (await raw.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;

  const attach = (client: DynamoDBDocumentClient) =>
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = (context as { commandName?: string }).commandName ?? '';
        const input = args.input as {
          TableName?: string;
          Item?: Item;
          Key?: Item;
          IndexName?: string;
          RequestItems?: Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]>;
        };
        if (command === 'QueryCommand' && input.IndexName && faults.indexLagMs) {
          const out = await next(args);
          const output = out.output as { Items?: Record<string, unknown>[]; Count?: number };
          const table = input.TableName ? byName.get(input.TableName) : undefined;
          if (!table) return out;
          const now = Date.now();
          const items: Record<string, unknown>[] = [];
          for (const item of output.Items ?? []) {
            const plain = isPlain(table, item);
            const key = Object.fromEntries(table.keys.map((k) => [k, item[k]]));
            const view = indexView.get(`${table.name}\u0000${JSON.stringify(plain ? key : unmarshall(key as Item))}`);
            if (!view || now >= view.visibleAt) items.push(item);
            else if (view.previous && (input.IndexName ?? '') !== '') items.push(plain ? unmarshall(view.previous) : view.previous);
          }
          output.Items = items;
          output.Count = items.length;
          return out;
        }
        if (!WRITES.has(command)) return next(args);
        const targets: [LocalStreamTable, Item][] = [];
        if (command === 'BatchWriteItemCommand') {
          for (const [name, requests] of Object.entries(input.RequestItems ?? {})) {
            const table = byName.get(name);
            if (table) for (const r of requests) targets.push([table, r.PutRequest ? keyOf(table, r.PutRequest.Item) : (r.DeleteRequest?.Key ?? {})]);
          }
        } else {
          const table = input.TableName ? byName.get(input.TableName) : undefined;
          if (table) targets.push([table, input.Key ?? keyOf(table, input.Item ?? {})]);
        }
        if (!targets.length) return next(args);
        const before = await Promise.all(targets.map(([t, key]) => read(t.name, key)));
        const out = await next(args);
        for (const [i, [table, key]] of targets.entries()) {
          const oldImage = before[i];
          const newImage = await read(table.name, key);
          if (JSON.stringify(oldImage) === JSON.stringify(newImage)) continue;
          if (faults.indexLagMs) indexView.set(id(table.name, key), { visibleAt: Date.now() + faults.indexLagMs, ...(oldImage ? { previous: oldImage } : {}) });
          const eventName = !oldImage ? 'INSERT' : !newImage ? 'REMOVE' : 'MODIFY';
          const withNew = table.viewType === 'NEW_IMAGE' || table.viewType === 'NEW_AND_OLD_IMAGES';
          const withOld = table.viewType === 'OLD_IMAGE' || table.viewType === 'NEW_AND_OLD_IMAGES';
          sequence++;
          onRecord(table, {
            eventID: randomUUID(),
            eventName,
            eventVersion: '1.1',
            eventSource: 'aws:dynamodb',
            awsRegion: LOCAL_REGION,
            eventSourceARN: table.arn,
            dynamodb: {
              ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
              Keys: key as never,
              ...(withNew && newImage ? { NewImage: newImage as never } : {}),
              ...(withOld && oldImage ? { OldImage: oldImage as never } : {}),
              SequenceNumber: String(sequence).padStart(21, '0'),
              SizeBytes: Buffer.byteLength(JSON.stringify(newImage ?? oldImage ?? key)),
              StreamViewType: table.viewType,
            },
          });
        }
        return out;
      },
      { step: 'build', priority: 'high', name: 'localTableEmulation' },
    );
  attach(doc);
  return { close: () => raw.destroy(), attach };
}

/** The table emulation of one engine: `attach` adds it to another client (IAM offline's per-function clients). */
export interface TableEmulation {
  close(): void;
  attach(client: DynamoDBDocumentClient): void;
}
