import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { BadRequest, CircuitOpen, RateLimited, TimeoutError, TransientError } from '../../../lambdas/core/errors';
import type { Guard } from '../../../lambdas/tools/http-tool';
import { classifyMcpError, contentToText, headersFromSecret, McpSource, nameMcpTools, safeToolName } from '../../../lambdas/tools/mcp-tool';
import { createToolCatalog, type ToolCatalog } from '../../../lambdas/tools/registry';
import { parseConfig } from '../../../lib/config';
import { rejection } from '../../helpers/async';
import { deadUrl, startMcpServer, type TestMcpServer } from '../../helpers/mcp-server';

const ctx = { runId: 'run-1', step: 1, toolCallId: 'call_1', idempotencyKey: 'run-1#1#call_1' };

function catalogFor(tool: Record<string, unknown>, deps: Parameters<typeof createToolCatalog>[1] = {}): ToolCatalog {
  return createToolCatalog(parseConfig({ tools: [{ name: 'billing', kind: 'mcp', ...tool }] }).tools, deps);
}

describe('mcp tools against a real MCP server on loopback', () => {
  let server: TestMcpServer;
  const open: ToolCatalog[] = [];
  const track = (c: ToolCatalog) => {
    open.push(c);
    return c;
  };
  beforeAll(async () => {
    server = await startMcpServer();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    server.delayMs = 0;
    server.failNext(0);
    server.requireHeader = undefined;
  });
  afterAll(async () => server.close());

  it('offers the server tools with their JSON Schemas, a clashing name namespaced, listed once per TTL', async () => {
    let now = 1_000_000;
    const catalog = track(catalogFor({ url: server.url, listTtlSeconds: 60 }, { clock: () => now }));
    const before = server.rpc('tools/list').length;
    const listing = await catalog.list();
    expect(listing.unavailable).toEqual([]);
    const names = listing.specs.map((s) => s.name);
    expect(names).toEqual(['calculator', 'search_docs', 'lookup_invoice', 'refund', 'billing__search_docs', 'wait']);
    const lookup = listing.specs.find((s) => s.name === 'lookup_invoice');
    expect(lookup?.description).toBe('Looks up an invoice by its id.');
    expect(lookup?.parameters).toMatchObject({ type: 'object', properties: { id: { type: 'string', description: 'the invoice id' } }, required: ['id'] });
    await catalog.list();
    await catalog.run({ name: 'lookup_invoice', arguments: { id: 'A-1' } }, ctx);
    expect(server.rpc('tools/list').length - before).toBe(1);
    now += 61_000;
    await catalog.list();
    expect(server.rpc('tools/list').length - before).toBe(2);
  });

  it('offers only the allowed subset', async () => {
    const catalog = track(catalogFor({ url: server.url, allow: ['lookup_invoice', 'refund'] }));
    const { specs } = await catalog.list();
    expect(specs.map((s) => s.name)).toEqual(['calculator', 'search_docs', 'lookup_invoice', 'refund']);
    const result = await catalog.run({ name: 'wait', arguments: {} }, ctx);
    expect(result).toMatchObject({ isError: true, content: expect.stringContaining('unknown tool wait; available: calculator, search_docs, lookup_invoice, refund') });
  });

  it('reports the allowed names the server does not offer', async () => {
    const catalog = track(catalogFor({ url: server.url, allow: ['lookup_invoice', 'lookup_invoice_v2'] }));
    const listing = await catalog.list();
    expect(listing.specs.map((s) => s.name)).toEqual(['calculator', 'search_docs', 'lookup_invoice']);
    expect(listing.notListed).toEqual([{ dependency: 'tool:billing', names: ['lookup_invoice_v2'] }]);
    expect(listing.unavailable).toEqual([]);
  });

  it('calls a tool with the arguments and the idempotency key in _meta, through the breaker of the server', async () => {
    const guarded: string[] = [];
    const guard: Guard = (dependency, fn) => {
      guarded.push(dependency);
      return fn();
    };
    const catalog = track(catalogFor({ url: server.url }, { guard }));
    const result = await catalog.run({ name: 'lookup_invoice', arguments: { id: 'INV-7' } }, ctx);
    expect(result.content).toBe('invoice INV-7: 42.00 EUR, paid on 2026-11-01');
    expect(result.isError).toBeUndefined();
    expect(result.data).toEqual({ server: 'billing', tool: 'lookup_invoice' });
    expect(result.source).toBe('mcp:billing/lookup_invoice');
    expect(server.calls.at(-1)).toEqual({ name: 'lookup_invoice', args: { id: 'INV-7' }, meta: { idempotencyKey: 'run-1#1#call_1' } });
    expect(guarded.length).toBeGreaterThanOrEqual(2); // the listing and the call
    expect(new Set(guarded)).toEqual(new Set(['tool:billing']));
    // The namespaced one reaches the server's own search_docs; the plain name stays the built-in.
    const handbook = await catalog.run({ name: 'billing__search_docs', arguments: { query: 'refunds' } }, ctx);
    expect(handbook.content).toBe('handbook on refunds');
  });

  it('sends the configured headers on every request', async () => {
    server.requireHeader = { name: 'Authorization', value: 'Bearer s3cret' };
    const ok = track(catalogFor({ url: server.url, headers: { Authorization: 'Bearer s3cret' } }));
    expect((await ok.run({ name: 'lookup_invoice', arguments: { id: 'X' } }, ctx)).content).toContain('invoice X');
    const rejected = track(catalogFor({ url: server.url, headers: { Authorization: 'Bearer wrong' } }));
    const listing = await rejected.list();
    expect(listing.unavailable).toEqual([{ dependency: 'tool:billing', reason: 'BadRequest', fallback: 'none' }]);
  });

  it.each([404, 400] as const)(
    'a server restarted between two calls (%i on the old session): the second call starts a new session and succeeds in the same attempt',
    async (status) => {
      const guarded: string[] = [];
      const guard: Guard = (dependency, fn) => {
        guarded.push(dependency);
        return fn();
      };
      const catalog = track(catalogFor({ url: server.url }, { guard }));
      expect((await catalog.run({ name: 'lookup_invoice', arguments: { id: 'INV-1' } }, ctx)).content).toContain('invoice INV-1');
      const inits = server.rpc('initialize').length;
      const calls = guarded.length;
      server.restart(status);
      const second = await catalog.run({ name: 'lookup_invoice', arguments: { id: 'INV-2' } }, ctx);
      expect(second).toMatchObject({ content: 'invoice INV-2: 42.00 EUR, paid on 2026-11-01' });
      expect(second.isError).toBeUndefined();
      expect(server.rpc('initialize').length).toBe(inits + 1);
      expect(guarded.length).toBe(calls + 1); // one breaker call, one attempt
    },
  );

  it('sends the headers of headersSecret (read from Secrets Manager) over the literal ones; a malformed secret is a BadRequest naming it', async () => {
    server.requireHeader = { name: 'Authorization', value: 'Bearer from-secret' };
    const read: string[] = [];
    const secrets = async (id: string) => {
      read.push(id);
      return id === 'agent/billing-headers' ? '{"Authorization": "Bearer from-secret"}' : '"just a string"';
    };
    const ok = track(catalogFor({ url: server.url, headers: { Authorization: 'Bearer literal', 'X-Team': 'a' }, headersSecret: 'agent/billing-headers' }, { secrets }));
    expect((await ok.run({ name: 'lookup_invoice', arguments: { id: 'X' } }, ctx)).content).toContain('invoice X');
    expect(server.requests.at(-1)?.headers['x-team']).toBe('a');
    expect(read).toContain('agent/billing-headers');
    const malformed = track(catalogFor({ url: server.url, headersSecret: 'agent/bad' }, { secrets }));
    const listing = await malformed.list();
    expect(listing.unavailable).toEqual([{ dependency: 'tool:billing', reason: 'BadRequest', fallback: 'none' }]);
    const noReader = track(catalogFor({ url: server.url, headersSecret: 'agent/billing-headers' }));
    expect((await noReader.list()).unavailable).toEqual([{ dependency: 'tool:billing', reason: 'BadRequest', fallback: 'none' }]);
    expect(() => headersFromSecret('{"Authorization": 1}', 's')).toThrow('secret s (headersSecret) must be a JSON object of header name → string value');
  });

  it('gives an isError result back to the model as an error result', async () => {
    const catalog = track(catalogFor({ url: server.url }));
    const result = await catalog.run({ name: 'refund', arguments: { id: 'INV-9' } }, ctx);
    expect(result).toMatchObject({ isError: true, content: 'refund refused: invoice INV-9 is not refundable', data: { error: 'ToolError' } });
  });

  it('answers bad arguments (the server rejects them against its schema) with an error result, not a retry', async () => {
    const catalog = track(catalogFor({ url: server.url }));
    const result = await catalog.run({ name: 'lookup_invoice', arguments: { id: 17 } }, ctx);
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/id/);
    const notObject = await catalog.run({ name: 'lookup_invoice', arguments: ['x'] }, ctx);
    expect(notObject).toMatchObject({ isError: true, content: expect.stringContaining('expected a JSON object') });
    const badJson = await catalog.run({ name: 'lookup_invoice', arguments: undefined, argumentsError: 'Unexpected token' }, ctx);
    expect(badJson).toMatchObject({ isError: true, content: expect.stringContaining('not valid JSON') });
  });

  it('a server that is down: listed as unavailable (never thrown), its calls transient', async () => {
    const catalog = track(catalogFor({ url: await deadUrl() }));
    const listing = await catalog.list();
    expect(listing.specs.map((s) => s.name)).toEqual(['calculator', 'search_docs']);
    expect(listing.unavailable).toEqual([{ dependency: 'tool:billing', reason: 'TransientError', fallback: 'none' }]);
    expect(await rejection(catalog.run({ name: 'lookup_invoice', arguments: { id: 'A' } }, ctx))).toBeInstanceOf(TransientError);
    // The built-ins still work.
    expect((await catalog.run({ name: 'calculator', arguments: { expression: '2+3' } }, ctx)).content).toBe('5');
  });

  it('a slow server past its timeout is a TimeoutError (retried by the state machine), bounded by timeoutMs', async () => {
    const catalog = track(catalogFor({ url: server.url, timeoutMs: 300 }));
    await catalog.list();
    server.delayMs = 2000;
    const started = Date.now();
    const err = await rejection(catalog.run({ name: 'wait', arguments: {} }, ctx));
    expect(err).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('a retried call carries the same idempotency key, and the tool runs once', async () => {
    const catalog = track(catalogFor({ url: server.url }));
    await catalog.list();
    server.failNext(1);
    const callsBefore = server.calls.length;
    const rpcBefore = server.rpc('tools/call').length;
    const retryCtx = { ...ctx, toolCallId: 'call_9', idempotencyKey: 'run-1#1#call_9' };
    expect(await rejection(catalog.run({ name: 'lookup_invoice', arguments: { id: 'R' } }, retryCtx))).toBeInstanceOf(TransientError);
    const result = await catalog.run({ name: 'lookup_invoice', arguments: { id: 'R' } }, retryCtx);
    expect(result.content).toContain('invoice R');
    const attempts = server.rpc('tools/call').slice(rpcBefore);
    expect(attempts).toHaveLength(2);
    expect(attempts.map((a) => (a.params?._meta as { idempotencyKey?: string } | undefined)?.idempotencyKey)).toEqual(['run-1#1#call_9', 'run-1#1#call_9']);
    expect(server.calls.length - callsBefore).toBe(1);
  });

  it('an open breaker: no request, an error result marked degraded', async () => {
    const catalog = track(catalogFor({ url: server.url }));
    await catalog.list();
    const open: Guard = () => Promise.reject(new CircuitOpen('tool:billing is open'));
    const refusing = track(createToolCatalog(parseConfig({ tools: [{ name: 'billing', kind: 'mcp', url: server.url }] }).tools, { guard: open }));
    const listing = await refusing.list();
    expect(listing.unavailable).toEqual([{ dependency: 'tool:billing', reason: 'CircuitOpen', fallback: 'none' }]);
    // With a listing in hand and the breaker opening afterwards, the call itself is refused.
    let allow = true;
    const flipping: Guard = (_d, fn) => (allow ? fn() : Promise.reject(new CircuitOpen('tool:billing is open')));
    const flip = track(createToolCatalog(parseConfig({ tools: [{ name: 'billing', kind: 'mcp', url: server.url }] }).tools, { guard: flipping }));
    await flip.list();
    allow = false;
    const before = server.rpc('tools/call').length;
    const result = await flip.run({ name: 'lookup_invoice', arguments: { id: 'Z' } }, ctx);
    expect(result).toMatchObject({ isError: true, degraded: { dependency: 'tool:billing', reason: 'CircuitOpen', fallback: 'none' } });
    expect(server.rpc('tools/call').length).toBe(before);
  });
});

describe('McpSource listing cache', () => {
  it('remembers a failed listing briefly, then asks again', async () => {
    let now = 0;
    const url = await deadUrl();
    const [config] = parseConfig({ tools: [{ name: 'down', kind: 'mcp', url, listTtlSeconds: 300 }] }).tools;
    if (config?.kind !== 'mcp') throw new Error('unreachable');
    let attempts = 0;
    const guard: Guard = (_d, fn) => {
      attempts++;
      return fn();
    };
    const source = new McpSource(config, { clock: () => now, guard });
    expect((await source.list()).ok).toBe(false);
    expect((await source.list()).ok).toBe(false);
    expect(attempts).toBe(1);
    now += 16_000;
    await source.list();
    expect(attempts).toBe(2);
    await source.close();
  });
});

describe('naming MCP tools', () => {
  const src = (name: string) => ({ config: { name } }) as unknown as McpSource;
  const tool = (name: string) => ({ name, description: name, parameters: { type: 'object' } });

  it('keeps own names, namespaces every clashing one, and makes names safe for model APIs', () => {
    const named = nameMcpTools(
      ['calculator', 'search_docs'],
      [
        { source: src('a'), tools: [tool('get'), tool('search_docs'), tool('files/read')] },
        { source: src('b'), tools: [tool('get'), tool('put')] },
      ],
    );
    expect(named.map((t) => [t.spec.name, t.remoteName])).toEqual([
      ['a__get', 'get'],
      ['a__search_docs', 'search_docs'],
      ['files_read', 'files/read'],
      ['b__get', 'get'],
      ['put', 'put'],
    ]);
    expect(safeToolName('x'.repeat(80))).toHaveLength(64);
  });
});

describe('classifyMcpError', () => {
  it('maps timeouts, transport failures and protocol errors into the taxonomy', () => {
    expect(classifyMcpError(new McpError(ErrorCode.RequestTimeout, 'timed out'), 'mcp')).toBeInstanceOf(TimeoutError);
    expect(classifyMcpError(new McpError(ErrorCode.ConnectionClosed, 'closed'), 'mcp')).toBeInstanceOf(TransientError);
    expect(classifyMcpError(new McpError(ErrorCode.InvalidParams, 'bad'), 'mcp')).toBeInstanceOf(BadRequest);
    expect(classifyMcpError(new TypeError('fetch failed'), 'mcp')).toBeInstanceOf(TransientError);
    expect(classifyMcpError(new StreamableHTTPError(429, 'slow down'), 'mcp')).toBeInstanceOf(RateLimited);
    expect(classifyMcpError(new StreamableHTTPError(503, 'unavailable'), 'mcp')).toBeInstanceOf(TransientError);
    expect(classifyMcpError(new StreamableHTTPError(401, 'unauthorized'), 'mcp')).toBeInstanceOf(BadRequest);
  });

  it('turns content blocks into text', () => {
    expect(
      contentToText({
        content: [
          { type: 'text', text: 'a' },
          { type: 'image', mimeType: 'image/png', data: 'AAAA' },
        ],
      }),
    ).toBe('a\n[image image/png, 4 base64 chars]');
    expect(contentToText({ content: [], structuredContent: { total: 3 } })).toBe('{"total":3}');
  });
});
