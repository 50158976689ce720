import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BadRequest, CircuitOpen, QuotaExhausted, RateLimited, TimeoutError, TransientError } from '../../../lambdas/core/errors';
import type { Guard } from '../../../lambdas/tools/http-tool';
import { clearIndexCache } from '../../../lambdas/tools/keyword-search';
import { callRetriever, createRetrieverTool, parseRetrieverResponse, type RetrievalResult, type RetrieverToolConfig, retrieveWithFallback } from '../../../lambdas/tools/retriever';
import { hang, type Loopback, reply, startLoopback } from '../../../testing/loopback';
import { rejection } from '../../helpers/async';

let server: Loopback;
let docsDir: string;

beforeAll(async () => {
  server = await startLoopback();
  docsDir = mkdtempSync(path.join(tmpdir(), 'retriever-docs-'));
  writeFileSync(path.join(docsDir, 'refunds.md'), '# Policies\n\n## Refund policy\nRefunds are issued within 14 days of purchase.\n\n## Shipping\nOrders ship in 2 days.\n');
});
afterAll(async () => {
  await server.close();
  rmSync(docsDir, { recursive: true, force: true });
  clearIndexCache();
});
beforeEach(() => {
  server.requests.length = 0;
});

const ctx = { runId: 'run-1', step: 1, toolCallId: 'call-1', idempotencyKey: 'idem-r' };

function config(urlPath: string, timeoutMs = 2000): RetrieverToolConfig {
  return {
    name: 'retrieve',
    kind: 'retriever',
    url: server.url(urlPath),
    description: 'Searches the knowledge base.',
    timeoutMs,
    fallback: 'keyword',
  };
}

describe('callRetriever', () => {
  test('POSTs {query, k} and parses {results: [...]}', async () => {
    server.on('/search', reply(200, { results: [{ title: 'Refunds', text: 'Refunds take 14 days.', url: 'https://kb/refunds', score: 0.9 }] }));
    const result = await callRetriever(config('/search'), 'refund time', 4);
    expect(result).toEqual({ results: [{ title: 'Refunds', text: 'Refunds take 14 days.', url: 'https://kb/refunds', score: 0.9 }] });
    expect(server.requests).toHaveLength(1);
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual({ query: 'refund time', k: 4 });
    expect(server.requests[0]?.headers['content-type']).toBe('application/json');
  });

  test('accepts a bare array, aliases, and keeps at most k', async () => {
    server.on('/bare', reply(200, [{ content: 'one', source: 's1' }, { snippet: 'two', name: 'T' }, 'three', { nothing: 1 }]));
    expect((await callRetriever(config('/bare'), 'q', 2)).results).toEqual([
      { text: 'one', url: 's1' },
      { text: 'two', title: 'T' },
    ]);
  });

  test.each([
    ['not JSON', reply(200, '<html>oops</html>'), TransientError],
    ['wrong shape', reply(200, { hits: [] }), TransientError],
    ['503', reply(503, 'unavailable'), TransientError],
    ['429', reply(429, 'slow down', { 'retry-after': '3' }), RateLimited],
    ['400', reply(400, { error: 'query too long' }), BadRequest],
  ])('%s → classified', async (_label, handler, errorClass) => {
    server.on('/err', handler);
    expect(await rejection(callRetriever(config('/err'), 'q', 3))).toBeInstanceOf(errorClass);
  });

  test('hang → TimeoutError', async () => {
    server.on('/hang', hang);
    expect(await rejection(callRetriever(config('/hang', 120), 'q', 3))).toBeInstanceOf(TimeoutError);
  });
});

describe('parseRetrieverResponse', () => {
  test('an empty list is fine; a list with no usable item is malformed', () => {
    expect(parseRetrieverResponse({ results: [] })).toEqual([]);
    expect(() => parseRetrieverResponse([{ title: 'no text' }])).toThrow(TransientError);
    expect(() => parseRetrieverResponse('nope')).toThrow(/malformed/);
  });

  test('long texts are cut', () => {
    const [p] = parseRetrieverResponse([{ text: 'z'.repeat(5000) }]);
    expect(p?.text.length).toBe(2001);
  });
});

