import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { poll } from '../helpers/async';
import { testEngine } from '../helpers/engine';
import { VirtualTimers } from '../helpers/virtual-timers';

/**
 * A wait longer than a Node timer holds (~24.8 days), through the synthesized state machine: the approval's task
 * token times out after 30 days (approvalTimeoutSeconds' maximum), the machine after months. On a virtual clock
 * with Node's overflow (a plain 30-day timer fires after 1 ms), 29 days pass: the token is still live, the approval
 * goes through, the run ends, no execution is left RUNNING and no timer is left armed.
 */
const ALICE = 'token-alice-0123456789abcdef';
const DAY_MS = 24 * 3600 * 1000;

describe('waits longer than a Node timer holds', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  const clock = new VirtualTimers();
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  type Run = { status: string; pendingApprovals: { toolCallId: string }[] };
  const until = (runId: string, done: (run: Run) => boolean) =>
    poll(`run ${runId} in the expected state`, async () => (await (await call('GET', `/runs/${runId}`)).json()) as Run, done);

  beforeAll(async () => {
    engine = await testEngine(
      { toolApprovals: { calculator: 'required' }, approvalTimeoutSeconds: 30 * 24 * 3600, budgets: { maxSteps: 3 }, localTokens: { [ALICE]: 'alice' } },
      { timers: clock },
    );
    server = await startServer(engine, { port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
  });

  it('an approval waiting 29 days is approved; its run ends with no execution left RUNNING', async () => {
    const res = await call('POST', '/runs', { input: 'What is 12.5% of 3480?' });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    const waiting = await until(runId, (r) => r.status !== 'RUNNING');
    expect(waiting.status).toBe('AWAITING_APPROVAL');
    clock.advance(1);
    clock.advance(29 * DAY_MS);
    const decided = await call('POST', `/runs/${runId}/approvals/${waiting.pendingApprovals[0]?.toolCallId}`, { decision: 'approve' });
    expect(decided.status).toBe(202);
    const done = await until(runId, (r) => !['RUNNING', 'AWAITING_APPROVAL'].includes(r.status));
    expect(done.status).toBe('SUCCEEDED');
    const executions = [...engine.executions.values()];
    expect(executions).toHaveLength(1);
    await executions[0]?.done;
    expect(executions.map((e) => e.status)).toEqual(['SUCCEEDED']);
    expect(clock.pending).toBe(0);
  });

  it('and at 30 days the wait ends as its TimeoutSeconds says: UNFINISHED / APPROVAL_EXPIRED, not a day before', async () => {
    const res = await call('POST', '/runs', { input: 'What is 12.5% of 3480?' });
    const { runId } = (await res.json()) as { runId: string };
    expect((await until(runId, (r) => r.status !== 'RUNNING')).status).toBe('AWAITING_APPROVAL');
    clock.advance(29 * DAY_MS);
    await new Promise((r) => setTimeout(r, 100));
    expect(((await (await call('GET', `/runs/${runId}`)).json()) as Run).status).toBe('AWAITING_APPROVAL');
    clock.advance(DAY_MS + 1000);
    const done = (await until(runId, (r) => !['RUNNING', 'AWAITING_APPROVAL'].includes(r.status))) as Run & { stopReason: string };
    expect(done).toMatchObject({ status: 'UNFINISHED', stopReason: 'APPROVAL_EXPIRED' });
    for (const e of engine.executions.values()) await e.done;
    expect([...engine.executions.values()].map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(clock.pending).toBe(0);
  });
});
