import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { until } from '../helpers/async';
import { testEngine } from '../helpers/engine';

const ALICE = 'token-alice-0123456789abcdef';
const BOB = 'token-bob-0123456789abcdef0000';

interface Frame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Reads an SSE response frame by frame as it arrives. */
function frames(res: Response) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const seen: Frame[] = [];
  let done = false;
  const pump = async () => {
    const chunk = await reader.read();
    if (chunk.done) {
      done = true;
      return;
    }
    buffer += decoder.decode(chunk.value, { stream: true });
    for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
      const frame: Frame = {};
      for (const line of buffer.slice(0, at).split('\n')) {
        if (line.startsWith(':')) frame.comment = line.slice(1).trim();
        const [, field, value] = /^(id|event|data): (.*)$/.exec(line) ?? [];
        if (field) frame[field as 'id' | 'event' | 'data'] = value;
      }
      seen.push(frame);
      buffer = buffer.slice(at + 2);
    }
  };
  return {
    seen,
    /** Reads until `predicate` holds for a frame read so far (or the stream ends). */
    async until(predicate: (f: Frame) => boolean) {
      for (let i = 0; i < 10_000 && !done && !seen.some(predicate); i++) await pump();
      return seen.find(predicate);
    },
    async rest() {
      for (let i = 0; i < 10_000 && !done; i++) await pump();
      return seen;
    },
    get done() {
      return done;
    },
  };
}

/** GET /runs/{id}/events through the local server: the streamed route, the real state machine, dynalite. */
describe('live progress: GET /runs/{id}/events (Server-Sent Events)', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  const call = (method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${options.token ?? ALICE}`, ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  const events = (runId: string, headers: Record<string, string> = {}, token = ALICE) =>
    call('GET', `/runs/${runId}/events`, { token, headers: { accept: 'text/event-stream', ...headers } });

  beforeAll(async () => {
    // The threads suite's config (one template for both): the calculator waits for approval, so a run stays in flight.
    engine = await testEngine({
      localTokens: { [ALICE]: 'alice', [BOB]: 'bob' },
      adminTokens: { 'token-admin-0123456789abcdef00': 'root' },
      toolApprovals: { calculator: 'required' },
    });
    server = await startServer(engine, { port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
  });

  it('delivers events while the run is in flight, then `end` with the run, then closes; Last-Event-ID resumes', async () => {
    const { runId } = (await (await call('POST', '/runs', { body: { input: 'What is 2+3?' } })).json()) as { runId: string };
    const res = await events(runId);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const stream = frames(res);
    // The run waits for a decision: the stream is open and has already delivered what happened so far.
    const requested = await stream.until((f) => f.event === 'approval_requested');
    expect(requested?.id).toMatch(/^(EVT|MSG)#/);
    expect(stream.done).toBe(false);
    const run = (await (await call('GET', `/runs/${runId}`)).json()) as { status: string; pendingApprovals: { toolCallId: string }[] };
    expect(run.status).toBe('AWAITING_APPROVAL');
    await call('POST', `/runs/${runId}/approvals/${run.pendingApprovals[0]?.toolCallId}`, { body: { decision: 'approve' } });

    const all = await stream.rest();
    const end = all[all.length - 1];
    expect(end?.event).toBe('end');
    expect(JSON.parse(end?.data ?? '{}')).toMatchObject({ runId, status: 'SUCCEEDED' });
    const sent = all.filter((f) => f.id);
    expect(sent.map((f) => f.event)).toEqual(expect.arrayContaining(['run_started', 'model_call', 'approval_requested', 'approval_decided', 'tool_call', 'run_finished']));
    // Each event once, as the trace holds them.
    expect(new Set(sent.map((f) => f.id)).size).toBe(sent.length);
    const trace = (await (await call('GET', `/runs/${runId}/trace`)).json()) as { events: { type: string }[] };
    expect(sent.map((f) => f.event).sort()).toEqual(trace.events.map((e) => e.type).sort());
    for (const f of sent) expect(JSON.parse(f.data ?? '')).toMatchObject({ type: f.event });

    // Resume after the approval request: exactly the events after it, then end.
    const resumed = await frames(await events(runId, { 'last-event-id': requested?.id ?? '' })).rest();
    const after = sent.slice(sent.findIndex((f) => f.id === requested?.id) + 1);
    expect(resumed.filter((f) => f.id).map((f) => f.id)).toEqual(after.map((f) => f.id));
    expect(resumed[resumed.length - 1]?.event).toBe('end');
  });

  it("another user's run → 404, no token → 401, a non-SSE Accept → 406 (JSON errors, as the other routes)", async () => {
    const { runId } = (await (await call('POST', '/runs', { body: { input: 'Hello there friend' } })).json()) as { runId: string };
    await until('the run to finish', async () => ((await (await call('GET', `/runs/${runId}`)).json()) as { status: string }).status === 'SUCCEEDED', 10_000, 10);
    const other = await events(runId, {}, BOB);
    expect([other.status, ((await other.json()) as { error: { code: string } }).error.code]).toEqual([404, 'NOT_FOUND']);
    const anonymous = await fetch(`${server.url}/runs/${runId}/events`, { headers: { accept: 'text/event-stream' } });
    expect(anonymous.status).toBe(401);
    expect((await events(runId, { accept: 'application/json' })).status).toBe(406);
    // A finished run: its whole trace, then end, at once.
    const done = await frames(await events(runId)).rest();
    expect(done[done.length - 1]?.event).toBe('end');
  });
});
