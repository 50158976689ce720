import { type Loopback, reply, startLoopback } from '../../testing/loopback';
import { testEngine } from '../helpers/engine';

describe('retriever degradation on the synthesized machine', () => {
  let search: Loopback;
  beforeAll(async () => {
    search = await startLoopback();
  });
  afterAll(async () => search.close());

  it('answers from the external retriever when it is up', async () => {
    search.on('/search', reply(200, { results: [{ title: 'Breakers', text: 'The circuit breaker opens after five failures.' }] }));
    const engine = await testEngine({ tools: [{ name: 'retrieve', kind: 'retriever', url: search.url('/search') }] });
    try {
      const { run } = await engine.run({ input: 'How does the circuit breaker work?' });
      expect(run.status).toBe('SUCCEEDED');
      expect(run.answer).toContain('opens after five failures');
      expect(run.degraded).toEqual([]);
    } finally {
      await engine.close();
    }
  });

  it('falls back to the keyword search when the retriever is down, and says so', async () => {
    search.on('/search', reply(503, 'upstream unavailable'));
    const before = search.requests.length;
    const engine = await testEngine({ tools: [{ name: 'retrieve', kind: 'retriever', url: search.url('/search') }], retry: { maxAttempts: 2 } });
    try {
      const { run } = await engine.run({ input: 'How does the circuit breaker work?' });
      expect(search.requests.length).toBeGreaterThan(before);
      expect(run.status).toBe('DEGRADED');
      expect(run.degraded).toEqual([expect.objectContaining({ dependency: 'tool:retrieve', fallback: 'keyword' })]);
      expect(run.answer).toMatch(/^Note: the retrieve tool was unavailable \(\w+\); results came from the built-in keyword search instead\./);
      expect(run.answer?.toLowerCase()).toContain('circuit breaker');
      const trace = await engine.runtime.runs.listEvents(run.runId);
      expect(trace).toContainEqual(expect.objectContaining({ type: 'fallback', dependency: 'tool:retrieve', fallback: 'keyword' }));
    } finally {
      await engine.close();
    }
  });
});
