import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN_GROUP } from '../lambdas/api/admin-routes';
// The largest body the routes accept is also what the server reads (API Gateway's own limit is 10 MB): one number.
import { MAX_BODY_BYTES } from '../lambdas/api/routes';
import { adminTokenLookup } from './admin-tokens';
import { claimsFor, toProxyEvent, writeProxyResult } from './apigw';
import { createTokenVerifier, type TokenVerifier } from './auth';
import type { LocalEngine } from './engine';
import { localJwtAuth } from './jwt-auth';
import { DEFAULT_PORT, KEEP_ALIVE_TIMEOUT_MS, readBody } from './listen';
import { invokeWithResponseStream, relayStream, streamingRouteFor } from './response-stream';
import { localLambdaArn } from './template';


/** The caller the development token stands for (and whose runs `agent run` makes offline, so `agent runs` lists them). */
export const DEV_USER_ID = 'local-user';

export interface LocalServer {
  url: string;
  /** The development token made at start, when the config names no `localTokens` (configured tokens are never exposed). */
  devToken?: string;
  server: Server;
  close(): Promise<void>;
}

/** How the local server turns a bearer token into a caller (the Cognito authorizer's job in AWS). */
interface Callers {
  users: TokenVerifier;
  admins: (token: string) => string | undefined;
}

/**
 * The HTTP API on localhost, as API Gateway fronts it: every request becomes a REST proxy event for the deployed API
 * handler, with bearer tokens from config (or a development token made at start) standing for Cognito tokens.
 */
export async function startServer(engine: LocalEngine, options: { port?: number; host?: string; devToken?: string } = {}): Promise<LocalServer> {
  const configured = engine.options.config.localTokens;
  const devToken = configured ? undefined : (options.devToken ?? `dev-${randomBytes(16).toString('hex')}`);
  const callers: Callers = {
    users: createTokenVerifier(configured ?? { [devToken as string]: DEV_USER_ID }),
    admins: adminTokenLookup(engine.options.config.adminTokens),
  };
  const server = createServer((req, res) => {
    handle(engine, callers, req, res).catch((err) => {
      // The cause goes to the server's log, never to the caller (it may name tables, types or internals).
      engine.runtime.logger.error('request failed', { method: req.method, path: req.url?.split('?')[0], err });
      if (!res.headersSent) send(res, 500, { error: { code: 'INTERNAL', message: 'internal error; the cause is in the server log' } });
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_PORT, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  // A second server on the same data dir is told where this one listens (local/data-dir-lock.ts).
  engine.dynamo.lock?.announce(`http://localhost:${port}`);
  return {
    url: `http://localhost:${port}`,
    ...(devToken ? { devToken } : {}),
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * One request: read as API Gateway would (body size limit), the caller's token verified into the claims the
 * Cognito authorizer would pass, then the deployed API handler (lambdas/handlers/api.ts) answers the REST proxy
 * event and its result is written back.
 */
async function handle(engine: LocalEngine, callers: Callers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const bytes = await readBody(req, MAX_BODY_BYTES);
  if (bytes === undefined) {
    send(res, 413, { error: { code: 'PAYLOAD_TOO_LARGE', message: `the body must be at most ${MAX_BODY_BYTES} bytes` } });
    return;
  }
  const body = bytes.toString('utf8');
  const caller = await callerFor(engine, callers, req.headers.authorization);
  const event = toProxyEvent({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body }, caller ? claimsFor(caller.userId, caller.groups) : null);
  // A streamed route of the template (GET /runs/{id}/events): InvokeWithResponseStream, relayed as it is written.
  const streamed = streamingRouteFor(engine.template, event.httpMethod, event.path);
  const streamFn = streamed && engine.functions.get(localLambdaArn(streamed.functionLogicalId));
  if (streamFn) return relayStream(invokeWithResponseStream(engine, streamFn, event), res);
  writeProxyResult(await engine.invokeApi(event), res);
}

/**
 * The one place a local bearer token becomes a caller: an admin token (`adminTokens`) stands for a member of the
 * agent-admins group, a user token (`localTokens`, looked up in constant time by own keys only) for that user, and,
 * with `localJwt`, a Cognito ID token verified as API Gateway's authorizer would.
 */
async function callerFor(engine: LocalEngine, callers: Callers, authorization: string | undefined): Promise<{ userId: string; groups: string[] } | null> {
  if (typeof authorization !== 'string') return null;
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
  if (!token) return null;
  const adminId = callers.admins(token);
  if (adminId !== undefined) return { userId: adminId, groups: [ADMIN_GROUP] };
  const userId = callers.users(authorization);
  if (userId) return { userId, groups: [] };
  const verified = await localJwtAuth(engine.options.config)?.(authorization);
  return verified ? { userId: verified.userId, groups: verified.groups } : null;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
