import type { Browser } from 'playwright-core';
import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { poll } from '../helpers/async';
import { launchChromium } from '../helpers/browser';
import { testEngine } from '../helpers/engine';

const TOKEN = 'token-approver-0123456789abcdef0';

type RunBody = { runId: string; status: string; answer: string | null; pendingApprovals: { toolCallId: string }[] };

describe('the trace viewer shows calls waiting for approval with Approve / Reject (headless Chromium: the system one, else the npm-shipped build)', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  let browser: Browser;
  const api = async (method: string, path: string, body?: unknown) =>
    (await (
      await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      })
    ).json()) as RunBody & { runId: string };
  /** Polls the run until `done` holds (bounded: 1200 polls of 25 ms). */
  const until = (runId: string, done: (run: RunBody) => boolean) => poll(`run ${runId} in the expected state`, () => api('GET', `/runs/${runId}`) as Promise<RunBody>, done);
  const waitingRun = async (input: string) => {
    const { runId } = await api('POST', '/runs', { input });
    return until(runId, (r) => r.status !== 'RUNNING');
  };

  beforeAll(async () => {
    // A built-in tool made approval-required through toolApprovals.
    engine = await testEngine({ localTokens: { [TOKEN]: 'approver' }, toolApprovals: { calculator: 'required' } });
    server = await startServer(engine, { port: 0 });
    browser = await launchChromium('viewer approvals test');
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await engine?.close();
  });

  it('lists the waiting call with its arguments; Reject (with a reason) and Approve decide it and the run goes on', async () => {
    const rejected = await waitingRun('What is 17 * 23?');
    const approved = await waitingRun('What is 6 * 7?');
    expect([rejected.status, approved.status]).toEqual(['AWAITING_APPROVAL', 'AWAITING_APPROVAL']);

    const page = await browser.newPage();
    await page.goto(`${server.url}/#token=${TOKEN}`);
    await page.waitForSelector(`.run[data-id="${rejected.runId}"]`);
    expect(await page.textContent(`.run[data-id="${rejected.runId}"] .status`)).toBe('AWAITING_APPROVAL');
    await page.click(`.run[data-id="${rejected.runId}"]`);
    const box = page.locator(`.approval[data-call="${rejected.pendingApprovals[0]?.toolCallId}"]`);
    await box.waitFor();
    expect(await box.textContent()).toContain('calculator');
    expect(await box.locator('pre').textContent()).toContain('17 * 23');
    await box.locator('input.reason').fill('no arithmetic today');
    await box.locator('button[data-decision="reject"]').click();
    await page.waitForSelector('.approval .outcome:text("rejected")');
    const afterReject = await until(rejected.runId, (r) => r.status !== 'AWAITING_APPROVAL' && r.status !== 'RUNNING');
    expect(afterReject.status).toBe('SUCCEEDED');
    expect(afterReject.answer).toContain('no arithmetic today');
    // The refreshed view shows the decision in the timeline and no waiting call.
    await page.waitForSelector('[data-type="approval_decided"]');
    expect(await page.textContent('[data-type="approval_decided"] .what')).toContain('rejected by approver');
    expect(await page.locator('.approval').count()).toBe(0);

    await page.click(`.run[data-id="${approved.runId}"]`);
    const second = page.locator(`.approval[data-call="${approved.pendingApprovals[0]?.toolCallId}"]`);
    await second.waitFor();
    await second.locator('button[data-decision="approve"]').click();
    const afterApprove = await until(approved.runId, (r) => r.status !== 'AWAITING_APPROVAL' && r.status !== 'RUNNING');
    expect(afterApprove.status).toBe('SUCCEEDED');
    expect(afterApprove.answer).toContain('42');
  }, 120_000);

  it('grows the timeline of a run in flight from its event stream, with no click; lists threads with their runs', async () => {
    const waiting = await waitingRun('What is 8 * 9?');
    const page = await browser.newPage();
    await page.goto(`${server.url}/#token=${TOKEN}`);
    await page.waitForSelector(`.run[data-id="${waiting.runId}"]`);
    await page.click(`.run[data-id="${waiting.runId}"]`);
    await page.waitForSelector('[data-type="approval_requested"]');
    expect(await page.locator('[data-type="tool_call"]').count()).toBe(0);
    // Decided elsewhere (the API, not the page): the open page learns it from GET /runs/{id}/events.
    await api('POST', `/runs/${waiting.runId}/approvals/${waiting.pendingApprovals[0]?.toolCallId}`, { decision: 'approve' });
    await page.waitForSelector('[data-type="tool_call"]');
    await page.waitForSelector('[data-type="run_finished"]');
    expect(await page.textContent('[data-testid="answer"]')).toContain('72');

    // A thread: listed with its runs, its conversation in order.
    const thread = (await (
      await fetch(`${server.url}/threads`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'chat' }),
      })
    ).json()) as { threadId: string };
    const { runId } = await api('POST', `/threads/${thread.threadId}/runs`, { input: 'Hi!' });
    await until(runId, (r) => r.status === 'SUCCEEDED');
    await page.click('#load-threads');
    await page.click(`.thread[data-thread="${thread.threadId}"]`);
    await page.waitForSelector(`[data-testid="conversation"] .turn[data-id="${runId}"]`);
    expect(await page.textContent('[data-testid="conversation"]')).toContain('offline demo model');
  }, 120_000);
});
