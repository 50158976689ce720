import type { LocalEngine } from '../../local/engine';
import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { testEngine } from '../helpers/engine';

/** The user prompt of a model request (each run has its own). */
const promptOf = (body: Record<string, unknown>) => String((body.messages as { role: string; content: unknown }[]).find((m) => m.role === 'user')?.content);

/**
 * Races of many runs on one engine (one config, synthesized once).
 *
 * Issue 31 item 3: no provider request after the run is final. Many runs loop on a quick model; they are cancelled
 * (or stopped by an admin) at random points of their steps; every model request that reaches the provider after the
 * run's terminal write is counted: there must be none (the model step reads the run again right before it sends).
 */
describe('no model request reaches the provider after a run is stopped', () => {
  let model: FakeProvider;
  let engine: LocalEngine;
  /** Arrival times of model requests, per run (by prompt). */
  const arrivals = new Map<string, number[]>();

  beforeAll(async () => {
    model = await startFakeProvider('openai');
    // Never finishes on its own: a calculator call per step, a new expression each time.
    model.respondWith((body) => {
      const prompt = promptOf(body);
      arrivals.set(prompt, [...(arrivals.get(prompt) ?? []), Date.now()]);
      const done = (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
      // biome-ignore lint/suspicious/noThenProperty: a scripted reply's follow-up, not a thenable
      return { kind: 'delay', ms: 5, then: { kind: 'tools', calls: [{ name: 'calculator', args: { expression: `${done} + 1` } }] } };
    });
    // Daily caps on ($1 a user; $0.0002 a token, ~$0.012 a call as the fake counts it): the step reads the day's
    // spend between its first look at the run and the request.
    engine = await testEngine({
      models: { primary: { provider: 'openai', model: 'quick', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 5000 } },
      budgets: { maxSteps: 50 },
      pricing: { quick: { inputPerMTokUsd: 200, outputPerMTokUsd: 200 } },
      spend: { dailyUsdPerUser: 1 },
    });
  });
  afterAll(async () => {
    await engine.close();
    await model.close();
  });

  it.each([
    ['cancelled by their owner', 'CANCELLED', 10],
    ['stopped by an admin', 'KILLED', 12],
  ] as const)(
    '%s: 0 provider requests after the terminal write',
    async (_what, reason, n) => {
      const ids = Array.from({ length: n }, (_, i) => `${reason}-${i}`);
      // One user per run: the stops, not the daily cap, end these runs.
      const finished = ids.map((runId) => engine.run({ input: `prompt of ${runId}`, runId, userId: runId }).catch(() => undefined));
      // Each run is stopped once it has made one to three requests: the stops land anywhere in a step.
      const deadline = Date.now() + 30_000;
      const pending = new Set(ids);
      const stops: Promise<void>[] = [];
      while (pending.size > 0 && Date.now() < deadline) {
        for (const runId of [...pending]) {
          const made = arrivals.get(`prompt of ${runId}`)?.length ?? 0;
          if (made >= 1 + (Number(runId.split('-')[1]) % 3)) {
            pending.delete(runId);
            stops.push(engine.control.cancel(runId, reason));
          }
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      expect(pending.size).toBe(0);
      await Promise.all(stops);
      await Promise.all(finished);
      await new Promise((r) => setTimeout(r, 50)); // a request sent late would have arrived by now
      const late: { runId: string; msAfter: number }[] = [];
      for (const runId of ids) {
        const run = await engine.runtime.runs.getRun(runId);
        expect(run).toMatchObject({ status: 'CANCELLED', stopReason: reason });
        const final = Date.parse(run?.updatedAt ?? '');
        for (const t of arrivals.get(`prompt of ${runId}`) ?? []) if (t > final) late.push({ runId, msAfter: t - final });
      }
      expect(late).toEqual([]);
    },
    60_000,
  );

  it('issue 31 item 6: 20 concurrent runs of one user against a $1 daily cap spend at most $1 plus one call per run', async () => {
    const day = new Date().toISOString().slice(0, 10);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => engine.run({ input: `prompt of capped-${i}`, runId: `capped-${i}`, userId: 'capped' })));
    for (const { run } of results) expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'SPEND_LIMIT' });
    const costs: number[] = [];
    for (const { runId } of results) {
      for (const e of await engine.runtime.runs.listEvents(runId)) if (e.type === 'model_call' && typeof e.costUsd === 'number') costs.push(e.costUsd);
    }
    const spent = (await engine.runtime.spend?.today('capped', day))?.userMicros ?? 0;
    expect(spent / 1e6).toBeCloseTo(
      costs.reduce((a, c) => a + c, 0),
      6,
    );
    expect(spent / 1e6).toBeLessThanOrEqual(1 + 20 * Math.max(...costs));
  }, 60_000);
});
