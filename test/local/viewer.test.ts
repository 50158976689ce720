import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { launchChromium } from '../helpers/browser';
import { testEngine } from '../helpers/engine';

const TOKEN = 'token-viewer-0123456789abcdef00';
const ADMIN = 'token-viewer-admin-0123456789ab';

describe('the trace viewer, in a real browser (headless Chromium: the system one, else the npm-shipped build)', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  let browser: Browser;

  beforeAll(async () => {
    engine = await testEngine({ localTokens: { [TOKEN]: 'viewer-user' }, adminTokens: { [ADMIN]: 'viewer-admin' }, models: { primary: { provider: 'demo', model: 'default' } } });
    server = await startServer(engine, { port: 0 });
    browser = await launchChromium('trace viewer test');
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await engine?.close();
  });

  it('shows a finished run as a timeline a person can read', async () => {
    const { run } = await engine.run({ input: 'What is 17 * 23, and how does the circuit breaker work?', userId: 'viewer-user' });
    const wander = await engine.run({ input: 'What is 2 + 2?', userId: 'viewer-user', budgets: { maxSteps: 1 } });
    expect(wander.run.status).toBe('UNFINISHED');
    const page = await browser.newPage();
    await page.goto(`${server.url}/#token=${TOKEN}`);
    await page.waitForSelector(`.run[data-id="${run.runId}"]`);
    expect(await page.locator('.run').count()).toBe(2);
    await page.click(`.run[data-id="${run.runId}"]`);
    await page.waitForSelector('[data-testid="timeline"] .event');
    expect(await page.textContent('h2')).toContain('SUCCEEDED');
    expect(await page.textContent('[data-testid="steps"]')).toBe('2');
    expect(Number(await page.textContent('[data-testid="tokens-in"]'))).toBe(run.usage.inputTokens);
    // The demo model is free.
    expect(await page.textContent('[data-testid="cost"]')).toBe('0.000000');
    expect(await page.textContent('[data-testid="answer"]')).toContain('17 * 23 = 391');
    const lines = await page.locator('[data-testid="timeline"] .event .what').allTextContents();
    expect(lines.some((l) => l.includes('tool calculator → 391'))).toBe(true);
    expect(lines.some((l) => l.includes('model primary (demo/default)'))).toBe(true);
    expect(await page.locator('.bar.model').count()).toBe(2);
    expect(await page.locator('.bar.tool').count()).toBe(2);
    // Inputs and outputs expand.
    await page.locator('[data-type="tool_call"] summary').first().click();
    expect(await page.locator('[data-type="tool_call"] pre').first().textContent()).toContain('idempotencyKey');
    await page.screenshot({ path: join(tmpdir(), 'agent-viewer.png'), fullPage: true });

    // The surrendered run shows its stop reason.
    await page.click(`.run[data-id="${wander.run.runId}"]`);
    await page.waitForSelector('.marker.stop');
    expect(await page.textContent('.marker.stop')).toContain('STEP_BUDGET');
    expect(await page.textContent('h2')).toContain('UNFINISHED');
  }, 60_000);

  it('lets an admin filter any user’s runs by user and status', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/#token=${ADMIN}`);
    // Without the admin filter: the admin's own runs (none).
    await page.waitForSelector('#runs p.muted');
    await page.check('#admin-on');
    await page.fill('#f-user', 'viewer-user');
    await page.selectOption('#f-status', 'UNFINISHED');
    await page.click('#load');
    await page.waitForSelector('.run [data-testid="run-user"]');
    expect(await page.locator('.run').count()).toBe(1);
    expect(await page.textContent('.run [data-testid="run-user"]')).toBe('viewer-user');
    expect(await page.textContent('.run .status')).toBe('UNFINISHED');
  }, 60_000);
});
