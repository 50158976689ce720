import type { DynamoDBRecord } from 'aws-lambda';
import { parseConfig } from '../../lib/config';
import { matchesPattern } from '../../local/events';
import { streamMappingsOf, streamTablesOf } from '../../local/streams';
import { templateFor, testEngine } from '../helpers/engine';

describe('DynamoDB beyond dynalite: streams, index lag, throttling', () => {
  it('reads the stream and the exporter mapping (with its filters) from the template', () => {
    const template = templateFor(parseConfig({ observability: { langfuse: { baseUrl: 'http://127.0.0.1:1', publicKeyEnv: 'LF_P', secretKeyEnv: 'LF_S' } } }));
    const [table] = streamTablesOf(template);
    expect(table).toMatchObject({ keys: ['pk', 'sk'], viewType: 'NEW_IMAGE' });
    const [mapping] = streamMappingsOf(template);
    expect(mapping).toMatchObject({ table: table?.name, batchSize: 10 });
    const record = (image: Record<string, { S: string }>, eventName = 'MODIFY') => ({ eventName, dynamodb: { NewImage: image } }) as unknown as DynamoDBRecord;
    const passes = (r: DynamoDBRecord) => mapping?.filters.some((f) => matchesPattern(f, r as unknown as Record<string, unknown>));
    expect(passes(record({ sk: { S: 'META' }, status: { S: 'SUCCEEDED' } }))).toBe(true);
    expect(passes(record({ sk: { S: 'META' }, status: { S: 'RUNNING' } }))).toBe(false);
    expect(passes(record({ sk: { S: 'EVT#1' }, type: { S: 'run_finished' } }, 'INSERT'))).toBe(true);
    expect(passes(record({ sk: { S: 'EVT#1' }, type: { S: 'model_call' } }, 'INSERT'))).toBe(false);
  });

  it('survives throttling (the SDK retries it) and index lag: the run finishes, the listing by user shows it eventually', async () => {
    let requests = 0;
    const throttled: string[] = [];
    const engine = await testEngine(
      {},
      {
        dynamoFaults: {
          // Every 4th request is throttled, at most 6 of them: never twice in a row, so the SDK's retries get through.
          throttle: (operation) => {
            requests++;
            if (requests % 4 !== 0 || throttled.length >= 6) return false;
            throttled.push(operation);
            return true;
          },
          indexLagMs: 1500,
        },
      },
    );
    try {
      const { run } = await engine.run({ input: 'What is 17 * 23?', userId: 'lagging-user' });
      expect(run.status).toBe('SUCCEEDED');
      expect(throttled.length).toBe(6);
      // The index has not caught up yet: it shows the run as it stood before its last writes; then as it is.
      const listed = async () => (await engine.runtime.runs.listRunsByUser('lagging-user', { limit: 10 })).runs.find((r) => r.runId === run.runId)?.status;
      expect(await listed()).toBe('RUNNING');
      let seen: string | undefined;
      for (let i = 0; i < 40 && seen !== 'SUCCEEDED'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = await listed();
      }
      expect(seen).toBe('SUCCEEDED');
    } finally {
      await engine.close();
    }
  });
});
