import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ResponseTooLarge } from '../../../lambdas/core/errors';
import { MAX_READ_BYTES } from '../../../lambdas/net/http-client';
import {
  classifyProviderResponse,
  type HttpResponse,
  parseJsonBody,
  postProviderJson,
  providerErrorInfo,
  redact,
  retryAfterSeconds,
} from '../../../lambdas/providers/provider-http';
import { failure } from './helpers';

const res = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({
  status,
  headers: new Headers(headers),
  text: typeof body === 'string' ? body : JSON.stringify(body),
  unreadBytes: 0,
});

const nameOf = (r: HttpResponse) => classifyProviderResponse(r, 'openai m')?.name;

describe('classifyProviderResponse', () => {
  it('passes 2xx', () => {
    expect(classifyProviderResponse(res(200, {}), 'x')).toBeUndefined();
  });

  it.each([
    [500, 'TransientError'],
    [502, 'TransientError'],
    [503, 'TransientError'],
    [529, 'TransientError'],
    [408, 'TransientError'],
    [400, 'BadRequest'],
    [401, 'BadRequest'],
    [403, 'BadRequest'],
    [404, 'BadRequest'],
    [413, 'BadRequest'],
    [422, 'BadRequest'],
    [402, 'QuotaExhausted'],
    [429, 'RateLimited'],
  ])('HTTP %i → %s', (status, name) => {
    expect(nameOf(res(status, { error: { message: 'something' } }))).toBe(name);
  });

  it.each([
    ['OpenAI insufficient_quota', 429, { error: { type: 'insufficient_quota', code: 'insufficient_quota', message: 'You exceeded your current quota' } }],
    ['a spend limit', 429, { error: { message: 'You have reached your monthly spend limit.' } }],
    ['Anthropic credit balance (a 400)', 400, { type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' } }],
    ['a billing hard limit', 400, { error: { code: 'billing_hard_limit_reached', message: 'Billing hard limit has been reached' } }],
    ['a plain-text quota 429', 429, 'insufficient_quota'],
  ])('%s → QuotaExhausted', (_label, status, body) => {
    const err = classifyProviderResponse(res(status, body), 'openai m');
    expect(err?.name).toBe('QuotaExhausted');
    expect(err?.retryable).toBe(false);
    expect(err?.status).toBe(status);
  });

  it('a rate-limit message that mentions a "limit" is not a quota', () => {
    expect(nameOf(res(429, { error: { type: 'rate_limit_error', message: 'Rate limit reached for requests per min (RPM): Limit 500' } }))).toBe('RateLimited');
  });

  it.each([
    ['seconds', { 'retry-after': '12' }, 12],
    ['retry-after-ms (wins over Retry-After)', { 'retry-after-ms': '1500', 'retry-after': '9' }, 1.5],
    ['absent', {}, undefined],
    ['garbage', { 'retry-after': 'soon' }, undefined],
  ])('429 Retry-After as %s', (_label, headers, expected) => {
    const err = classifyProviderResponse(res(429, {}, headers), 'openai m') as { name: string; retryAfterSeconds?: number };
    expect(err.name).toBe('RateLimited');
    expect(err.retryAfterSeconds).toBe(expected);
  });

  it('429 Retry-After as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterSeconds(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:30 GMT' }), now)).toBe(30);
    expect(retryAfterSeconds(new Headers({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }), now)).toBe(0);
  });

  it.each([
    ['OpenAI content_policy_violation', 400, { error: { code: 'content_policy_violation', message: 'Your request was rejected' } }],
    ['Azure content_filter', 400, { error: { code: 'content_filter', message: 'The response was filtered' } }],
    ['a content management policy message', 400, { error: { message: "The prompt triggered Azure OpenAI's content management policy." } }],
    ['an Anthropic refusal', 400, { type: 'error', error: { type: 'invalid_request_error', message: 'The model refused this request.' } }],
    ['a 403 safety system block', 403, { error: { message: 'Blocked by our safety system' } }],
  ])('%s → ModelRefusal', (_label, status, body) => {
    const err = classifyProviderResponse(res(status, body), 'openai m');
    expect(err?.name).toBe('ModelRefusal');
    expect(err?.countsForBreaker).toBe(false);
  });

  it('does not take a policy word in a 401 or a 5xx for a refusal', () => {
    expect(nameOf(res(401, { error: { message: 'access refused: invalid key' } }))).toBe('BadRequest');
    expect(nameOf(res(500, { error: { message: 'content filter service down' } }))).toBe('TransientError');
  });

  it('names the provider, the status and an excerpt of the body, on one line and short', () => {
    const long = `line one\n${'x'.repeat(2000)}`;
    const err = classifyProviderResponse(res(400, long), 'anthropic claude-x');
    expect(err?.message).toMatch(/^anthropic claude-x returned HTTP 400: line one x+…$/);
    expect(err!.message.length).toBeLessThan(700);
  });
});

