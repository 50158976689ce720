import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BadRequest, CircuitOpen, RateLimited, TimeoutError, TransientError } from '../../../lambdas/core/errors';
import { clearIndexCache } from '../../../lambdas/tools/keyword-search';
import { buildToolRegistry, type Guard, hardenTool, idempotencyKeyFor, runTool, type Tool, toolSpecs } from '../../../lambdas/tools/registry';
import { parseConfig } from '../../../lib/config';
import { type Loopback, reply, startLoopback } from '../../../testing/loopback';
import { rejection } from '../../helpers/async';

let server: Loopback;
let docsDir: string;

beforeAll(async () => {
  server = await startLoopback();
  docsDir = mkdtempSync(path.join(tmpdir(), 'registry-docs-'));
  writeFileSync(path.join(docsDir, 'guide.md'), '# Guide\n\n## Budgets\nThe step budget stops runaway loops.\n');
});
afterAll(async () => {
  await server.close();
  rmSync(docsDir, { recursive: true, force: true });
  clearIndexCache();
});
beforeEach(() => {
  server.requests.length = 0;
});

const ctx = { runId: 'run-1', step: 3, toolCallId: 'call-7', idempotencyKey: 'idem-7' };

function registryFor(tools: unknown[], guard?: Guard) {
  // Through the real config schema, so defaults apply exactly as in production.
  const config = parseConfig({ tools });
  return buildToolRegistry(config.tools, { docsDir, guard });
}

describe('buildToolRegistry', () => {
  test('built-ins always, configured tools after them', () => {
    const registry = registryFor([
      { name: 'charge', kind: 'http', url: server.url('/charge') },
      { name: 'retrieve', kind: 'retriever', url: server.url('/search') },
    ]);
    expect([...registry.keys()]).toEqual(['calculator', 'search_docs', 'charge', 'retrieve']);
    const specs = toolSpecs(registry);
    expect(specs.map((s) => s.name)).toEqual(['calculator', 'search_docs', 'charge', 'retrieve']);
    for (const spec of specs) {
      expect(typeof spec.description).toBe('string');
      expect(spec.parameters).toMatchObject({ type: 'object' });
    }
  });

  test('duplicate names are refused', () => {
    const http = { name: 'calculator', kind: 'http' as const, url: 'http://127.0.0.1:1/', description: 'd', parameters: {}, timeoutMs: 1000 };
    expect(() => buildToolRegistry([http])).toThrow(/"calculator" is already taken/);
  });
});

