import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { RecordedRun } from '../../lambdas/core/replay';
import { parseTraceEvent } from '../../lambdas/core/trace';
import type { LocalEngine } from '../../local/engine';
import { replayRun } from '../../local/replay';
import { type LocalServer, startServer } from '../../local/server';
import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { poll, until } from '../helpers/async';
import { agent } from '../helpers/cli';
import { testEngine } from '../helpers/engine';

const ALICE = 'token-alice-0123456789abcdef';
const BOB = 'token-bob-0123456789abcdef0000';
const ADMIN = 'token-admin-0123456789abcdef00';

type Run = { runId: string; threadId: string | null; status: string; answer: string | null; pendingApprovals: { toolCallId: string }[] };

/**
 * Threads through the local server and the real state machine: history, one active run per thread (reject, enqueue,
 * interrupt), other users, erase. The calculator needs approval here, so a math run stays active until decided.
 */
describe('threads (local server, state machine, dynalite)', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  const call = (method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${options.token ?? ALICE}`, ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  const getRun = async (runId: string) => (await (await call('GET', `/runs/${runId}`)).json()) as Run;
  const settled = (runId: string, statuses = ['SUCCEEDED', 'DEGRADED', 'UNFINISHED', 'CANCELLED', 'FAILED']) =>
    // Every 60 ms: under the stage's throttle (20 requests per second), which the local API Gateway applies.
    poll(
      `run ${runId} to be ${statuses.join('/')}`,
      () => getRun(runId),
      (run) => statuses.includes(run.status),
      10_000,
      60,
    );
  const newThread = async (title?: string) => {
    const res = await call('POST', '/threads', { body: title === undefined ? {} : { title } });
    expect(res.status).toBe(201);
    return ((await res.json()) as { threadId: string }).threadId;
  };
  const post = async (threadId: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await call('POST', `/threads/${threadId}/runs`, { body, headers });
    return { status: res.status, body: (await res.json()) as { runId: string; threadId: string; queued?: boolean; error?: { code: string } } };
  };
  const approve = async (runId: string) => {
    const run = await settled(runId, ['AWAITING_APPROVAL']);
    for (const p of run.pendingApprovals) expect((await call('POST', `/runs/${runId}/approvals/${p.toolCallId}`, { body: { decision: 'approve' } })).status).toBe(202);
  };

  beforeAll(async () => {
    engine = await testEngine({
      api: { throttle: { rateLimit: 200, burstLimit: 400 } },
      localTokens: { [ALICE]: 'alice', [BOB]: 'bob' },
      adminTokens: { [ADMIN]: 'root' },
      toolApprovals: { calculator: 'required' },
    });
    server = await startServer(engine, { port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
  });

  it("a thread's second run answers from the first run's words; the run JSON names its thread", async () => {
    const threadId = await newThread('support');
    const first = await post(threadId, { input: 'How does the circuit breaker work?' });
    expect(first.status).toBe(202);
    expect(first.body.threadId).toBe(threadId);
    const one = await settled(first.body.runId);
    expect(one).toMatchObject({ status: 'SUCCEEDED', threadId });
    const second = await post(threadId, { input: 'Thanks! Say that again?' });
    const two = await settled(second.body.runId);
    // The demo model only knows the first question if the first run's messages were in the second run's request.
    expect(two.answer).toContain('Earlier in this conversation you asked: "How does the circuit breaker work?"');
    expect(two.answer).toContain((one.answer ?? '').slice(0, 40));
    // Referenced, never copied: the second run's own messages are its question and its answer, and the model call
    // that wrote the answer was sent the first run's four messages before them.
    const items =
      (
        await engine.dynamo.doc.send(
          new QueryCommand({ TableName: engine.runtime.runs.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `RUN#${second.body.runId}` } }),
        )
      ).Items ?? [];
    const messages = items.filter((i) => String(i.sk).startsWith('MSG#'));
    expect(messages.map((m) => m.message.role)).toEqual(['user', 'assistant']);
    expect(messages[1]?.event?.input?.messages).toBe(5);

    const thread = (await (await call('GET', `/threads/${threadId}`)).json()) as { title: string; runs: Run[]; usage: { inputTokens: number } };
    expect(thread.title).toBe('support');
    expect(thread.runs.map((r) => r.runId)).toEqual([first.body.runId, second.body.runId]);
    expect(thread.usage.inputTokens).toBeGreaterThan(0);
    const list = (await (await call('GET', '/threads?limit=10')).json()) as { threads: { threadId: string }[] };
    expect(list.threads[0]?.threadId).toBe(threadId);
    // A lone run has threadId null.
    const lone = (await (await call('POST', '/runs', { body: { input: 'Hello there friend' } })).json()) as { runId: string };
    expect((await settled(lone.runId)).threadId).toBeNull();
  });

  it("a thread's second run replays with the thread's history (replayRun and agent replay <id>)", async () => {
    const threadId = await newThread();
    const first = await post(threadId, { input: 'How does the circuit breaker work?' });
    await settled(first.body.runId);
    const second = await post(threadId, { input: 'Thanks! Say that again?' });
    await settled(second.body.runId);
    const recordingOf = async (runId: string) => ({
      run: (await (await call('GET', `/runs/${runId}`)).json()) as RecordedRun['run'],
      events: ((await (await call('GET', `/runs/${runId}/trace`)).json()) as { events: Record<string, unknown>[] }).events.map(parseTraceEvent),
    });
    const recorded: RecordedRun = { ...(await recordingOf(second.body.runId)), history: [await recordingOf(first.body.runId)] };
    const config = engine.options.config;
    const { verdict, replayed } = await replayRun(recorded, config);
    expect(verdict).toEqual({ matched: true });
    expect(replayed.answer).toBe(recorded.run.answer);
    // Without the earlier run, the replay's request lacks the first run's four messages: it diverges, saying so.
    const alone = await replayRun({ run: recorded.run, events: recorded.events }, config);
    expect(alone.verdict).toMatchObject({ matched: false, step: 1, reason: expect.stringContaining('the recorded request had 5 messages, the replayed one 1') });
    // The CLI reads the earlier runs from the thread (GET /threads/{id}) and replays with them.
    const cli = await agent(['replay', second.body.runId, '--api', server.url, '--token', ALICE]);
    expect(cli.stdout).toContain('matched');
    expect(cli.status).toBe(0);
  }, 30_000);

  it('one active run per thread: reject → 409 THREAD_BUSY, enqueue starts after it, interrupt cancels it', async () => {
    const threadId = await newThread();
    const first = await post(threadId, { input: 'What is 2+3?' });
    await settled(first.body.runId, ['AWAITING_APPROVAL']);
    const busy = await post(threadId, { input: 'What is 4+4?' });
    expect(busy.status).toBe(409);
    expect(busy.body.error?.code).toBe('THREAD_BUSY');
    const queued = await post(threadId, { input: 'What is 5+5?', multitask: 'enqueue' });
    expect(queued).toMatchObject({ status: 202, body: { queued: true } });
    expect((await call('GET', `/runs/${queued.body.runId}`)).status).toBe(404);
    await approve(first.body.runId);
    expect((await settled(first.body.runId)).status).toBe('SUCCEEDED');
    // The queued run starts when the first ends (the execution-status rule), and waits for its own approval.
    await approve(queued.body.runId);
    expect((await settled(queued.body.runId)).status).toBe('SUCCEEDED');

    const third = await post(threadId, { input: 'What is 6+6?' });
    await settled(third.body.runId, ['AWAITING_APPROVAL']);
    const interrupting = await post(threadId, { input: 'Never mind, repeat the first answer', multitask: 'interrupt' });
    expect(interrupting.status).toBe(202);
    expect((await settled(third.body.runId)).status).toBe('CANCELLED');
    expect((await settled(interrupting.body.runId)).status).toBe('SUCCEEDED');
    const thread = (await (await call('GET', `/threads/${threadId}`)).json()) as { runs: Run[] };
    expect(thread.runs.map((r) => r.runId)).toEqual([first.body.runId, queued.body.runId, third.body.runId, interrupting.body.runId]);
  });

  it('a queued run is dropped before it starts: DELETE /threads/{id}/queue/{runId} → 204, and it never starts', async () => {
    const threadId = await newThread();
    const first = await post(threadId, { input: 'What is 2+2?' });
    await settled(first.body.runId, ['AWAITING_APPROVAL']);
    const dropped = await post(threadId, { input: 'What is 3+3?', multitask: 'enqueue' });
    const kept = await post(threadId, { input: 'Thanks! Say that again?', multitask: 'enqueue' });
    expect([dropped.body.queued, kept.body.queued]).toEqual([true, true]);
    // Another user, or a run not waiting there, is a 404 that says what to do instead.
    expect((await call('DELETE', `/threads/${threadId}/queue/${dropped.body.runId}`, { token: BOB })).status).toBe(404);
    const notQueued = await call('DELETE', `/threads/${threadId}/queue/${first.body.runId}`);
    expect(notQueued.status).toBe(404);
    expect(((await notQueued.json()) as { error: { message: string } }).error.message).toContain('POST /runs/{id}/cancel');
    expect((await call('DELETE', `/threads/${threadId}/queue/${dropped.body.runId}`)).status).toBe(204);
    expect((await call('DELETE', `/threads/${threadId}/queue/${dropped.body.runId}`)).status).toBe(404);
    const waiting = (await (await call('GET', `/threads/${threadId}`)).json()) as { queued: { runId: string }[] };
    expect(waiting.queued.map((q) => q.runId)).toEqual([kept.body.runId]);
    // The first run ends: the run behind the dropped one starts; the dropped one never does.
    await approve(first.body.runId);
    await settled(first.body.runId);
    expect((await settled(kept.body.runId)).status).toBe('SUCCEEDED');
    expect((await call('GET', `/runs/${dropped.body.runId}`)).status).toBe(404);
    const thread = (await (await call('GET', `/threads/${threadId}`)).json()) as { runs: Run[]; queued: unknown[] };
    expect(thread.runs.map((r) => r.runId)).toEqual([first.body.runId, kept.body.runId]);
    expect(thread.queued).toEqual([]);
  });

  it('refuses bad thread requests with what is allowed, writing nothing', async () => {
    const threadId = await newThread();
    const bad = async (method: string, path: string, body: unknown, status: number, says: string) => {
      const res = await call(method, path, { body });
      const out = (await res.json()) as { error: { message: string } };
      expect([path, res.status]).toEqual([path, status]);
      expect(out.error.message).toContain(says);
    };
    await bad('POST', `/threads/${threadId}/runs`, { input: 'hi there', multitask: 'rollback' }, 422, '"reject" | "enqueue" | "interrupt"');
    await bad('POST', `/threads/${threadId}/runs`, { input: '' }, 422, 'allowed: {"input": string');
    await bad('POST', '/threads', { title: 'x'.repeat(201) }, 422, 'at most 200 characters');
    await bad('POST', '/threads', { owner: 'bob' }, 422, 'allowed: {"title"?: string');
    expect((await call('GET', '/threads?limit=0')).status).toBe(400);
    expect((await call('GET', '/threads?cursor=nonsense')).status).toBe(400);
    expect((await call('GET', '/threads/bad%20id')).status).toBe(404);
    const thread = (await (await call('GET', `/threads/${threadId}`)).json()) as { runs: unknown[] };
    expect(thread.runs).toEqual([]);
  });

  it("another user's thread is a 404 on every route", async () => {
    const threadId = await newThread('private');
    for (const [method, path, body] of [
      ['GET', `/threads/${threadId}`, undefined],
      ['DELETE', `/threads/${threadId}`, undefined],
      ['POST', `/threads/${threadId}/runs`, { input: 'hi there you' }],
    ] as const) {
      const res = await call(method, path, { token: BOB, body });
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    const bobs = (await (await call('GET', '/threads', { token: BOB })).json()) as { threads: unknown[] };
    expect(bobs.threads).toEqual([]);
    expect((await call('GET', `/threads/${threadId}`)).status).toBe(200);
  });

  it('the same Idempotency-Key replays the thread run it started', async () => {
    const threadId = await newThread();
    const a = await post(threadId, { input: 'Thanks a lot!' }, { 'idempotency-key': 'thread-key-1' });
    const b = await post(threadId, { input: 'Thanks a lot!' }, { 'idempotency-key': 'thread-key-1' });
    expect(a.status).toBe(202);
    expect(b).toMatchObject({ status: 200, body: { runId: a.body.runId } });
    await settled(a.body.runId);
  });

  it('DELETE /threads/{id} leaves no item of its runs; their GET /runs/{id} → 404', async () => {
    const threadId = await newThread();
    const one = await post(threadId, { input: 'How does the circuit breaker work?' });
    await settled(one.body.runId);
    const two = await post(threadId, { input: 'What is 7+1?' });
    await settled(two.body.runId, ['AWAITING_APPROVAL']);
    expect((await call('DELETE', `/threads/${threadId}`)).status).toBe(204);
    for (const runId of [one.body.runId, two.body.runId]) expect((await call('GET', `/runs/${runId}`)).status).toBe(404);
    expect((await call('GET', `/threads/${threadId}`)).status).toBe(404);
    const all = (await engine.dynamo.doc.send(new ScanCommand({ TableName: engine.runtime.runs.tableName }))).Items ?? [];
    const left = all.filter((i) => [`RUN#${one.body.runId}`, `RUN#${two.body.runId}`].includes(String(i.pk)) || String(i.sk).includes(threadId));
    expect(left).toEqual([]);
  });

  it("an admin erases all of a user's runs and threads; the erase is in the admin log", async () => {
    const threadId = await newThread();
    const inThread = await post(threadId, { input: 'Hello again friend' }, {});
    const lone = (await (await call('POST', '/runs', { body: { input: 'Hello there friend' } })).json()) as { runId: string };
    await settled(inThread.body.runId);
    await settled(lone.runId);
    expect((await call('DELETE', '/admin/users/alice', { token: ALICE })).status).toBe(403);
    const res = await call('DELETE', '/admin/users/alice', { token: ADMIN });
    expect(res.status).toBe(200);
    const all = (await engine.dynamo.doc.send(new ScanCommand({ TableName: engine.runtime.runs.tableName }))).Items ?? [];
    // Left: the admin log's entry of the erase, and Idempotency-Key records (they expire on their own).
    expect(all.filter((i) => (i.userId === 'alice' || i.owner === 'alice') && !/^(AUDIT|IDEM)#/.test(String(i.pk)))).toEqual([]);
    expect((await call('GET', `/runs/${lone.runId}`)).status).toBe(404);
    const reads = (await (await call('GET', '/admin/reads', { token: ADMIN })).json()) as { reads: { what: string; owner: string }[] };
    expect(reads.reads).toContainEqual(expect.objectContaining({ what: 'erase', owner: 'alice' }));
  });
});

/**
 * Pause, resume and an engine restart for thread runs, against a fake model that answers slowly enough to be paused
 * and names what it was sent: the earlier runs' questions must reach the model after a resume and after a restart.
 */
describe('thread runs paused, resumed, and resumed from their checkpoint after an engine restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'agent-thread-restart-'));
  let model: FakeProvider;
  let engine: LocalEngine;
  let server: LocalServer;
  let config: Parameters<typeof testEngine>[0];
  const start = async () => {
    engine = await testEngine(config, { dataDir });
    server = await startServer(engine, { port: 0 });
  };
  const stop = async () => {
    await server.close();
    await engine.close();
  };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ALICE}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: res.status === 204 ? {} : ((await res.json()) as Record<string, unknown> & Partial<Run>) };
  };
  const status = (runId: string, want: string) =>
    poll(
      `run ${runId} to be ${want}`,
      async () => (await call('GET', `/runs/${runId}`)).body,
      (run) => run.status === want,
      10_000,
      20,
    );
  /** Starts a run on the thread and pauses it while the model is answering its first step. */
  const pausedRun = async (threadId: string, input: string) => {
    const started = await call('POST', `/threads/${threadId}/runs`, { input });
    expect(started.status).toBe(202);
    const runId = String(started.body.runId);
    await until(`the model request of ${input}`, () => model.requests.some((r) => JSON.stringify(r.body).includes(input)), 10_000, 10);
    expect((await call('POST', `/runs/${runId}/pause`)).status).toBe(202);
    await status(runId, 'PAUSED');
    return runId;
  };

  beforeAll(async () => {
    model = await startFakeProvider('openai');
    model.respondWith((body) => {
      const messages = body.messages as { role: string; content: string | null }[];
      const last = messages.at(-1);
      const users = messages.filter((m) => m.role === 'user').map((m) => m.content);
      if (last?.role === 'user' && last.content?.includes('slowly')) {
        // biome-ignore lint/suspicious/noThenProperty: a scripted reply's follow-up, not a thenable
        return { kind: 'delay', ms: 300, then: { kind: 'tools', calls: [{ name: 'calculator', args: { expression: '6*7' } }] } };
      }
      return { kind: 'text', text: `Done. I was sent: ${users.join(' | ')}` };
    });
    config = { models: { primary: { provider: 'openai', model: 'm', baseUrl: model.baseUrl, timeoutMs: 5000, contextWindowTokens: 128_000 } }, localTokens: { [ALICE]: 'alice' } };
    await start();
  });
  afterAll(async () => {
    if (server) await stop();
    await model.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('pause and resume a thread run; pause one, restart the engine, resume it from its checkpoint: each answers from the thread', async () => {
    const threadId = String((await call('POST', '/threads', {})).body.threadId);
    const first = await call('POST', `/threads/${threadId}/runs`, { input: 'Remember the word kestrel.' });
    await status(String(first.body.runId), 'SUCCEEDED');

    const second = await pausedRun(threadId, 'Compute 6*7, slowly.');
    // Paused, the run still holds the thread.
    expect((await call('POST', `/threads/${threadId}/runs`, { input: 'Another one?' })).status).toBe(409);
    expect((await call('POST', `/runs/${second}/resume`)).status).toBe(202);
    const resumed = await status(second, 'SUCCEEDED');
    expect(resumed.answer).toBe('Done. I was sent: Remember the word kestrel. | Compute 6*7, slowly.');

    const third = await pausedRun(threadId, 'Compute it again, slowly.');
    await stop(); // the waiting execution is gone with the process; the run stays PAUSED in the data dir
    await start();
    expect((await call('POST', `/runs/${third}/resume`)).status).toBe(202);
    const after = await status(third, 'SUCCEEDED');
    expect(after.answer).toBe('Done. I was sent: Remember the word kestrel. | Compute 6*7, slowly. | Compute it again, slowly.');
    const trace = (await call('GET', `/runs/${third}/trace`)).body as unknown as { events: { type: string; resumeAt?: string }[] };
    expect(trace.events).toContainEqual(expect.objectContaining({ type: 'run_resumed', resumeAt: 'tools' }));
    // The restarted engine released the thread when the run ended: the next run starts at once.
    const next = await call('POST', `/threads/${threadId}/runs`, { input: 'Thanks!' });
    expect(next.status).toBe(202);
    expect(next.body.queued).toBeUndefined();
    expect((await status(String(next.body.runId), 'SUCCEEDED')).answer).toContain('Compute it again, slowly. | Thanks!');
    // Its execution ends (and is archived in the data dir) before the engine closes.
    await until('no execution in flight', () => engine.inFlight.length === 0, 10_000, 10);
  }, 30_000);
});
