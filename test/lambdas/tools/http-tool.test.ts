import { BadRequest, CircuitOpen, QuotaExhausted, RateLimited, TimeoutError, TransientError } from '../../../lambdas/core/errors';
import { callHttpTool, compactBody, createHttpTool, type Guard, type HttpToolConfig, parseRetryAfter } from '../../../lambdas/tools/http-tool';
import { truncateUtf8 } from '../../../lambdas/tools/types';
import { hang, type Loopback, reply, startLoopback } from '../../../testing/loopback';
import { rejection } from '../../helpers/async';

let server: Loopback;

beforeAll(async () => {
  server = await startLoopback();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
});

const ctx = { runId: 'run-1', step: 2, toolCallId: 'call-1', idempotencyKey: 'idem-123' };

function config(path: string, timeoutMs = 2000): HttpToolConfig {
  return {
    name: 'charge',
    kind: 'http',
    url: server.url(path),
    description: 'Charges a card.',
    parameters: { type: 'object', properties: { amount: { type: 'number' } } },
    timeoutMs,
  };
}

describe('http tool against a loopback server', () => {
  test('POSTs the arguments as JSON with the Idempotency-Key header; the same key on a retry', async () => {
    server.on('/ok', reply(200, '{\n  "charged": true,\n  "id": "ch_1"\n}', { 'content-type': 'application/json' }));
    const tool = createHttpTool(config('/ok'));
    const first = await tool.run({ amount: 42, currency: 'EUR' }, ctx);
    const retry = await tool.run({ amount: 42, currency: 'EUR' }, ctx);
    expect(first).toEqual({ content: '{"charged":true,"id":"ch_1"}', data: { status: 200 } });
    expect(retry.content).toBe(first.content);
    expect(server.requests).toHaveLength(2);
    for (const req of server.requests) {
      expect(req.method).toBe('POST');
      expect(req.path).toBe('/ok');
      expect(req.headers['idempotency-key']).toBe('idem-123');
      expect(req.headers['content-type']).toBe('application/json');
      expect(JSON.parse(req.body)).toEqual({ amount: 42, currency: 'EUR' });
    }
    expect(tool.spec).toEqual({
      name: 'charge',
      description: 'Charges a card.',
      parameters: { type: 'object', properties: { amount: { type: 'number' } } },
    });
  });

  test('a text body is returned as is; an empty body says so', async () => {
    server.on('/text', reply(200, 'plain words'));
    server.on('/empty', (_req, res) => {
      res.writeHead(204);
      res.end();
    });
    expect((await createHttpTool(config('/text')).run({}, ctx)).content).toBe('plain words');
    expect((await createHttpTool(config('/empty')).run({}, ctx)).content).toBe('(empty response, HTTP 204)');
  });

  test('500 → TransientError is thrown (the state machine retries it)', async () => {
    server.on('/boom', reply(500, { error: 'internal' }));
    const err = await rejection(createHttpTool(config('/boom')).run({ a: 1 }, ctx));
    expect(err).toBeInstanceOf(TransientError);
    expect(err.name).toBe('TransientError');
    expect((err as TransientError).status).toBe(500);
    expect(err.message).toContain('HTTP 500');
  });

  test('404 → BadRequest; the tool returns an isError result with status and body excerpt', async () => {
    server.on('/missing', reply(404, { error: 'no such customer: cus_9' }));
    const err = await rejection(callHttpTool(config('/missing'), { a: 1 }, { idempotencyKey: 'k' }));
    expect(err).toBeInstanceOf(BadRequest);
    expect((err as BadRequest).status).toBe(404);
    const result = await createHttpTool(config('/missing')).run({ a: 1 }, ctx);
    expect(result.isError).toBe(true);
    expect(result.content).toContain('HTTP 404');
    expect(result.content).toContain('no such customer: cus_9');
    expect(result.degraded).toBeUndefined();
  });

  test('a hanging server → TimeoutError after timeoutMs', async () => {
    server.on('/hang', hang);
    const started = Date.now();
    const err = await rejection(createHttpTool(config('/hang', 150)).run({}, ctx));
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toContain('150 ms');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('a body that stalls after the headers also times out', async () => {
    server.on('/stall', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    expect(await rejection(callHttpTool(config('/stall', 150), {}, { idempotencyKey: 'k' }))).toBeInstanceOf(TimeoutError);
  });

  test('the caller aborting (deadline) → TimeoutError', async () => {
    server.on('/hang2', hang);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await rejection(createHttpTool(config('/hang2', 5000)).run({}, { ...ctx, signal: controller.signal }));
    expect(err).toBeInstanceOf(TimeoutError);
  });

  test('429 → RateLimited with Retry-After seconds', async () => {
    server.on('/slow-down', reply(429, { error: 'rate limited' }, { 'retry-after': '7' }));
    const err = await rejection(createHttpTool(config('/slow-down')).run({}, ctx));
    expect(err).toBeInstanceOf(RateLimited);
    expect((err as RateLimited).retryAfterSeconds).toBe(7);
  });

  test('429 insufficient_quota → QuotaExhausted: an isError result, reported as degraded', async () => {
    server.on('/quota', reply(429, { error: { code: 'insufficient_quota' } }));
    const err = await rejection(callHttpTool(config('/quota'), {}, { idempotencyKey: 'k' }));
    expect(err).toBeInstanceOf(QuotaExhausted);
    const result = await createHttpTool(config('/quota')).run({}, ctx);
    expect(result.isError).toBe(true);
    expect(result.degraded).toEqual({ dependency: 'tool:charge', reason: 'QuotaExhausted', fallback: 'none' });
  });

  test('other 4xx (422) → isError result for the model', async () => {
    server.on('/invalid', reply(422, 'amount must be positive'));
    const result = await createHttpTool(config('/invalid')).run({ amount: -1 }, ctx);
    expect(result).toMatchObject({ isError: true });
    expect(result.content).toMatch(/HTTP 422: amount must be positive/);
  });

  test('redirects are not followed', async () => {
    server.on('/moved', reply(302, '', { location: 'http://127.0.0.1:1/elsewhere' }));
    const result = await createHttpTool(config('/moved')).run({}, ctx);
    expect(result.isError).toBe(true);
    expect(result.content).toContain('HTTP 302 redirect to http://127.0.0.1:1/elsewhere (not followed)');
    expect(server.requests.map((r) => r.path)).toEqual(['/moved']);
  });

  test('a network error (connection refused) → TransientError', async () => {
    const other = await startLoopback();
    const url = other.url('/gone');
    await other.close();
    const err = await rejection(createHttpTool({ ...config('/x'), url }).run({}, ctx));
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toMatch(/network error/);
  });

  test('a large body is cut to 16 KB with a truncation marker', async () => {
    const big = 'x'.repeat(20_000);
    server.on('/big', reply(200, big));
    const { content } = await createHttpTool(config('/big')).run({}, ctx);
    expect(content.startsWith('x'.repeat(16_384))).toBe(true);
    expect(content.endsWith(`…[truncated ${20_000 - 16_384} bytes]`)).toBe(true);
  });

  test('a huge body is not read beyond 1 MiB, and the marker counts what was left', async () => {
    const size = 3 * 1024 * 1024;
    server.on('/huge', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(size) });
      res.end(Buffer.alloc(size, 'y'));
    });
    const { content } = await createHttpTool(config('/huge')).run({}, ctx);
    expect(content).toMatch(new RegExp(`…\\[truncated ${size - 16_384} bytes\\]$`));
  });

  test('arguments that are not an object → isError, nothing sent', async () => {
    const tool = createHttpTool(config('/ok'));
    for (const args of [null, [1, 2], 'text', 3]) {
      const result = await tool.run(args, ctx);
      expect(result.isError).toBe(true);
      expect(result.content).toMatch(/invalid arguments for charge: expected a JSON object/);
    }
    expect(server.requests).toHaveLength(0);
  });

  test('every call goes through guard("tool:<name>"); an open circuit → isError + degraded, no request', async () => {
    server.on('/ok', reply(200, { ok: true }));
    const seen: string[] = [];
    const passThrough: Guard = (dependency, fn) => {
      seen.push(dependency);
      return fn();
    };
    await createHttpTool(config('/ok'), { guard: passThrough }).run({}, ctx);
    expect(seen).toEqual(['tool:charge']);
    const open: Guard = async (dependency) => {
      throw new CircuitOpen(`${dependency} is open`);
    };
    const result = await createHttpTool(config('/ok'), { guard: open }).run({}, ctx);
    expect(result.isError).toBe(true);
    expect(result.content).toContain('unavailable');
    expect(result.degraded).toEqual({ dependency: 'tool:charge', reason: 'CircuitOpen', fallback: 'none' });
    expect(server.requests).toHaveLength(1);
  });

  test('an injected fetch is used', async () => {
    const calls: Array<{ url: string; init: RequestInit | undefined }> = [];
    const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), init });
      return new Response('{"fake": 1}', { status: 200, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const result = await createHttpTool(config('/never'), { fetchImpl: fakeFetch }).run({ q: 1 }, ctx);
    expect(result.content).toBe('{"fake":1}');
    expect(calls).toHaveLength(1);
    const headers = (calls[0]?.init?.headers ?? {}) as Record<string, string>;
    expect(headers['Idempotency-Key']).toBe('idem-123');
    expect(server.requests).toHaveLength(0);
  });
});

describe('helpers', () => {
  test('parseRetryAfter: seconds, HTTP date, junk', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('12', now)).toBe(12);
    expect(parseRetryAfter(' 1.5 ', now)).toBe(2);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  test('compactBody re-serialises JSON, leaves other text alone', () => {
    expect(compactBody('{ "a" : [1, 2] }', 'application/json')).toBe('{"a":[1,2]}');
    expect(compactBody('[1,\n 2]', null)).toBe('[1,2]');
    expect(compactBody('{not json', 'application/json')).toBe('{not json');
    expect(compactBody('hello', 'text/plain')).toBe('hello');
  });

  test('truncateUtf8 never splits a character and counts bytes', () => {
    expect(truncateUtf8('short', 10)).toBe('short');
    const text = 'é'.repeat(10); // 20 bytes
    expect(truncateUtf8(text, 5)).toBe('éé…[truncated 16 bytes]');
    expect(truncateUtf8('abc', 10, 7)).toBe('abc…[truncated 7 bytes]');
  });
});