describe('providerErrorInfo', () => {
  it('reads the OpenAI, Anthropic and plain shapes', () => {
    expect(providerErrorInfo(JSON.stringify({ error: { code: 'c', type: 't', message: 'm' } }))).toEqual({ code: 'c', type: 't', message: 'm' });
    expect(providerErrorInfo(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }))).toEqual({
      code: undefined,
      type: 'overloaded_error',
      message: 'Overloaded',
    });
    expect(providerErrorInfo(JSON.stringify({ error: 'model not found' })).message).toBe('model not found');
    expect(providerErrorInfo(JSON.stringify({ detail: 'Not Found' })).message).toBe('Not Found');
    expect(providerErrorInfo('<html>502</html>')).toEqual({});
  });
});

describe('parseJsonBody', () => {
  it('a 2xx that is not JSON is a TransientError', () => {
    expect(() => parseJsonBody(res(200, '{"choices": [{"mess'), 'openai m')).toThrow(expect.objectContaining({ name: 'TransientError' }));
    expect(() => parseJsonBody(res(200, '<html>gateway</html>'), 'openai m')).toThrow(/openai m returned a malformed response \(HTTP 200, not JSON\)/);
  });
});

describe('postProviderJson', () => {
  const stubFetch = (status: number, body: string, headers: Record<string, string> = {}): typeof fetch => (async () => new Response(body, { status, headers })) as typeof fetch;

  it('returns the parsed body of a 2xx', async () => {
    await expect(postProviderJson('http://127.0.0.1:9/x', {}, { label: 'p', timeoutMs: 1000, fetchImpl: stubFetch(200, '{"ok":true}') })).resolves.toEqual({ ok: true });
  });

  it('never puts the key in a message, even when the server echoes it', async () => {
    const err = await failure(
      postProviderJson(
        'http://127.0.0.1:9/x',
        {},
        { label: 'p', timeoutMs: 1000, secret: 'sk-secret-value', fetchImpl: stubFetch(401, '{"error":{"message":"Incorrect API key provided: sk-secret-value"}}') },
      ),
    );
    expect(err.name).toBe('BadRequest');
    expect(err.message).toContain('[redacted]');
    expect(err.message).not.toContain('sk-secret-value');
  });

  it('a refused connection is a TransientError', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await failure(postProviderJson(`http://127.0.0.1:${port}/v1/chat/completions`, {}, { label: 'openai m', timeoutMs: 1000 }));
    expect(err.name).toBe('TransientError');
    expect(err.message).toMatch(/^openai m: network error \(ECONNREFUSED\)/);
  });

  it('an outer abort (the Lambda deadline) is a TimeoutError', async () => {
    const never = ((_url: string, init: RequestInit) =>
      new Promise((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))))) as typeof fetch;
    const outer = new AbortController();
    const pending = postProviderJson('http://127.0.0.1:9/x', {}, { label: 'p', timeoutMs: 5000, signal: outer.signal, fetchImpl: never });
    outer.abort();
    expect((await failure(pending)).name).toBe('TimeoutError');
  });
});

describe('redact', () => {
  it('leaves errors without the secret alone', () => {
    const err = new Error('nothing here');
    expect(redact(err, 'sk-abc').message).toBe('nothing here');
    expect(redact(new Error('sk-abc and sk-abc'), 'sk-abc').message).toBe('[redacted] and [redacted]');
  });
});

describe('a valid 200 over the read limit', () => {
  it('is ResponseTooLarge (not retried, not malformed) after one bounded read, with the real size in the message', async () => {
    const body = Buffer.from(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'a'.repeat(MAX_READ_BYTES * 2) } }] }));
    let requests = 0;
    const server = createServer((_req, r) => {
      requests++;
      r.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
      r.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
      const err = await postProviderJson(url, {}, { label: 'openai m', timeoutMs: 5000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ResponseTooLarge);
      expect(err).toMatchObject({ name: 'ResponseTooLarge', retryable: false, status: 200 });
      expect((err as Error).message).toContain(`${body.length} bytes`);
      expect(requests).toBe(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('is told apart from a short body that is not JSON (still a TransientError)', () => {
    expect(() => parseJsonBody({ ...res(200, '{"cut'), unreadBytes: 10 }, 'openai m')).toThrow(expect.objectContaining({ name: 'ResponseTooLarge' }));
    expect(() => parseJsonBody(res(200, '{"cut'), 'openai m')).toThrow(expect.objectContaining({ name: 'TransientError' }));
  });
});
