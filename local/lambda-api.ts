import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { type LocalIam, UnrecognizedClient } from './iam/check';
import { AccessDenied } from './iam/policy';
import { type LocalEndpoint, listenLocal, readBody } from './listen';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './template';

/**
 * The local Lambda Invoke API (REST, `POST /2015-03-31/functions/{FunctionName}/invocations`, as
 * `@aws-sdk/client-lambda` sends it) for the functions a `lambda` tool names: each request is checked against the
 * signer's role (IAM offline: `lambda:InvokeFunction` on the function's ARN, qualified when the request is), then the
 * tool's `localHandler` stands in for the function, answered as Lambda answers: 200 with the response payload and
 * `X-Amz-Executed-Version`; a thrown error as `X-Amz-Function-Error: Unhandled` with `{errorType, errorMessage, trace}`;
 * the function timeout as `Sandbox.Timedout`; a response over 6 MB as `Function.ResponseSizeTooLarge`.
 */
export type LocalLambdaApi = LocalEndpoint;

/** Lambda's synchronous invocation payload limit, request and response (6 MB). */
export const MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** A function's longest timeout (the stand-ins' timeout: an external function's own is not in the template). */
const MAX_FUNCTION_TIMEOUT_SECONDS = 900;

type Handler = (event: unknown, context: Record<string, unknown>) => unknown;

/** What a function returned, or why it failed (errorType, errorMessage), as Lambda reports it. */
interface Outcome {
  payload: string;
  functionError?: 'Unhandled';
}

/** The function ARN a request names: a name, a partial ARN (`account:function:name`) or a full one, plus the Qualifier. */
export function functionArnOf(functionName: string, qualifier?: string): string {
  const parts = functionName.split(':');
  let arn: string;
  if (functionName.startsWith('arn:')) arn = functionName;
  else if (parts[1] === 'function') arn = `arn:aws:lambda:${LOCAL_REGION}:${functionName}`;
  else arn = `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`;
  return qualifier && arn.split(':').length === 7 ? `${arn}:${qualifier}` : arn;
}

const unqualified = (arn: string) => arn.split(':').slice(0, 7).join(':');

/**
 * The stand-in of the function (and qualifier) an ARN names, as Lambda finds it: the function itself or `$LATEST`
 * when any lambda tool names the function; a version or alias only when a lambda tool names exactly it (the
 * versions and aliases this account has, as far as offline knows) — another is `ResourceNotFoundException`, as in
 * Lambda ("Function not found: <arn>:<qualifier>").
 */
export function standInFor(functions: Map<string, string>, arn: string): string | undefined {
  const exact = functions.get(arn);
  if (exact) return exact;
  const qualifier = arn.split(':')[7];
  if (qualifier !== undefined && qualifier !== '$LATEST') return undefined;
  const fn = unqualified(arn);
  for (const [named, spec] of functions) if (unqualified(named) === fn) return spec;
  return undefined;
}

/** Loads `path/to/file.ts#export` (relative to `cwd`); the module must be loadable by the running Node (tsx, jest). */
function loadHandler(spec: string, cwd: string): Handler | Outcome {
  const hash = spec.lastIndexOf('#');
  const file = resolve(cwd, spec.slice(0, hash));
  const exportName = spec.slice(hash + 1);
  let mod: Record<string, unknown> | undefined;
  try {
    mod = require(file) as Record<string, unknown> | undefined;
  } catch (err) {
    return functionError('Runtime.ImportModuleError', `localHandler ${spec}: cannot load ${file}: ${(err as Error).message}`);
  }
  const fn = mod?.[exportName];
  if (typeof fn !== 'function') return functionError('Runtime.HandlerNotFound', `localHandler ${spec}: ${file} exports no function "${exportName}"`);
  return fn as Handler;
}

const functionError = (errorType: string, errorMessage: string, trace: string[] = []): Outcome => ({
  payload: JSON.stringify({ errorType, errorMessage, trace }),
  functionError: 'Unhandled',
});

export interface LambdaApiOptions {
  port?: number;
  host?: string;
  /** Where `localHandler` paths are resolved. @default process.cwd() */
  cwd?: string;
  /** The stand-ins' function timeout. @default 900 (Lambda's maximum) */
  timeoutSeconds?: number;
}

/**
 * Serves the functions `standIns()` names (function ARN → `localHandler`, read on each request so a deploy's new
 * config applies), with IAM checked by `iam`.
 */
