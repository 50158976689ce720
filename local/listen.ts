import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The local API's port when neither `--port` nor PORT names one (`PORT`, default 3000; docs/api.md). */
export const DEFAULT_PORT = 3000;

/** A local endpoint listening on loopback (the Step Functions API, the DynamoDB front, Secrets Manager, Lambda). */
export interface LocalEndpoint {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * Longer than any pause between two requests of a client's kept-alive connection (the SDK's, fetch's): with Node's
 * default of 5 s, the server closing an idle connection races the client reusing it, and the request fails with
 * ECONNRESET (seen under load in the smoke test).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Listens on `host:port` (any free port by default) and closes with its open connections. */
export async function listenLocal(server: Server, options: { port?: number; host?: string } = {}): Promise<LocalEndpoint> {
  const host = options.host ?? '127.0.0.1';
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A request's body, or undefined when it is longer than `maxBytes` (read to its end either way). */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= maxBytes) chunks.push(c);
    });
    req.on('end', () => resolve(size > maxBytes ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * A JSON request body that must be an object (the JSON 1.0/1.1 protocols'), or undefined when it is longer than
 * `maxBytes`, not JSON, or not an object. An empty body is `{}`.
 */
export async function readJsonObject(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown> | undefined> {
  const raw = await readBody(req, maxBytes);
  if (raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(raw.toString('utf8') || '{}');
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
