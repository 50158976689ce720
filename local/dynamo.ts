import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, type CreateTableCommandInput, DescribeTableCommand, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { createDocumentClient } from '../lambdas/store/client';
import { type DataDirLock, lockDataDir } from './data-dir-lock';
import { extendDynalite } from './dynamo-compat';
import { measureItemsInUtf8 } from './limits';

/** A dynalite server on 127.0.0.1 (in memory, or on disk under `path`) and a document client bound to it. */
export interface LocalDynamo {
  endpoint: string;
  doc: DynamoDBDocumentClient;
  /** Client config for other SDK clients (e.g. Powertools idempotency) that must reach the same server. */
  clientConfig: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  /** Test knobs: throttling, as DynamoDB answers it (the SDK retries it). */
  faults: { throttle?: (operation: string) => boolean };
  /** On disk: the data dir's lock (one server per dir, local/data-dir-lock.ts). */
  lock?: DataDirLock;
  close(): Promise<void>;
}

export async function startDynalite(options: { path?: string; port?: number } = {}): Promise<LocalDynamo> {
  measureItemsInUtf8();
  // Before dynalite opens the dir: a dir in use is refused with a message naming it and its server.
  const lock = options.path ? lockDataDir(options.path) : undefined;
  extendDynalite();
  const server = dynalite({ path: options.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const faults: LocalDynamo['faults'] = {};
  const front = inFront(server, faults);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    lock?.release();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const clientConfig = {
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  const doc = createDocumentClient(clientConfig);
  return {
    endpoint,
    doc,
    clientConfig,
    faults,
    ...(lock ? { lock } : {}),
    close: async () => {
      doc.destroy();
      await front.drain();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      lock?.release();
    },
  };
}

/** Creates a table unless it exists, and waits until it is ACTIVE. */
export async function ensureTable(doc: DynamoDBDocumentClient, input: CreateTableCommandInput): Promise<void> {
  try {
    await doc.send(new CreateTableCommand(input));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const out = await doc.send(new DescribeTableCommand({ TableName: input.TableName }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`table ${input.TableName} did not become ACTIVE`);
}

/** The agent table's shape (mirrors lib/store.ts), for tests that need a table without synthesizing the app. */
export function agentTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'userId', AttributeType: 'S' },
      { AttributeName: 'createdAt', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: 'byUser',
        KeySchema: [
          { AttributeName: 'userId', KeyType: 'HASH' },
          { AttributeName: 'createdAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

/** Longest wait for the requests dynalite is answering when it closes (each is a few milliseconds of work). */
const DRAIN_MS = 5_000;

/**
 * In front of dynalite's request handler:
 * - a request the throttle knob picks is answered as DynamoDB answers a throttled one (400,
 *   ProvisionedThroughputExceededException or ThrottlingException) without reaching the table;
 * - once closing, a request is refused as a stopped process refuses it (the connection is reset), and `drain`
 *   waits for the requests already in dynalite: dynalite throws out of the process when an action reaches its
 *   database after the database closed, which a late request (a handler still running when its engine closed)
 *   would otherwise do.
 */
function inFront(server: Server, faults: LocalDynamo['faults']): { drain(): Promise<void> } {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  let closing = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (closing) {
      req.socket.destroy();
      return;
    }
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    if (!faults.throttle?.(operation)) {
      // In flight until dynalite answers it (its action has finished with the database), even when the client has
      // gone meanwhile; or until the client goes before sending the whole request (no action starts then).
      inFlight++;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        inFlight--;
        if (inFlight === 0) drained?.();
      };
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
      res.end = ((...args: unknown[]) => {
        finish();
        return end(...args);
      }) as typeof res.end;
      req.once('close', () => {
        if (!req.complete) finish();
      });
      for (const h of handlers) h(req, res);
      return;
    }
    req.resume();
    req.on('end', () => {
      const type = operation.startsWith('Describe') || operation.startsWith('List') ? 'ThrottlingException' : 'ProvisionedThroughputExceededException';
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(
        JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'The level of configured provisioned throughput for the table was exceeded (local fault).' }),
      );
    });
  });
  return {
    async drain() {
      closing = true;
      if (inFlight === 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_MS);
        timer.unref();
        drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}
