import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { testEngine } from '../helpers/engine';

/**
 * Hostile input against the local server (the same routes as API Gateway): each case must be refused with the
 * right 4xx and a message, write nothing and start nothing. Grow this list whenever the API changes.
 */
const ALICE = 'token-alice-0123456789abcdef';
const PROTOTYPE_KEYS = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf', 'toLocaleString', '__defineGetter__'];

type Case = [method: string, path: string, options: { auth?: string | null; body?: string; headers?: Record<string, string> }, status: number];

describe('hostile input against the HTTP API', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  const call = (method: string, path: string, options: Case[2] = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(options.auth === null ? {} : { authorization: options.auth ?? `Bearer ${ALICE}` }),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      body: options.body,
    });
  const items = async () => (await engine.dynamo.doc.send(new ScanCommand({ TableName: engine.runtime.runs.tableName }))).Items?.length ?? 0;

  /** Plays the cases; every one answers its status with an error body, and nothing is written or started. */
  const refuses = async (cases: Case[]) => {
    const before = await items();
    for (const [method, path, options, status] of cases) {
      const res = await call(method, path, options);
      const text = await res.text();
      expect({ method, path, auth: options.auth, body: options.body, status: res.status }).toEqual({ method, path, auth: options.auth, body: options.body, status });
      const error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      expect(error?.code).toEqual(expect.any(String));
      // Never an internal error text (e.g. a DynamoDB type error) handed to the caller.
      expect(text).not.toMatch(/Dynamo|ValidationException|TypeError|stack/i);
    }
    expect(await items()).toBe(before);
    expect(engine.inFlight).toEqual([]);
  };

  beforeAll(async () => {
    engine = await testEngine({ localTokens: { [ALICE]: 'alice' }, budgets: { maxSteps: 10 } });
    // Corpora sent back to back, faster than the stage's throttle allows (throttling: test/local/api-gateway.test.ts).
    server = await startServer(engine, { port: 0, throttle: false });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
  });

  it('401 for prototype property names as bearer tokens (no run started, no user-less run stored)', async () => {
    const cases: Case[] = [];
    for (const key of PROTOTYPE_KEYS) {
      cases.push(['POST', '/runs', { auth: `Bearer ${key}`, body: '{"input": "What is 2 + 2?"}' }, 401]);
      cases.push(['GET', '/runs', { auth: `Bearer ${key}` }, 401]);
      cases.push(['GET', '/runs/anything', { auth: `Bearer ${key}` }, 401]);
    }
    await refuses(cases);
  });

  it('401 for malformed or near-miss credentials', async () => {
    await refuses([
      ['GET', '/runs', { auth: '' }, 401],
      ['GET', '/runs', { auth: 'Bearer' }, 401],
      ['GET', '/runs', { auth: 'Bearer ' }, 401],
      ['GET', '/runs', { auth: `Basic ${Buffer.from(`alice:${ALICE}`).toString('base64')}` }, 401],
      ['GET', '/runs', { auth: ALICE }, 401],
      ['GET', '/runs', { auth: `Bearer ${ALICE.slice(0, -1)}` }, 401],
      ['GET', '/runs', { auth: `Bearer ${ALICE}0` }, 401],
      ['GET', '/runs', { auth: `Bearer ${ALICE.toUpperCase()}` }, 401],
      ['GET', '/runs', { auth: `Bearer ${ALICE},${ALICE}` }, 401],
      ['GET', '/runs', { auth: `Bearer ${ALICE} ${ALICE}` }, 401],
      ['GET', '/runs', { auth: `Bearer ${'a'.repeat(8000)}` }, 401],
      ['GET', '/runs', { auth: 'Bearer alice' }, 401],
    ]);
  });

  it('400 for a page size that is not plain decimal digits from 1 to 100', async () => {
    const limits = ['0x10', '1e1', '0b11', '0o7', ' 5', '5 ', '+5', '-1', '5.0', '1.5', '0', '101', '1000', 'Infinity', 'NaN', '', '１０', '9'.repeat(400)];
    await refuses(limits.map((l): Case => ['GET', `/runs?limit=${encodeURIComponent(l)}`, {}, 400]));
    // Plain digits still work.
    expect((await call('GET', '/runs?limit=10')).status).toBe(200);
    expect((await call('GET', '/runs?limit=007')).status).toBe(200);
  });

  it('prototype keys in queries are plain unknown parameters; bad cursors are 400', async () => {
    for (const q of ['__proto__=1', 'constructor=1', '__proto__[limit]=0', 'toString=x', 'limit=5&__proto__=x']) {
      const res = await call('GET', `/runs?${q}`);
      expect({ q, status: res.status }).toEqual({ q, status: 200 });
    }
    await refuses([
      ['GET', '/runs?cursor=__proto__', {}, 400],
      ['GET', '/runs?cursor=constructor', {}, 400],
      ['GET', `/runs?cursor=${Buffer.from('{"__proto__":{"admin":true}}').toString('base64url')}`, {}, 400],
      ['GET', `/runs?cursor=${Buffer.from('[1,2]').toString('base64url')}`, {}, 400],
    ]);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('422 for prototype keys and invisible prompts in bodies', async () => {
    await refuses([
      ['POST', '/runs', { body: '{"input": "hi", "__proto__": {"userId": "bob"}}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "constructor": {"prototype": {"x": 1}}}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "budgets": {"__proto__": {"maxSteps": 1000}}}' }, 422],
      ['POST', '/runs', { body: '{"__proto__": {"input": "hi"}}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "input": ""}' }, 422],
      ['POST', '/runs', { body: JSON.stringify({ input: '\u200b\u200b' }) }, 422],
      ['POST', '/runs', { body: JSON.stringify({ input: '\ufeff' }) }, 422],
      ['POST', '/runs', { body: JSON.stringify({ input: '\u200d\u2060\u200c' }) }, 422],
      ['POST', '/runs', { body: JSON.stringify({ input: ' \u00ad \u180e \u3164 ' }) }, 422],
      ['POST', '/runs', { body: JSON.stringify({ input: '\u0000\u0001\u001f' }) }, 422],
      ['POST', '/runs', { body: JSON.stringify({ input: '\u202e\u2066\u2069' }) }, 422],
      ['POST', '/runs', { body: JSON.stringify({ input: 'hi', budgets: { maxSteps: 1e308 } }) }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "budgets": {"maxSteps": 1e400}}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "budgets": null}' }, 422],
      ['POST', '/runs', { body: `${'['.repeat(5000)}${']'.repeat(5000)}` }, 422],
    ]);
  });

  it('404 for odd run ids, including prototype names (never a 500)', async () => {
    const ids = ['constructor', '__proto__', 'toString', 'hasOwnProperty', '%00', '%E0%A4%A', 'a%2Fb', 'RUN%23x%23META', '%20', 'x'.repeat(81), '%F0%9F%92%A5'];
    const cases: Case[] = [];
    for (const id of ids) {
      cases.push(['GET', `/runs/${id}`, {}, 404]);
      cases.push(['GET', `/runs/${id}/trace`, {}, 404]);
      cases.push(['POST', `/runs/${id}/cancel`, {}, 404]);
    }
    await refuses(cases);
  });

  it('an internal failure answers 500 without its cause (table names, types) in the body', async () => {
    const runs = engine.runtime.runs;
    const original = runs.listRunsByUser.bind(runs);
    runs.listRunsByUser = async () => {
      throw new TypeError('Cannot read properties of undefined (reading "S") in AgentTable-1234 ValidationException');
    };
    try {
      const res = await call('GET', '/runs');
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL', message: expect.any(String) } });
      expect(text).not.toMatch(/AgentTable|reading|ValidationException|TypeError/);
    } finally {
      runs.listRunsByUser = original;
    }
  });

  it('refuses odd headers: content types, idempotency keys', async () => {
    await refuses([
      ['POST', '/runs', { body: '{"input": "hi"}', headers: { 'content-type': 'application/jsonx' } }, 415],
      ['POST', '/runs', { body: '{"input": "hi"}', headers: { 'content-type': 'text/json' } }, 415],
      ['POST', '/runs', { body: '{"input": "hi"}', headers: { 'content-type': 'multipart/form-data; boundary=x' } }, 415],
      ['POST', '/runs', { body: '{"input": "hi"}', headers: { 'idempotency-key': '' } }, 400],
      ['POST', '/runs', { body: '{"input": "hi"}', headers: { 'idempotency-key': 'tab\there' } }, 400],
      ['POST', '/runs', { body: '{"input": "hi"}', headers: { 'idempotency-key': 'k'.repeat(256) } }, 400],
    ]);
  });
});
