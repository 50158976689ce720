import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { testEngine } from '../helpers/engine';

/**
 * A provider outage: the primary fails every request. With the breaker, the provider sees at most the threshold plus
 * one probe per cool-down, every run still ends DEGRADED through the fallback model, and after the provider recovers
 * the probe closes the breaker. Without it, every run retries into the outage.
 */
// The breaker opens within the first run (threshold 5; 2 steps × 3 attempts): six runs show the cap as well as ten.
const RUNS = 6;

async function outage(primary: FakeProvider, breakerEnabled: boolean) {
  const engine = await testEngine({
    models: {
      primary: { provider: 'openai', model: 'primary', contextWindowTokens: 128_000, baseUrl: primary.baseUrl, timeoutMs: 1000 },
      fallback: { provider: 'demo', model: 'default' },
    },
    retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 5 },
    breaker: { failureThreshold: 5, minimumCalls: 5, windowSeconds: 60, cooldownSeconds: 1, enabled: breakerEnabled },
  });
  return engine;
}

describe('a provider outage', () => {
  let primary: FakeProvider;
  beforeAll(async () => {
    primary = await startFakeProvider('openai');
  });
  afterAll(async () => primary.close());
  beforeEach(() => {
    primary.requests.length = 0;
  });

  it('the breaker keeps requests to the failing provider at threshold + one probe per cool-down, and closes after recovery', async () => {
    primary.setDefault({ kind: 'status', status: 503 });
    const engine = await outage(primary, true);
    try {
      const statuses: string[] = [];
      const started = Date.now();
      for (let i = 0; i < RUNS; i++) statuses.push((await engine.run({ input: 'What is 12.5% of 3480?' })).run.status);
      const elapsedMs = Date.now() - started;
      expect(statuses).toEqual(Array(RUNS).fill('DEGRADED'));
      const during = primary.requests.length;
      // The threshold, plus at most one probe per cool-down (1 s) that passed while the runs went on.
      expect(during).toBeGreaterThanOrEqual(5);
      expect(during).toBeLessThanOrEqual(5 + Math.floor(elapsedMs / 1000));

      // One cool-down later a probe is let through; it fails, the breaker reopens.
      await new Promise((r) => setTimeout(r, 1100));
      const probeStarted = Date.now();
      const probed = await engine.run({ input: 'What is 12.5% of 3480?' });
      expect(probed.run.status).toBe('DEGRADED');
      // One probe; another only if a whole cool-down passed during that run (a loaded machine runs it slowly).
      expect(primary.requests.length).toBeGreaterThanOrEqual(during + 1);
      expect(primary.requests.length).toBeLessThanOrEqual(during + 1 + Math.floor((Date.now() - probeStarted) / 1000));

      // The provider recovers: the next probe closes the breaker and runs succeed on the primary again.
      primary.setDefault({ kind: 'text', text: 'primary is back' });
      await new Promise((r) => setTimeout(r, 1100));
      const recovered = await engine.run({ input: 'hello' });
      expect(recovered.run).toMatchObject({ status: 'SUCCEEDED', answer: 'primary is back' });
      expect((await engine.run({ input: 'hello again' })).run.status).toBe('SUCCEEDED');
      const state = await engine.runtime.breaker.getState('model:primary');
      expect(state.state).toBe('CLOSED');
      const trace = await engine.runtime.runs.listEvents(recovered.run.runId);
      expect(trace.filter((e) => e.type === 'breaker').map((e) => `${e.from}->${e.to}`)).toEqual(['OPEN->HALF_OPEN', 'HALF_OPEN->CLOSED']);
      // eslint-disable-next-line no-console
      console.log(`outage: ${RUNS} runs, requests reaching the failing provider with the breaker: ${during}`);
    } finally {
      await engine.close();
    }
  });

  it('without the breaker every run retries into the outage', async () => {
    primary.setDefault({ kind: 'status', status: 503 });
    const engine = await outage(primary, false);
    try {
      for (let i = 0; i < RUNS; i++) expect((await engine.run({ input: 'What is 12.5% of 3480?' })).run.status).toBe('DEGRADED');
      // 2 steps per run (calculator, then the answer) × 3 attempts each.
      expect(primary.requests.length).toBe(RUNS * 2 * 3);
      // eslint-disable-next-line no-console
      console.log(`outage: ${RUNS} runs, requests reaching the failing provider without the breaker: ${primary.requests.length}`);
    } finally {
      await engine.close();
    }
  });
});
