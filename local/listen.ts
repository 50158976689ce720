import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A local endpoint listening on loopback (the Step Functions API, the DynamoDB front). */
export interface LocalEndpoint {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Listens on `host:port` (any free port by default) and closes with its open connections. */
export async function listenLocal(server: Server, options: { port?: number; host?: string } = {}): Promise<LocalEndpoint> {
  const host = options.host ?? '127.0.0.1';
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
