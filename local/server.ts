import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authorizerContext } from '../lambdas/api/caller';
import { errorBody } from '../lambdas/api/http';
import { ADMINS_GROUP } from '../lambdas/api/public-config';
import { adminTokenLookup } from './admin-tokens';
import { LocalApiGateway, MAX_PAYLOAD_BYTES } from './api-gateway';
import { claimsFor, writeProxyResult } from './apigw';
import { createTokenVerifier, type TokenVerifier } from './auth';
import type { LocalEngine } from './engine';
import { localJwtAuth } from './jwt-auth';
import { DEFAULT_PORT, KEEP_ALIVE_TIMEOUT_MS, readBody } from './listen';
import { invokeWithResponseStream, type LocalResponseStream, relayStream } from './response-stream';
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
 * The HTTP API on localhost, as API Gateway fronts it: the template's REST API (routes, authorizers, throttle) in
 * front of the deployed API handler, with bearer tokens from config (or a development token made at start) standing
 * for Cognito tokens — and, where a Lambda authorizer guards the routes, for the callers it would let in.
 */
export async function startServer(
  engine: LocalEngine,
  options: {
    port?: number;
    host?: string;
    devToken?: string;
    /**
     * Apply the stage's throttling (the template's rate and burst): on by default, as in AWS. Off for a test that
     * sends bursts a deployed client would spread out or retry (throttling has its own tests).
     */
    throttle?: boolean;
  } = {},
): Promise<LocalServer> {
  const configured = engine.options.config.localTokens;
  const devToken = configured ? undefined : (options.devToken ?? `dev-${randomBytes(16).toString('hex')}`);
  const callers: Callers = {
    users: createTokenVerifier(configured ?? { [devToken as string]: DEV_USER_ID }),
    admins: adminTokenLookup(engine.options.config.adminTokens),
  };
  const gateway = new LocalApiGateway({
    template: () => engine.template,
    invoke: (logicalId, event) => engine.invokeFunction(logicalId, event),
    invokeStream: (logicalId, event) => {
      const fn = engine.functions.get(localLambdaArn(logicalId));
      if (!fn) throw new Error(`no function ${logicalId} in the template`);
      return invokeWithResponseStream(engine, fn, event);
    },
    verifyCognito: async (authorization) => {
      const caller = await callerFor(engine, callers, authorization);
      return caller ? claimsFor(caller.userId, caller.groups) : null;
    },
    devCaller: async (authorization) => {
      const caller = await callerFor(engine, callers, authorization);
      return caller ? authorizerContext(caller.userId, caller.groups.includes(ADMINS_GROUP), 'local') : null;
    },
    onError: (message, err) => engine.runtime.logger.error(message, { err }),
    throttle: options.throttle ?? true,
  });
  const server = createServer((req, res) => {
    handle(gateway, req, res).catch((err) => {
      // The cause goes to the server's log, never to the caller (it may name tables, types or internals).
      engine.runtime.logger.error('request failed', { method: req.method, path: req.url?.split('?')[0], err });
      if (!res.headersSent) send(res, 500, errorBody('INTERNAL', 'internal error; the cause is in the server log'));
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
 * One request: read as API Gateway would (up to its payload limit), then the REST API of the template answers it
 * (local/api-gateway.ts): its routes, authorizers, throttle and gateway responses, then the deployed handler.
 */
async function handle(gateway: LocalApiGateway, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const bytes = await readBody(req, MAX_PAYLOAD_BYTES);
  const body = bytes?.toString('utf8') ?? '';
  const result = await gateway.handle({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, bodyBytes: bytes?.length ?? MAX_PAYLOAD_BYTES + 1 });
  if ('stream' in result) return relayStream(result.stream as LocalResponseStream, res);
  writeProxyResult(result, res);
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
  if (adminId !== undefined) return { userId: adminId, groups: [ADMINS_GROUP] };
  const userId = callers.users(authorization);
  if (userId) return { userId, groups: [] };
  const verified = await localJwtAuth(engine.options.config)?.(authorization);
  return verified ? { userId: verified.userId, groups: verified.groups } : null;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
