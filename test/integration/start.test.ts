import type { LocalEngine } from '../../local/engine';
import { SfnError } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { testEngine } from '../helpers/engine';

const TOKEN = 'token-start-0123456789abcdef';

/** Starting a run is all or nothing from the client's view (issue 21 item 3), through the local API and engine. */
describe('starting a run', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  const post = (key: string) =>
    fetch(`${server.url}/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ input: 'What is 12.5% of 3480?' }),
    });
  beforeAll(async () => {
    engine = await testEngine({ localTokens: { [TOKEN]: 'starter' } });
    server = await startServer(engine, { port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
  });

  it('a start that fails: 503 the client may retry, the run FAILED (START_FAILED); the retry with the same key starts for real', async () => {
    // The local Step Functions service (what the API's StartExecution reaches through the SDK) is down.
    const original = engine.stepFunctions.startExecution.bind(engine.stepFunctions);
    engine.stepFunctions.startExecution = () => {
      throw new SfnError('ServiceUnavailable', 'Step Functions is unavailable');
    };
    let failedRes: Response;
    try {
      failedRes = await post('key-1');
    } finally {
      engine.stepFunctions.startExecution = original;
    }
    expect(failedRes.status).toBe(503);
    expect(((await failedRes.json()) as { error: { code: string } }).error.code).toBe('START_FAILED');
    const { runs } = (await (await fetch(`${server.url}/runs`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      runs: { runId: string; status: string; stopReason: string }[];
    };
    expect(runs).toEqual([expect.objectContaining({ status: 'FAILED', stopReason: 'START_FAILED' })]);

    const retry = await post('key-1');
    expect(retry.status).toBe(202);
    const { runId } = (await retry.json()) as { runId: string };
    expect(runId).not.toBe(runs[0]?.runId);
    const { run } = await engine.execute(runId, 'starter');
    expect(run.status).toBe('SUCCEEDED');
    // The key now names the started run.
    const again = await post('key-1');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ runId });
  });
});
