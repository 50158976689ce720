import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { type LocalEndpoint, listenLocal, readBody } from '../listen';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../template';
import { type LocalIam, UnrecognizedClient } from './check';
import { AccessDenied } from './policy';

/** Largest request forwarded (DynamoDB's own request limit is 16 MB). */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

export const tableArn = (table: string) => (table.startsWith('arn:') ? table : `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${table}`);

type Body = Record<string, unknown>;
const keys = (v: unknown) => Object.keys((v ?? {}) as Body);

/**
 * The IAM checks of one DynamoDB request (JSON 1.0, `X-Amz-Target: DynamoDB_20120810.<Operation>`): the actions and
 * resources AWS authorizes it as. Batch operations are checked on each table; a transaction's items as the
 * single-item actions they are (as DynamoDB authorizes them).
 */
export function dynamoChecks(operation: string, body: Body): [string, string[]][] {
  const action = `dynamodb:${operation}`;
  switch (operation) {
    case 'ListTables':
      return [[action, ['*']]];
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return [[action, keys(body.RequestItems).map(tableArn)]];
    case 'TransactGetItems':
      return ((body.TransactItems ?? []) as Body[]).map((item) => ['dynamodb:GetItem', [tableArn(String((item.Get as Body | undefined)?.TableName))]]);
    case 'TransactWriteItems': {
      const ops: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' };
      return ((body.TransactItems ?? []) as Body[]).flatMap((item) =>
        Object.entries(item)
          .filter(([k]) => ops[k])
          .map(([k, v]) => [`dynamodb:${ops[k]}`, [tableArn(String((v as Body).TableName))]] as [string, string[]]),
      );
    }
    default: {
      const table = tableArn(String(body.TableName ?? body.ResourceArn ?? '*'));
      const index = (operation === 'Query' || operation === 'Scan') && body.IndexName ? `${table}/index/${String(body.IndexName)}` : table;
      return [[action, [index]]];
    }
  }
}

export type DynamoFront = LocalEndpoint;

/**
 * DynamoDB with IAM offline: a thin HTTP front of dynalite that identifies the caller by the access key id of the
 * request's SigV4 signature, checks the request's actions and resources against that role's statements, and
 * forwards what is allowed to dynalite unchanged. A denied request is answered as DynamoDB answers it (HTTP 400,
 * `com.amazon.coral.service#AccessDeniedException`).
 */
export async function startDynamoFront(target: string, iam: LocalIam, options: { port?: number; host?: string } = {}): Promise<DynamoFront> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const fail = (status: number, type: string, message: string): void => {
      if (res.headersSent) {
        res.end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type });
      res.end(JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message }));
    };
    readBody(req, MAX_REQUEST_BYTES)
      .then((raw) => {
        if (raw === undefined) fail(413, 'RequestEntityTooLarge', 'the request is too large');
        else if (allowed(iam, req, raw, fail)) forward(req, raw, upstream, res, fail);
      })
      .catch((err: Error) => fail(500, 'InternalServerError', err.message));
  });
  return listenLocal(server, options);
}

type Fail = (status: number, type: string, message: string) => void;

/** Checks the request's actions and resources; answers a denial as DynamoDB does. */
function allowed(iam: LocalIam, req: IncomingMessage, raw: Buffer, fail: Fail): boolean {
  const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1];
  if (!operation) return true; // dynalite answers the malformed request
  let body: Body = {};
  try {
    body = JSON.parse(raw.toString('utf8') || '{}') as Body;
  } catch {
    // dynalite answers the SerializationException
  }
  try {
    const principal = iam.principalOf(req.headers.authorization);
    for (const [action, resources] of dynamoChecks(operation, body)) iam.authorize(principal, action, resources);
    return true;
  } catch (err) {
    if (!(err instanceof AccessDenied || err instanceof UnrecognizedClient)) throw err;
    fail(400, err.name, err.message);
    return false;
  }
}

function forward(req: IncomingMessage, raw: Buffer, upstream: URL, res: ServerResponse, fail: Fail): void {
  const out = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host, 'content-length': String(raw.length) } },
    (up) => {
      res.writeHead(up.statusCode ?? 500, up.headers);
      up.pipe(res);
    },
  );
  out.on('error', (err) => fail(500, 'InternalServerError', err.message));
  out.end(raw);
}
