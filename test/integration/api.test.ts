import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createRunRecord, requestFingerprint } from '../../lambdas/core/start-run';
import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { poll, until } from '../helpers/async';
import { testEngine } from '../helpers/engine';

const ALICE = 'token-alice-0123456789abcdef';
const BOB = 'token-bob-0123456789abcdef0000';

describe('the HTTP API (local server, same routes as API Gateway)', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  const call = (method: string, path: string, options: { token?: string | null; body?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(options.token === null ? {} : { authorization: `Bearer ${options.token ?? ALICE}` }),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      body: options.body,
    });
  const items = async () => (await engine.dynamo.doc.send(new ScanCommand({ TableName: engine.runtime.runs.tableName }))).Items?.length ?? 0;
  const waitFor = (runId: string, token = ALICE) =>
    poll(
      `run ${runId} to finish`,
      async () => (await (await call('GET', `/runs/${runId}`, { token })).json()) as { status: string },
      (run) => !['RUNNING', 'PAUSED'].includes(run.status),
    );

  beforeAll(async () => {
    engine = await testEngine({ localTokens: { [ALICE]: 'alice', [BOB]: 'bob' }, budgets: { maxSteps: 10 } });
    // Bursts of requests faster than the stage's throttle allows (throttling: test/local/api-gateway.test.ts).
    server = await startServer(engine, { port: 0, throttle: false });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
  });

  it('starts a run (202 {runId}) and reads it back as the contract says', async () => {
    const res = await call('POST', '/runs', { body: JSON.stringify({ input: 'What is 12.5% of 3480?' }) });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    const run = await waitFor(runId);
    expect(run).toMatchObject({ runId, status: 'SUCCEEDED', steps: 2, stopReason: null, degraded: [] });
    const trace = (await (await call('GET', `/runs/${runId}/trace`)).json()) as { events: { type: string; at: string }[] };
    expect(trace.events[0]?.type).toBe('run_started');
    expect(trace.events.map((e) => e.at)).toEqual([...trace.events.map((e) => e.at)].sort());
  });

  it('refuses a corpus of bad requests with the right 4xx, writing nothing and starting nothing', async () => {
    const before = await items();
    const started = engine.executions.size;
    const huge = 'x'.repeat(40_000);
    const corpus: [string, string, { token?: string | null; body?: string; headers?: Record<string, string> }, number][] = [
      ['POST', '/runs', { body: '{"input": "unterminated' }, 400],
      ['POST', '/runs', { body: 'not json at all' }, 400],
      ['POST', '/runs', { body: '' }, 400],
      ['POST', '/runs', { body: '[1,2,3]' }, 422],
      ['POST', '/runs', { body: 'null' }, 422],
      ['POST', '/runs', { body: '{}' }, 422],
      ['POST', '/runs', { body: '{"input": ""}' }, 422],
      ['POST', '/runs', { body: '{"input": "   "}' }, 422],
      ['POST', '/runs', { body: '{"input": 42}' }, 422],
      ['POST', '/runs', { body: '{"input": ["a"]}' }, 422],
      ['POST', '/runs', { body: '{"input": {"$ne": null}}' }, 422],
      ['POST', '/runs', { body: JSON.stringify({ input: huge }) }, 422],
      ['POST', '/runs', { body: JSON.stringify({ input: 'y'.repeat(70_000) }) }, 413],
      // Past API Gateway's own 10 MB limit: its REQUEST_TOO_LARGE response, in the app's error shape.
      ['POST', '/runs', { body: 'z'.repeat(10 * 1024 * 1024 + 1) }, 413],
      ['POST', '/runs', { body: '{"input": "hi", "userId": "bob"}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "extra": 1}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "budgets": {"maxSteps": 11}}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "budgets": {"maxTokens": 100000000}}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "budgets": {"maxSteps": "5"}}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "budgets": {"maxSteps": -1}}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "budgets": {"maxSteps": 2.5}}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi", "budgets": {"steps": 2}}' }, 422],
      ['POST', '/runs', { body: '{"input": "hi"}', headers: { 'content-type': 'text/plain' } }, 415],
      ['POST', '/runs', { body: '{"input": "hi"}', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415],
      ['POST', '/runs', { body: '{"input": "hi"}', headers: { 'idempotency-key': 'bad key with spaces' } }, 400],
      ['POST', '/runs', { body: '{"input": "hi"}', headers: { 'idempotency-key': 'k'.repeat(300) } }, 400],
      ['POST', '/runs', { token: null, body: '{"input": "hi"}' }, 401],
      ['POST', '/runs', { token: 'not-a-configured-token-000000', body: '{"input": "hi"}' }, 401],
      // A method the API does not define: API Gateway's 403 Missing Authentication Token (below), before the Lambda.
      ['PUT', '/runs', { body: '{"input": "hi"}' }, 403],
      ['DELETE', '/runs/abc', {}, 403],
      ['PATCH', '/runs/abc/pause', {}, 403],
      ['GET', '/runs/abc/pause', {}, 403],
      ['GET', '/runs/..%2F..%2Fetc%2Fpasswd', {}, 404],
      ['GET', '/runs/%27%20OR%201%3D1--', {}, 404],
      ['GET', '/runs/RUN%23x', {}, 404],
      ['GET', `/runs/${'a'.repeat(200)}`, {}, 404],
      ['GET', '/runs/does-not-exist', {}, 404],
      ['POST', '/runs/does-not-exist/cancel', {}, 404],
      ['GET', '/nope', {}, 403],
      ['GET', '/runs?limit=0', {}, 400],
      ['GET', '/runs?limit=abc', {}, 400],
      ['GET', '/runs?cursor=garbage', {}, 400],
    ];
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    for (const [method, path, options, status] of corpus) {
      const res = await call(method, path, options);
      const body = (await res.json()) as { error?: { code: string; message: string }; message?: string };
      expect({ method, path, status: res.status }).toEqual({ method, path, status });
      if (status === 403) {
        expect(body).toEqual({ message: 'Missing Authentication Token' });
        continue;
      }
      expect(body.error?.code).toEqual(expect.any(String));
      expect(body.error?.message.length).toBeGreaterThan(10);
    }
    expect(await items()).toBe(before);
    expect(engine.executions.size).toBe(started);
  });

  it('isolates users: another user’s run is a 404 everywhere, and never listed', async () => {
    const { runId } = (await (await call('POST', '/runs', { body: '{"input": "What is 2 + 2?"}' })).json()) as { runId: string };
    await waitFor(runId);
    for (const [method, path] of [
      ['GET', `/runs/${runId}`],
      ['GET', `/runs/${runId}/trace`],
      ['POST', `/runs/${runId}/pause`],
      ['POST', `/runs/${runId}/resume`],
      ['POST', `/runs/${runId}/cancel`],
    ] as const) {
      expect({ path, status: (await call(method, path, { token: BOB })).status }).toEqual({ path, status: 404 });
      expect({ path, status: (await call(method, path, { token: null })).status }).toEqual({ path, status: 401 });
    }
    const bobs = (await (await call('GET', '/runs', { token: BOB })).json()) as { runs: { runId: string }[] };
    expect(bobs.runs.map((r) => r.runId)).not.toContain(runId);
    const alices = (await (await call('GET', '/runs')).json()) as { runs: { runId: string }[] };
    expect(alices.runs.map((r) => r.runId)).toContain(runId);
  });

  it('lists the caller’s runs newest first, paginated with an opaque cursor', async () => {
    for (let i = 0; i < 3; i++)
      await waitFor(((await (await call('POST', '/runs', { token: BOB, body: `{"input": "What is ${i} + 1?"}` })).json()) as { runId: string }).runId, BOB);
    const page1 = (await (await call('GET', '/runs?limit=2', { token: BOB })).json()) as { runs: { createdAt: string }[]; nextCursor: string | null };
    expect(page1.runs).toHaveLength(2);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = (await (await call('GET', `/runs?limit=2&cursor=${encodeURIComponent(page1.nextCursor ?? '')}`, { token: BOB })).json()) as { runs: { createdAt: string }[] };
    const all = [...page1.runs, ...page2.runs].map((r) => r.createdAt);
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(all).toEqual([...all].sort().reverse());
  });

  it('replays an Idempotency-Key: same key, same user → the same run and nothing new started', async () => {
    const post = (token: string) => call('POST', '/runs', { token, body: '{"input": "What is 6 * 7?"}', headers: { 'idempotency-key': 'order-42' } });
    const first = await post(ALICE);
    expect(first.status).toBe(202);
    const { runId } = (await first.json()) as { runId: string };
    await waitFor(runId);
    // The terminal status is written before the run_finished event: count the items once the trace has it too.
    await until('run_finished in the trace', async () => {
      const { events } = (await (await call('GET', `/runs/${runId}/trace`)).json()) as { events: { type: string }[] };
      return events.some((e) => e.type === 'run_finished');
    });
    const before = await items();
    const again = await post(ALICE);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { runId: string }).runId).toBe(runId);
    expect(await items()).toBe(before);
    const other = (await (await post(BOB)).json()) as { runId: string };
    expect(other.runId).not.toBe(runId);
    // The same key with another body: 422, nothing written.
    const reused = await call('POST', '/runs', { body: '{"input": "What is 6 * 8?"}', headers: { 'idempotency-key': 'order-42' } });
    expect(reused.status).toBe(422);
    expect(((await reused.json()) as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('a keyed run written but never started (the API died before StartExecution): the retried key starts its one execution', async () => {
    // Prepare: what the crash leaves — the key claimed, the run item written RUNNING, no execution.
    const key = 'died-before-start';
    const runId = 'run-without-execution';
    const input = 'What is 6 * 7?';
    await engine.runtime.runs.claimIdempotencyKey('alice', key, runId, requestFingerprint({ userId: 'alice', input, idempotencyKey: key }));
    await createRunRecord(engine.runtime.runs, { maxSteps: 10, maxTokens: 100_000 }, { runId, userId: 'alice', input });
    const executionsOfRun = () => [...engine.executions.values()].filter((e) => (JSON.parse(e.input) as { runId?: string }).runId === runId);
    expect(executionsOfRun()).toHaveLength(0);
    // Act: two retries of the request at once.
    const post = () => call('POST', '/runs', { body: JSON.stringify({ input }), headers: { 'idempotency-key': key } });
    const answers = await Promise.all([post(), post()]);
    // Assess: both name the run; it ran (one execution, under its deterministic name) to its end.
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(((await res.json()) as { runId: string }).runId).toBe(runId);
    }
    expect(await waitFor(runId)).toMatchObject({ status: 'SUCCEEDED' });
    expect(executionsOfRun().map((e) => e.name)).toEqual([runId]);
    expect((await engine.runtime.runs.getRun(runId))?.executionArn).toBe(executionsOfRun()[0]?.executionArn);
    // A later replay starts nothing.
    expect((await post()).status).toBe(200);
    expect(executionsOfRun()).toHaveLength(1);
  });

  it('10 concurrent cancels of one run: one 202, nine 409, one cancelled event', async () => {
    const runId = 'race-cancel-run';
    await engine.runtime.runs.createRun({ runId, userId: 'alice', input: 'hi', maxSteps: 5, maxTokens: 1000 });
    const statuses = await Promise.all(Array.from({ length: 10 }, async () => (await call('POST', `/runs/${runId}/cancel`)).status));
    expect(statuses.sort()).toEqual([202, ...Array(9).fill(409)]);
    const { events } = (await (await call('GET', `/runs/${runId}/trace`)).json()) as { events: { type: string }[] };
    expect(events.filter((e) => e.type === 'cancelled')).toHaveLength(1);
  });

  it('answers 409 to a state change that does not apply', async () => {
    const { runId } = (await (await call('POST', '/runs', { body: '{"input": "What is 1 + 1?"}' })).json()) as { runId: string };
    await waitFor(runId);
    for (const action of ['pause', 'resume', 'cancel']) {
      const res = await call('POST', `/runs/${runId}/${action}`);
      expect({ action, status: res.status }).toEqual({ action, status: 409 });
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/SUCCEEDED; only a/);
    }
  });
});
