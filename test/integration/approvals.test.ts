import { type AgentConfigInput, parseConfig } from '../../lib/config';
import { countTransitions, type LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { type FakeProvider, startFakeOpenAI } from '../../testing/fake-providers';
import { type Loopback, reply, startLoopback } from '../../testing/loopback';
import { poll } from '../helpers/async';
import { patchDefinition, templateFor, testEngine } from '../helpers/engine';

/**
 * Approval-required tools through the synthesized state machine, offline: the run waits on the AwaitApproval task
 * token with no request at the tool; only the owner decides; approve runs the tool once (one Idempotency-Key),
 * reject never runs it and the reason reaches the model and the trace; a second decision is a 409; expiry ends the
 * run APPROVAL_EXPIRED; cancel works while waiting.
 */
const ALICE = 'token-alice-0123456789abcdef';
const BOB = 'token-bob-0123456789abcdef0000';

type RunBody = {
  runId: string;
  status: string;
  stopReason: string | null;
  answer: string | null;
  pendingApprovals: { toolCallId: string; name: string; arguments: unknown; requestedAt: string; expiresAt: string }[];
};
type Events = { events: { type: string; [k: string]: unknown }[] };

describe('approval-required tools (through the state machine, offline)', () => {
  let model: FakeProvider;
  let tool: Loopback;
  let engine: LocalEngine;
  let server: LocalServer;
  let config: AgentConfigInput;

  const call = (srv: LocalServer, method: string, path: string, options: { token?: string; body?: unknown } = {}) =>
    fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${options.token ?? ALICE}`, ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    });
  const getRun = async (srv: LocalServer, runId: string) => (await (await call(srv, 'GET', `/runs/${runId}`)).json()) as RunBody;
  /** Polls the run until its status is not one of `from` (bounded: 1200 polls). */
  const until = (srv: LocalServer, runId: string, done: (run: RunBody) => boolean) => poll(`run ${runId} in the expected state`, () => getRun(srv, runId), done);
  const start = async (srv: LocalServer, input: string) => {
    const res = await call(srv, 'POST', '/runs', { body: { input } });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    return until(srv, runId, (r) => r.status !== 'RUNNING');
  };
  const decide = (srv: LocalServer, runId: string, toolCallId: string, body: unknown, token = ALICE) =>
    call(srv, 'POST', `/runs/${runId}/approvals/${toolCallId}`, { token, body });
  const trace = async (srv: LocalServer, runId: string) => ((await (await call(srv, 'GET', `/runs/${runId}/trace`)).json()) as Events).events;

  beforeAll(async () => {
    model = await startFakeOpenAI();
    // A deterministic model: charge first; once the tool answered (or was rejected), repeat its result.
    model.respondWith((body) => {
      const messages = body.messages as { role: string; content?: string }[];
      const last = messages[messages.length - 1];
      return last?.role === 'tool' ? { kind: 'text', text: `tool said: ${last.content}` } : { kind: 'tools', calls: [{ name: 'charge', args: { amount: 42, card: 'visa-4242' } }] };
    });
    tool = await startLoopback();
    tool.on('/charge', reply(200, { charged: 42 }));
    config = {
      models: { primary: { provider: 'openai', model: 'm', contextWindowTokens: 128_000, baseUrl: model.url, timeoutMs: 2000 } },
      tools: [{ name: 'charge', kind: 'http', url: tool.url('/charge'), description: 'Charges a card.', approval: 'required' }],
      localTokens: { [ALICE]: 'alice', [BOB]: 'bob' },
    };
    engine = await testEngine(config);
    server = await startServer(engine, { port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
    await tool.close();
    await model.close();
  });
  beforeEach(() => {
    tool.requests.length = 0;
    model.requests.length = 0;
  });

  it('waits with zero requests at the tool; another user cannot decide; approve runs it exactly once and the run finishes', async () => {
    const waiting = await start(server, 'Charge my card 42');
    expect(waiting.status).toBe('AWAITING_APPROVAL');
    expect(waiting.pendingApprovals).toEqual([
      { toolCallId: expect.any(String), name: 'charge', arguments: { amount: 42, card: 'visa-4242' }, requestedAt: expect.any(String), expiresAt: expect.any(String) },
    ]);
    const pending = waiting.pendingApprovals[0] as RunBody['pendingApprovals'][number];
    expect(Date.parse(pending.expiresAt) - Date.parse(pending.requestedAt)).toBe(86_400_000);
    expect(tool.requests).toHaveLength(0);

    // Someone else: the run does not exist for them.
    expect((await decide(server, waiting.runId, pending.toolCallId, { decision: 'approve' }, BOB)).status).toBe(404);
    // Bad bodies are refused, a call that is not waiting is a conflict; nothing is decided.
    for (const body of [{}, { decision: 'maybe' }, { decision: 'approve', extra: 1 }, { decision: 'reject', reason: 7 }]) {
      expect((await decide(server, waiting.runId, pending.toolCallId, body)).status).toBe(422);
    }
    expect((await decide(server, waiting.runId, 'call_unknown', { decision: 'approve' })).status).toBe(409);
    expect((await getRun(server, waiting.runId)).status).toBe('AWAITING_APPROVAL');
    expect(tool.requests).toHaveLength(0);

    const approved = await decide(server, waiting.runId, pending.toolCallId, { decision: 'approve', reason: 'known customer' });
    expect(approved.status).toBe(202);
    const { run, events } = await engine.execute(waiting.runId, 'alice');
    expect(run).toMatchObject({ status: 'SUCCEEDED', pendingApprovals: [] });
    expect(run.answer).toContain('charged');
    expect(tool.requests).toHaveLength(1);
    const key = tool.requests[0]?.headers['idempotency-key'];
    expect(key).toEqual(expect.any(String));

    // Deciding again: the call is no longer waiting.
    expect((await decide(server, waiting.runId, pending.toolCallId, { decision: 'reject' })).status).toBe(409);
    expect(tool.requests).toHaveLength(1);

    const types = (await trace(server, waiting.runId)).map((e) => e.type);
    expect(types.indexOf('approval_requested')).toBeLessThan(types.indexOf('approval_decided'));
    expect(types.indexOf('approval_decided')).toBeLessThan(types.indexOf('tool_call'));
    const decided = (await trace(server, waiting.runId)).find((e) => e.type === 'approval_decided');
    expect(decided).toMatchObject({
      toolCallId: pending.toolCallId,
      name: 'charge',
      decision: 'approve',
      reason: 'known customer',
      decidedBy: 'alice',
      latencyMs: expect.any(Number),
    });

    // Billed transitions: a plain tool step takes 3 (CallModel, Route, CallTool); the approval step 5
    // (CallModel, Route, AwaitApproval, Route, CallTool). LoadRun + Route, and the final CallModel + Route + Finish.
    expect(countTransitions(events)).toBe(2 + 5 + 3);
    expect(events.filter((e) => e.type === 'StateEntered').map((e) => (e as { state?: { name?: string } }).state?.name)).toContain('AwaitApproval');
  });

  it('reject: zero requests at the tool, the model reads the rejection and its reason, the trace records who and why', async () => {
    const waiting = await start(server, 'Charge my card 42');
    const pending = waiting.pendingApprovals[0] as RunBody['pendingApprovals'][number];
    const res = await decide(server, waiting.runId, pending.toolCallId, { decision: 'reject', reason: 'card is on hold' });
    expect(res.status).toBe(202);
    const { run } = await engine.execute(waiting.runId, 'alice');
    expect(run.status).toBe('SUCCEEDED');
    expect(tool.requests).toHaveLength(0);
    const lastRequest = model.requests[model.requests.length - 1]?.body as { messages: { role: string; content?: string }[] };
    const toolMessage = lastRequest.messages.find((m) => m.role === 'tool');
    expect(toolMessage?.content).toContain('rejected');
    expect(toolMessage?.content).toContain('card is on hold');
    const events = await trace(server, waiting.runId);
    expect(events.find((e) => e.type === 'approval_decided')).toMatchObject({ decision: 'reject', reason: 'card is on hold', decidedBy: 'alice' });
    expect((await decide(server, waiting.runId, pending.toolCallId, { decision: 'approve' })).status).toBe(409);
    expect(tool.requests).toHaveLength(0);
  });

  it('cancel works while a call waits for approval; the tool is never called', async () => {
    const waiting = await start(server, 'Charge my card 42');
    expect(waiting.status).toBe('AWAITING_APPROVAL');
    expect((await call(server, 'POST', `/runs/${waiting.runId}/cancel`)).status).toBe(202);
    const run = await until(server, waiting.runId, (r) => r.status !== 'AWAITING_APPROVAL');
    expect(run).toMatchObject({ status: 'CANCELLED', pendingApprovals: [] });
    const pending = waiting.pendingApprovals[0] as RunBody['pendingApprovals'][number];
    expect((await decide(server, waiting.runId, pending.toolCallId, { decision: 'approve' })).status).toBe(409);
    expect(tool.requests).toHaveLength(0);
  });

  it('a call nobody decides expires: UNFINISHED / APPROVAL_EXPIRED, zero requests, a late decision is a 409', async () => {
    const template = patchDefinition(templateFor(parseConfig(config)), (d) => {
      (d.States as Record<string, Record<string, unknown>>).AwaitApproval = { ...(d.States as Record<string, Record<string, unknown>>).AwaitApproval, TimeoutSeconds: 1 };
    });
    const expiring = await testEngine(config, { template });
    const srv = await startServer(expiring, { port: 0 });
    try {
      const waiting = await start(srv, 'Charge my card 42');
      expect(waiting.status).toBe('AWAITING_APPROVAL');
      const { run } = await expiring.execute(waiting.runId, 'alice');
      expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'APPROVAL_EXPIRED', pendingApprovals: [] });
      expect(run.answer).toContain('not approved or rejected in time');
      const pending = waiting.pendingApprovals[0] as RunBody['pendingApprovals'][number];
      expect((await decide(srv, waiting.runId, pending.toolCallId, { decision: 'approve' })).status).toBe(409);
      expect(tool.requests).toHaveLength(0);
    } finally {
      await srv.close();
      await expiring.close();
    }
  });
});
