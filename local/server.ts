import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { handleApi } from '../lambdas/api/routes';
import { createTokenVerifier, type TokenVerifier } from './auth';
import type { LocalEngine } from './engine';

/** Largest request body the local server reads (API Gateway's own limit is 10 MB; ours is far lower). */
export const MAX_BODY_BYTES = 256 * 1024; // read limit; the routes accept at most 64 KB

export interface LocalServer {
  url: string;
  /**
   * The development token, when the server made or was given one because the config has no `localTokens`
   * (npm start prints it); undefined when `localTokens` are configured (those are never echoed back).
   */
  devToken?: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * The HTTP API on localhost: the same routes as API Gateway (lambdas/api/routes.ts), bearer tokens from config
 * (or a development token made at start) instead of Cognito, executions in the offline engine.
 */
export async function startServer(engine: LocalEngine, options: { port?: number; host?: string; devToken?: string } = {}): Promise<LocalServer> {
  const configured = engine.options.config.localTokens;
  const devToken = configured ? undefined : (options.devToken ?? `dev-${randomBytes(16).toString('hex')}`);
  const verify = createTokenVerifier(configured ?? { [devToken as string]: 'local-user' });
  const server = createServer((req, res) => {
    handle(engine, verify, req, res).catch((err) => {
      // The cause goes to the server's log, never to the caller (it may name tables, types or internals).
      engine.runtime.logger.error('request failed', { method: req.method, path: req.url?.split('?')[0], err });
      if (!res.headersSent) send(res, 500, { error: { code: 'INTERNAL', message: 'internal error; the cause is in the server log' } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    ...(devToken ? { devToken } : {}),
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The trace viewer: one self-contained page (no build step, no CDN), served at GET /. */
const VIEWER = join(__dirname, 'viewer', 'index.html');

async function handle(engine: LocalEngine, verify: TokenVerifier, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'" });
    res.end(readFileSync(VIEWER));
    return;
  }
  let body: string;
  try {
    body = await readBody(req);
  } catch {
    send(res, 413, { error: { code: 'PAYLOAD_TOO_LARGE', message: `the body must be at most ${MAX_BODY_BYTES} bytes` } });
    return;
  }
  const userId = verify(req.headers.authorization);
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  const query = Object.fromEntries(url.searchParams.entries());
  const response = await handleApi(
    { runs: engine.runtime.runs, config: engine.options.config, control: engine.control },
    { method: req.method ?? 'GET', path: url.pathname, query, headers, body: body || null, userId },
  );
  res.writeHead(response.statusCode, response.headers);
  res.end(response.body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('too large'));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