describe('retrieveWithFallback', () => {
  const fallbackResult: RetrievalResult = { results: [{ text: 'from keywords' }] };
  const fallback = async () => fallbackResult;

  test('primary success is returned as is', async () => {
    const primary = async () => ({ results: [{ text: 'from primary' }] });
    expect(await retrieveWithFallback('q', { primary, fallback, name: 'kb' })).toEqual({ results: [{ text: 'from primary' }] });
  });

  test.each([new TransientError('5xx'), new TimeoutError('slow'), new RateLimited('429'), new CircuitOpen('open'), new QuotaExhausted('quota')])(
    '%p → fallback results marked degraded',
    async (error) => {
      const primary = async () => {
        throw error;
      };
      expect(await retrieveWithFallback('q', { primary, fallback, name: 'kb' })).toEqual({
        results: fallbackResult.results,
        degraded: { dependency: 'tool:kb', reason: error.name, fallback: 'keyword' },
      });
    },
  );

  test('an unclassified error counts as transient', async () => {
    const primary = async () => {
      throw new Error('socket hang up');
    };
    const out = await retrieveWithFallback('q', { primary, fallback });
    expect(out.degraded).toEqual({ dependency: 'tool:retriever', reason: 'TransientError', fallback: 'keyword' });
  });

  test('BadRequest is re-thrown, the fallback is not used', async () => {
    let used = false;
    const primary = async () => {
      throw new BadRequest('bad query');
    };
    const err = await rejection(
      retrieveWithFallback('q', {
        primary,
        fallback: async () => {
          used = true;
          return fallbackResult;
        },
      }),
    );
    expect(err).toBeInstanceOf(BadRequest);
    expect(used).toBe(false);
  });

  test('when the fallback fails too, the primary error is thrown', async () => {
    const err = await rejection(
      retrieveWithFallback('q', {
        primary: async () => {
          throw new TimeoutError('slow');
        },
        fallback: async () => {
          throw new Error('disk gone');
        },
      }),
    );
    expect(err).toBeInstanceOf(TimeoutError);
  });
});

describe('retriever tool', () => {
  test('503 from the endpoint → keyword fallback results, degraded and announced', async () => {
    server.on('/down', reply(503, 'service unavailable'));
    const tool = createRetrieverTool(config('/down'), { docsDir });
    const result = await tool.run({ query: 'refund policy days' }, ctx);
    expect(server.requests).toHaveLength(1);
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual({ query: 'refund policy days', k: 3 });
    expect(result.isError).toBeUndefined();
    expect(result.degraded).toEqual({ dependency: 'tool:retrieve', reason: 'TransientError', fallback: 'keyword' });
    expect(result.content).toMatch(/^NOTE: the search service is unavailable \(TransientError\)/);
    expect(result.content).toContain('refunds.md — Refund policy');
    const data = result.data as RetrievalResult;
    expect(data.degraded).toEqual(result.degraded);
    expect(data.results[0]).toMatchObject({ title: 'refunds.md — Refund policy', url: 'refunds.md' });
    expect(data.results[0]?.text).toContain('14 days');
  });

  test('a healthy endpoint answers, not degraded', async () => {
    server.on('/up', reply(200, { results: [{ title: 'KB', text: 'Refunds: 14 days.' }] }));
    const result = await createRetrieverTool(config('/up'), { docsDir }).run({ query: 'refund', k: 2 }, ctx);
    expect(result.degraded).toBeUndefined();
    expect(result.content).toBe('[1] KB\nRefunds: 14 days.');
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual({ query: 'refund', k: 2 });
  });

  test('the endpoint call goes through guard("tool:<name>"); an open circuit falls back without a request', async () => {
    const seen: string[] = [];
    const open: Guard = async (dependency) => {
      seen.push(dependency);
      throw new CircuitOpen(`${dependency} open`);
    };
    server.on('/up', reply(200, { results: [] }));
    const result = await createRetrieverTool(config('/up'), { docsDir, guard: open }).run({ query: 'shipping' }, ctx);
    expect(seen).toEqual(['tool:retrieve']);
    expect(server.requests).toHaveLength(0);
    expect(result.degraded).toEqual({ dependency: 'tool:retrieve', reason: 'CircuitOpen', fallback: 'keyword' });
    expect(result.content).toContain('Shipping');
  });

  test('a hang falls back after the timeout', async () => {
    server.on('/hang', hang);
    const result = await createRetrieverTool(config('/hang', 120), { docsDir }).run({ query: 'refund' }, ctx);
    expect(result.degraded?.reason).toBe('TimeoutError');
  });

  test('400 from the endpoint → isError result (no fallback)', async () => {
    server.on('/bad', reply(400, { error: 'query must be english' }));
    const result = await createRetrieverTool(config('/bad'), { docsDir }).run({ query: 'remboursement' }, ctx);
    expect(result.isError).toBe(true);
    expect(result.content).toContain('query must be english');
    expect(result.degraded).toBeUndefined();
  });

  test('bad arguments → isError saying what is allowed', async () => {
    const result = await createRetrieverTool(config('/up'), { docsDir }).run({ q: 'x' }, ctx);
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/invalid arguments for retrieve: query: .*Allowed: \{"query": string/);
  });
});
