import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { poll } from '../helpers/async';
import { testEngine } from '../helpers/engine';

// Synthesizing the template of a new config takes a while on a busy machine: one config for the whole file.
jest.setTimeout(240_000);

const ALICE = 'token-alice-0123456789abcdef';
const BOB = 'token-bob-0123456789abcdef0000';
const CAROL = 'token-carol-0123456789abcdef00';
const DAVE = 'token-dave-0123456789abcdef000';
const ADMIN = 'token-admin-0123456789abcdef00';

/**
 * Each primary call: 1,000 in × $10/MTok + 500 out × $30/MTok = $0.025; the per-user cap is two of those. Past half
 * the cap (fallbackAt) the cheaper fallback answers: $0.0125 a call.
 */
const CALL_USD = 0.025;
const CHEAP_USD = 0.0125;

describe('daily caps, the kill switch and support access (local server, the state machine offline)', () => {
  let fake: FakeProvider;
  let engine: LocalEngine;
  let server: LocalServer;
  let n = 0;
  const loopForever = (delayMs = 0) =>
    fake.respondWith(() => {
      const reply = { kind: 'tools' as const, calls: [{ name: 'calculator', args: { expression: `${++n} + 1` } }], usage: { input: 1000, output: 500 } };
      // biome-ignore lint/suspicious/noThenProperty: the fake provider's delayed reply is named `then`
      return delayMs ? { kind: 'delay', ms: delayMs, then: reply } : reply;
    });
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
  };
  const start = async (token: string, input = 'Count forever.') => call('POST', '/runs', token, { input });
  const waitFor = (runId: string, token: string, done: (s: string) => boolean = (s) => !['RUNNING', 'PAUSED'].includes(s)) =>
    poll(
      `run ${runId} in the expected state`,
      async () => (await call('GET', `/runs/${runId}`, token)).body,
      (run) => done(run.status),
    );

  beforeAll(async () => {
    fake = await startFakeProvider('openai');
    engine = await testEngine({
      models: {
        primary: { provider: 'openai', model: 'priced-model', contextWindowTokens: 128_000, baseUrl: fake.baseUrl, timeoutMs: 20_000, maxOutputTokens: 1024 },
        fallback: { provider: 'openai', model: 'cheap-model', contextWindowTokens: 128_000, baseUrl: fake.baseUrl, timeoutMs: 20_000, maxOutputTokens: 1024 },
      },
      pricing: { 'priced-model': { inputPerMTokUsd: 10, outputPerMTokUsd: 30 }, 'cheap-model': { inputPerMTokUsd: 5, outputPerMTokUsd: 15 } },
      spend: { dailyUsdPerUser: 2 * CALL_USD, dailyUsdTotal: 100, fallbackAt: 0.5 },
      localTokens: { [ALICE]: 'alice', [BOB]: 'bob', [CAROL]: 'carol', [DAVE]: 'dave' },
      adminTokens: { [ADMIN]: 'ops-admin' },
    });
    server = await startServer(engine, { port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
    await fake.close();
  });

  it('past fallbackAt the cheaper model answers; at the daily cap the run in flight stops (SPEND_LIMIT); then that user gets 429 until midnight UTC while another user still runs', async () => {
    loopForever();
    const first = await start(ALICE);
    expect(first.status).toBe(202);
    const run = await waitFor(first.body.runId, ALICE);
    expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'SPEND_LIMIT', steps: 3 });
    expect(run.usage.costUsd).toBeCloseTo(CALL_USD + 2 * CHEAP_USD, 9);
    expect(run.degraded).toEqual([{ dependency: 'model:primary', reason: 'SPEND_FALLBACK', fallback: 'model:fallback' }]);
    expect(run.answer).toContain('daily spend limit');
    const events = (await call('GET', `/runs/${first.body.runId}/trace`, ALICE)).body.events as { type: string; model?: string; reason?: string }[];
    expect(events.filter((e) => e.type === 'model_call').map((e) => e.model)).toEqual(['priced-model', 'cheap-model', 'cheap-model']);
    expect(events.find((e) => e.type === 'budget')).toMatchObject({ reason: 'SPEND_LIMIT', scope: 'user' });

    const refused = await start(ALICE);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'SPEND_LIMIT' });
    expect(refused.body.error.message).toMatch(/daily spend limit of \$0\.05 .*midnight UTC/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    const now = new Date();
    const toMidnight = (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
    expect(Math.abs(retryAfter - toMidnight)).toBeLessThan(5);

    const other = await start(BOB, 'What is 2 + 2?');
    expect(other.status).toBe(202);
    const bobs = await waitFor(other.body.runId, BOB);
    expect(bobs.steps).toBeGreaterThan(0);
    expect(bobs.usage.costUsd).toBeGreaterThan(0);

    const spend = await call('GET', '/admin/spend', ADMIN);
    expect(spend.status).toBe(200);
    expect(spend.body.users).toEqual(expect.arrayContaining([expect.objectContaining({ userId: 'alice', costUsd: CALL_USD + 2 * CHEAP_USD, calls: 3, overCap: true })]));
    expect(spend.body.totalUsd).toBeCloseTo(CALL_USD + 2 * CHEAP_USD + bobs.usage.costUsd, 9);
  });

  it('lets only admins in: every admin route is a 403 for a user', async () => {
    for (const [method, path] of [
      ['POST', '/admin/stop'],
      ['POST', '/admin/disable'],
      ['POST', '/admin/enable'],
      ['GET', '/admin/spend'],
      ['GET', '/admin/runs'],
      ['GET', '/admin/reads'],
    ] as const) {
      const res = await call(method, path, BOB, method === 'POST' ? {} : undefined);
      expect({ path, status: res.status, code: res.body.error?.code }).toEqual({ path, status: 403, code: 'FORBIDDEN' });
    }
    expect((await call('GET', '/admin/spend', 'not-a-token-0123456789abcdef')).status).toBe(401);
  });

  it('admin stop ends every run in scope CANCELLED / KILLED within seconds, and only those', async () => {
    loopForever(2000);
    const carol = (await start(CAROL)).body.runId as string;
    const dave = (await start(DAVE)).body.runId as string;
    await waitFor(carol, CAROL, (s) => s === 'RUNNING');
    const t0 = Date.now();
    const one = await call('POST', '/admin/stop', ADMIN, { userId: 'carol' });
    expect(one.body).toMatchObject({ stopped: 1, runIds: [carol], scope: 'carol' });
    expect(await waitFor(carol, CAROL)).toMatchObject({ status: 'CANCELLED', stopReason: 'KILLED' });
    expect((await call('GET', `/runs/${dave}`, DAVE)).body.status).toBe('RUNNING');

    const all = await call('POST', '/admin/stop', ADMIN, {});
    expect(all.status).toBe(200);
    expect(all.body.runIds).toContain(dave);
    expect(await waitFor(dave, DAVE)).toMatchObject({ status: 'CANCELLED', stopReason: 'KILLED' });
    // The executions are stopped too, not only the records.
    for (let i = 0; i < 200 && engine.inFlight.some((id) => id === carol || id === dave); i++) await new Promise((r) => setTimeout(r, 25));
    expect(engine.inFlight).not.toContain(carol);
    expect(engine.inFlight).not.toContain(dave);
    // "Within seconds", with room for a loaded CI machine.
    expect(Date.now() - t0).toBeLessThan(10_000);
    const trace = (await call('GET', `/runs/${dave}/trace`, DAVE)).body.events as { type: string; by?: string }[];
    expect(trace).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'admin_stop', by: 'ops-admin' })]));
    // Let the delayed model answers of the stopped runs land before the next test.
    await new Promise((r) => setTimeout(r, 2100));
  });

  it('disable → new runs get 503 DISABLED; enable → 202 again', async () => {
    loopForever();
    expect((await call('POST', '/admin/disable', ADMIN)).status).toBe(200);
    const refused = await start(DAVE, 'What is 2 + 2?');
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('DISABLED');
    expect((await call('GET', '/admin/spend', ADMIN)).body.disabled).toBe(true);
    expect((await call('POST', '/admin/enable', ADMIN)).status).toBe(200);
    const accepted = await start(DAVE, 'What is 2 + 2?');
    expect(accepted.status).toBe(202);
    await waitFor(accepted.body.runId, DAVE);
  });

  it('support access: admins list any user’s runs by status and date, read any run and trace, and every read is recorded', async () => {
    const mine = await call('GET', '/runs', ALICE);
    const aliceRun = mine.body.runs[0].runId as string;
    // A user still cannot read someone else's run; an admin can.
    expect((await call('GET', `/runs/${aliceRun}`, BOB)).status).toBe(404);
    expect((await call('GET', `/runs/${aliceRun}`, ADMIN)).body).toMatchObject({ runId: aliceRun, stopReason: 'SPEND_LIMIT' });
    expect((await call('GET', `/runs/${aliceRun}/trace`, ADMIN)).body.events.length).toBeGreaterThan(3);
    const reads = (await call('GET', '/admin/reads', ADMIN)).body.reads as { adminId: string; runId: string; owner: string; what: string }[];
    expect(reads).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ adminId: 'ops-admin', runId: aliceRun, owner: 'alice', what: 'run' }),
        expect.objectContaining({ adminId: 'ops-admin', runId: aliceRun, owner: 'alice', what: 'trace' }),
      ]),
    );

    const byUser = await call('GET', '/admin/runs?userId=alice', ADMIN);
    expect(byUser.body.runs.map((r: { runId: string }) => r.runId)).toEqual([aliceRun]);
    const killed = await call('GET', '/admin/runs?status=CANCELLED', ADMIN);
    expect(new Set(killed.body.runs.map((r: { userId: string }) => r.userId))).toEqual(new Set(['carol', 'dave']));
    const today = new Date().toISOString().slice(0, 10);
    expect((await call('GET', `/admin/runs?userId=alice&from=${today}&to=${today}`, ADMIN)).body.runs).toHaveLength(1);
    expect((await call('GET', '/admin/runs?userId=alice&to=2000-01-01', ADMIN)).body.runs).toHaveLength(0);
    expect((await call('GET', '/admin/runs?status=NOPE', ADMIN)).status).toBe(400);
  });
});