export async function startLambdaApi(standIns: () => Map<string, string>, iam: LocalIam, options: LambdaApiOptions = {}): Promise<LocalLambdaApi> {
  const cwd = options.cwd ?? process.cwd();
  const timeoutSeconds = Math.min(options.timeoutSeconds ?? MAX_FUNCTION_TIMEOUT_SECONDS, MAX_FUNCTION_TIMEOUT_SECONDS);
  const loaded = new Map<string, Handler | Outcome>();
  const invoke = async (arn: string, spec: string, event: unknown, clientContext: unknown): Promise<Outcome> => {
    let fn = loaded.get(spec);
    if (!fn) {
      fn = loadHandler(spec, cwd);
      if (typeof fn === 'function') loaded.set(spec, fn);
    }
    if (typeof fn !== 'function') return fn;
    const handler = fn;
    const requestId = randomUUID();
    const deadline = Date.now() + timeoutSeconds * 1000;
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: arn.split(':')[6],
      functionVersion: arn.split(':')[7] ?? '$LATEST',
      invokedFunctionArn: arn,
      memoryLimitInMB: '128',
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${arn.split(':')[6]}`,
      logStreamName: 'local',
      ...(clientContext ? { clientContext } : {}),
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<Outcome>((done) => {
      timer = setTimeout(
        () => done(functionError('Sandbox.Timedout', `RequestId: ${requestId} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds`)),
        timeoutSeconds * 1000,
      );
      timer.unref();
    });
    const ran = Promise.resolve()
      .then(() => handler(event, context))
      .then(
        (value): Outcome => ({ payload: value === undefined ? 'null' : JSON.stringify(value) }),
        (err): Outcome => {
          const e = err instanceof Error ? err : new Error(String(err));
          return functionError(e.name || 'Error', e.message, (e.stack ?? '').split('\n'));
        },
      );
    try {
      const outcome = await Promise.race([ran, timedOut]);
      if (Buffer.byteLength(outcome.payload) > MAX_INVOKE_PAYLOAD_BYTES) {
        return functionError('Function.ResponseSizeTooLarge', `Response payload size exceeded maximum allowed payload size (${MAX_INVOKE_PAYLOAD_BYTES} bytes).`);
      }
      return outcome;
    } finally {
      clearTimeout(timer);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => error(res, 500, 'ServiceException', (err as Error).message, 'Service'));
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    const raw = await readBody(req, MAX_INVOKE_PAYLOAD_BYTES);
    if (req.method !== 'POST' || !match?.[1]) return error(res, 404, 'UnknownOperationException', `served locally: POST /2015-03-31/functions/{FunctionName}/invocations (Invoke)`);
    const arn = functionArnOf(decodeURIComponent(match[1]), url.searchParams.get('Qualifier') ?? undefined);
    try {
      // IAM first: a caller without the grant learns nothing about the function (not even whether it exists).
      iam.authorize(iam.principalOf(req.headers.authorization), 'lambda:InvokeFunction', [arn]);
    } catch (err) {
      if (err instanceof AccessDenied || err instanceof UnrecognizedClient) return error(res, 403, err.name, err.message);
      throw err;
    }
    if (raw === undefined) return error(res, 413, 'RequestTooLargeException', `Request must be smaller than ${MAX_INVOKE_PAYLOAD_BYTES} bytes for the InvokeFunction operation`);
    const functions = standIns();
    const spec = standInFor(functions, arn);
    if (!spec)
      return error(res, 404, 'ResourceNotFoundException', `Function not found: ${arn} (offline: no lambda tool with a localHandler names this function, version or alias)`);
    let event: unknown;
    try {
      event = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch (err) {
      return error(res, 400, 'InvalidRequestContentException', `Could not parse request body into json: ${(err as Error).message}`);
    }
    let clientContext: unknown;
    const header = req.headers['x-amz-client-context'];
    if (typeof header === 'string' && header) {
      try {
        const parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { custom?: unknown; Custom?: unknown };
        clientContext = { ...parsed, Custom: parsed.Custom ?? parsed.custom };
      } catch {
        return error(res, 400, 'InvalidRequestContentException', 'Client context must be a valid Base64-encoded JSON object.');
      }
    }
    const version = arn.split(':')[7];
    const executed = version && /^\d+$/.test(version) ? version : '$LATEST';
    const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (type === 'DryRun') return send(res, 204, { 'x-amz-executed-version': executed });
    if (type === 'Event') {
      invoke(arn, spec, event, clientContext).catch(() => undefined);
      return send(res, 202, {});
    }
    if (type !== 'RequestResponse') return error(res, 400, 'InvalidParameterValueException', `InvocationType ${type} is not one of RequestResponse, Event, DryRun`);
    const outcome = await invoke(arn, spec, event, clientContext);
    send(
      res,
      200,
      { 'content-type': 'application/json', 'x-amz-executed-version': executed, ...(outcome.functionError ? { 'x-amz-function-error': outcome.functionError } : {}) },
      outcome.payload,
    );
  }
  return listenLocal(server, options);
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body?: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'x-amzn-requestid': randomUUID(), ...headers });
  res.end(body);
}

/** An error as Lambda's REST API sends it: the code in `x-amzn-ErrorType`, `{"Type", "Message"}` in the body. */
function error(res: ServerResponse, status: number, code: string, message: string, type: 'User' | 'Service' = 'User'): void {
  send(res, status, { 'content-type': 'application/json', 'x-amzn-errortype': code }, JSON.stringify({ Type: type, Message: message }));
}
