/**
 * A real MCP server for the tool tests, built with the official SDK (McpServer + StreamableHTTPServerTransport,
 * stateless: a server and a transport per HTTP request) on 127.0.0.1, port 0.
 *
 * Tools: `lookup_invoice {id}` (answers with the invoice), `refund {id}` (an `isError` result), `search_docs {query}`
 * (clashes with the built-in of the same name), `wait {}` (answers after `delayMs`).
 * Knobs: `failNext(n)` answers the next n `tools/call` requests with HTTP 503 before they reach the tool;
 * `restart(status)` stands for a restart of a stateful server: every request but `initialize` is answered `status`
 * (404 "Session not found" as the MCP spec says, or the reference server's 400 "No valid session ID") until the
 * client initializes a new session;
 * `delayMs` delays every `tools/call`; `requireHeader` rejects requests without that header value with 401.
 * Every JSON-RPC request is recorded (`requests`: method, params, headers), and every tool run (`calls`).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface RecordedRpc {
  method: string;
  params: Record<string, unknown> | undefined;
  headers: IncomingHttpHeaders;
}

export interface ToolRun {
  name: string;
  args: Record<string, unknown>;
  meta: Record<string, unknown> | undefined;
}

export interface TestMcpServer {
  url: string;
  requests: RecordedRpc[];
  calls: ToolRun[];
  /** Delay of every tools/call, in ms. */
  delayMs: number;
  requireHeader?: { name: string; value: string };
  failNext(n: number): void;
  /** Forgets every session, as a restarted server does (answered `status` until the next `initialize`). */
  restart(status: 404 | 400): void;
  /** The recorded requests of one JSON-RPC method. */
  rpc(method: string): RecordedRpc[];
  close(): Promise<void>;
}

function buildServer(state: { calls: ToolRun[]; delayMs: number }): McpServer {
  const server = new McpServer({ name: 'billing-test', version: '1.0.0' });
  const record = (name: string, args: Record<string, unknown>, extra: { _meta?: Record<string, unknown> }) => state.calls.push({ name, args, meta: extra._meta });
  server.registerTool('lookup_invoice', { description: 'Looks up an invoice by its id.', inputSchema: { id: z.string().describe('the invoice id') } }, async (args, extra) => {
    record('lookup_invoice', args, extra);
    return { content: [{ type: 'text', text: `invoice ${args.id}: 42.00 EUR, paid on 2026-11-01` }] };
  });
  server.registerTool('refund', { description: 'Refunds an invoice.', inputSchema: { id: z.string() } }, async (args, extra) => {
    record('refund', args, extra);
    return { content: [{ type: 'text', text: `refund refused: invoice ${args.id} is not refundable` }], isError: true };
  });
  server.registerTool('search_docs', { description: 'Searches the billing handbook.', inputSchema: { query: z.string() } }, async (args, extra) => {
    record('search_docs', args, extra);
    return { content: [{ type: 'text', text: `handbook on ${args.query}` }] };
  });
  server.registerTool('wait', { description: 'Answers after a while.' }, async (extra) => {
    record('wait', {}, extra);
    return { content: [{ type: 'text', text: 'done waiting' }] };
  });
  return server;
}

export async function startMcpServer(): Promise<TestMcpServer> {
  const requests: RecordedRpc[] = [];
  const calls: ToolRun[] = [];
  let failing = 0;
  let forgotten: 404 | 400 | undefined;
  const api: TestMcpServer = {
    url: '',
    requests,
    calls,
    delayMs: 0,
    failNext: (n) => {
      failing = n;
    },
    restart: (status) => {
      forgotten = status;
    },
    rpc: (method) => requests.filter((r) => r.method === method),
    close: async () => undefined,
  };
  const http: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      const need = api.requireHeader;
      if (need && req.headers[need.name.toLowerCase()] !== need.value) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'unauthorized' }, id: null }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as { method?: string; params?: Record<string, unknown> } | null;
      const method = String(body?.method ?? '');
      requests.push({ method, params: body?.params, headers: req.headers });
      if (forgotten !== undefined) {
        if (method === 'initialize') forgotten = undefined;
        else {
          const message = forgotten === 404 ? 'Session not found' : 'Bad Request: No valid session ID provided';
          res.writeHead(forgotten, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
          return;
        }
      }
      if (method === 'tools/call') {
        if (failing > 0) {
          failing--;
          res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream unavailable');
          return;
        }
        if (api.delayMs > 0) await new Promise((r) => setTimeout(r, api.delayMs));
      }
      const server = buildServer({ calls, delayMs: api.delayMs });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        transport.close().catch(() => undefined);
        server.close().catch(() => undefined);
      });
      try {
        await server.connect(transport);
        await transport.handleRequest(req, res, body);
      } catch (err) {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  api.url = `http://127.0.0.1:${port}/mcp`;
  api.close = () =>
    new Promise<void>((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    });
  return api;
}

/** A loopback URL nothing listens on (a server that is down): a port freed right after binding it. */
export async function deadUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}/mcp`;
}