describe('runTool', () => {
  test('calculator', async () => {
    const registry = registryFor([]);
    const result = await runTool(registry, { name: 'calculator', arguments: { expression: '12.5% of 3480' } }, ctx);
    expect(result.content).toBe('435');
    expect(result.isError).toBeUndefined();
  });

  test('search_docs uses the given docs dir', async () => {
    const result = await runTool(registryFor([]), { name: 'search_docs', arguments: { query: 'step budget' } }, ctx);
    expect(result.content).toMatch(/^\[1\] guide\.md — Budgets/);
  });

  test('unknown tool → isError listing the available tools', async () => {
    const registry = registryFor([{ name: 'charge', kind: 'http', url: server.url('/charge') }]);
    const result = await runTool(registry, { name: 'weather', arguments: {} }, ctx);
    expect(result).toMatchObject({ isError: true, content: 'unknown tool weather; available: calculator, search_docs, charge' });
  });

  test('arguments that were not JSON → isError, tool not run', async () => {
    const registry = registryFor([{ name: 'charge', kind: 'http', url: server.url('/charge') }]);
    const result = await runTool(registry, { name: 'charge', arguments: undefined, argumentsError: 'Unexpected token }' }, ctx);
    expect(result.isError).toBe(true);
    expect(result.content).toContain('not valid JSON');
    expect(server.requests).toHaveLength(0);
  });

  test.each([
    ['calculator', { expr: '1+1' }, /invalid arguments for calculator: expression: .*Allowed: \{"expression": string\}/],
    ['calculator', { expression: 7 }, /invalid arguments for calculator: expression/],
    ['calculator', { expression: '1/0' }, /division by zero/],
    ['search_docs', { query: 42 }, /invalid arguments for search_docs: query/],
    ['search_docs', 'budgets', /invalid arguments for search_docs/],
    ['charge', [1, 2], /invalid arguments for charge: expected a JSON object/],
  ])('%s with bad arguments %j → isError, not a throw', async (name, args, message) => {
    const registry = registryFor([{ name: 'charge', kind: 'http', url: server.url('/charge') }]);
    const result = await runTool(registry, { name, arguments: args }, ctx);
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(message);
  });

  test('http tool: transient errors are thrown (500, 429, timeout); 4xx is an isError result', async () => {
    server.on('/500', reply(500, 'oops'));
    server.on('/429', reply(429, 'slow', { 'retry-after': '2' }));
    server.on('/hang', () => undefined);
    server.on('/404', reply(404, { error: 'unknown order 17' }));
    const registry = registryFor([
      { name: 'five', kind: 'http', url: server.url('/500') },
      { name: 'limited', kind: 'http', url: server.url('/429') },
      { name: 'slow', kind: 'http', url: server.url('/hang'), timeoutMs: 150 },
      { name: 'missing', kind: 'http', url: server.url('/404') },
    ]);
    expect(await rejection(runTool(registry, { name: 'five', arguments: {} }, ctx))).toBeInstanceOf(TransientError);
    const limited = await rejection(runTool(registry, { name: 'limited', arguments: {} }, ctx));
    expect(limited).toBeInstanceOf(RateLimited);
    expect((limited as RateLimited).retryAfterSeconds).toBe(2);
    expect(await rejection(runTool(registry, { name: 'slow', arguments: {} }, ctx))).toBeInstanceOf(TimeoutError);
    const missing = await runTool(registry, { name: 'missing', arguments: { order: 17 } }, ctx);
    expect(missing.isError).toBe(true);
    expect(missing.content).toContain('HTTP 404');
    expect(missing.content).toContain('unknown order 17');
    // Every request carried the caller's idempotency key.
    expect(server.requests.map((r) => r.headers['idempotency-key'])).toEqual(['idem-7', 'idem-7', 'idem-7', 'idem-7']);
  });

  test('guard wraps every external call with tool:<name>; built-ins are not guarded', async () => {
    server.on('/charge', reply(200, { ok: true }));
    server.on('/search', reply(503, 'down'));
    const seen: string[] = [];
    const guard: Guard = (dependency, fn) => {
      seen.push(dependency);
      return fn();
    };
    const registry = registryFor(
      [
        { name: 'charge', kind: 'http', url: server.url('/charge') },
        { name: 'retrieve', kind: 'retriever', url: server.url('/search') },
      ],
      guard,
    );
    await runTool(registry, { name: 'calculator', arguments: { expression: '1+1' } }, ctx);
    await runTool(registry, { name: 'search_docs', arguments: { query: 'budget' } }, ctx);
    expect(seen).toEqual([]);
    expect((await runTool(registry, { name: 'charge', arguments: {} }, ctx)).content).toBe('{"ok":true}');
    const retrieved = await runTool(registry, { name: 'retrieve', arguments: { query: 'step budget' } }, ctx);
    expect(seen).toEqual(['tool:charge', 'tool:retrieve']);
    expect(retrieved.degraded).toEqual({ dependency: 'tool:retrieve', reason: 'TransientError', fallback: 'keyword' });
    expect(retrieved.content).toContain('guide.md — Budgets');
  });

  test('an open circuit on an http tool → isError + degraded (no request)', async () => {
    const guard: Guard = async (dependency) => {
      throw new CircuitOpen(`${dependency} open`);
    };
    const registry = registryFor([{ name: 'charge', kind: 'http', url: server.url('/charge') }], guard);
    const result = await runTool(registry, { name: 'charge', arguments: {} }, ctx);
    expect(result.isError).toBe(true);
    expect(result.degraded).toEqual({ dependency: 'tool:charge', reason: 'CircuitOpen', fallback: 'none' });
    expect(server.requests).toHaveLength(0);
  });

  test('hardenTool settles stray throws: unknown errors → TransientError thrown, others → isError; content capped', async () => {
    const fake = (run: Tool['run']): Tool => hardenTool({ spec: { name: 'fake', description: 'd', parameters: { type: 'object' } }, run });
    const plain = await rejection(
      fake(async () => {
        throw new Error('socket hang up');
      }).run({}, ctx),
    );
    expect(plain).toBeInstanceOf(TransientError);
    expect(plain.message).toBe('socket hang up');
    const bad = await fake(async () => {
      throw new BadRequest('no such thing');
    }).run({}, ctx);
    expect(bad).toMatchObject({ isError: true, content: 'fake failed (BadRequest): no such thing' });
    const big = await fake(async () => ({ content: 'a'.repeat(20_000) })).run({}, ctx);
    expect(Buffer.byteLength(big.content)).toBeLessThan(16_384 + 40);
    expect(big.content).toMatch(/…\[truncated 3616 bytes\]$/);
  });
});

describe('truncation through the registry (http tool cut, then the registry cap)', () => {
  test('a 2 MB body reaches the model with a marker counting every byte left out, not the last cut only', async () => {
    const size = 2 * 1024 * 1024;
    server.on('/two-mb', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(size) });
      res.end(Buffer.alloc(size, 'z'));
    });
    const registry = registryFor([{ name: 'big', kind: 'http', url: server.url('/two-mb'), description: 'd', parameters: { type: 'object' } }]);
    const { content } = await runTool(registry, { name: 'big', arguments: {} }, ctx);
    const kept = content.replace(/…\[truncated \d+ bytes\]$/, '');
    expect(kept).toHaveLength(16_384);
    expect(content).toMatch(new RegExp(`…\\[truncated ${size - 16_384} bytes\\]$`));
  });

  test('a body of unknown length says "at least"', async () => {
    server.on('/chunked', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }); // no Content-Length: chunked
      for (let i = 0; i < 20; i++) res.write(Buffer.alloc(128 * 1024, 'q'));
      res.end();
    });
    const registry = registryFor([{ name: 'chunky', kind: 'http', url: server.url('/chunked'), description: 'd', parameters: { type: 'object' } }]);
    const { content } = await runTool(registry, { name: 'chunky', arguments: {} }, ctx);
    const n = Number(/…\[truncated at least (\d+) bytes\]$/.exec(content)?.[1]);
    expect(n).toBeGreaterThanOrEqual(1024 * 1024 - 16_384);
    expect(n).toBeLessThanOrEqual(20 * 128 * 1024 - 16_384);
  });
});

describe('idempotencyKeyFor', () => {
  test('deterministic per (run, step, call); different otherwise', () => {
    const a = idempotencyKeyFor('run-1', 3, 'call-1');
    expect(idempotencyKeyFor('run-1', 3, 'call-1')).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{40}$/);
    expect(idempotencyKeyFor('run-1', 4, 'call-1')).not.toBe(a);
    expect(idempotencyKeyFor('run-2', 3, 'call-1')).not.toBe(a);
  });
});
