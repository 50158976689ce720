import { Match, Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../lib/config';
import { type Loopback, startLoopback } from '../../testing/loopback';
import { templateFor, testEngine } from '../helpers/engine';

describe('Langfuse export', () => {
  let langfuse: Loopback;
  beforeAll(async () => {
    langfuse = await startLoopback();
    langfuse.on('/api/public/ingestion', (_req, res) => {
      res.writeHead(207, { 'content-type': 'application/json' });
      res.end('{"successes":[],"errors":[]}');
    });
    process.env.LF_PUBLIC = 'pk-lf-test';
    process.env.LF_SECRET = 'sk-lf-test';
  });
  afterAll(async () => langfuse.close());

  it('exports a finished run: trace with userId and sessionId, a generation per model call, a span per tool call', async () => {
    const engine = await testEngine({ observability: { langfuse: { baseUrl: langfuse.url(''), publicKeyEnv: 'LF_PUBLIC', secretKeyEnv: 'LF_SECRET' } } });
    try {
      const { run } = await engine.run({ input: 'What is 17 * 23, and how does the circuit breaker work?', userId: 'user-7' });
      // Driven by the table's stream through the template's filters: the terminal run item and the run_finished
      // event (in one batch or two); the last export holds the whole trace.
      expect(langfuse.requests.length).toBeGreaterThanOrEqual(1);
      expect(langfuse.requests.length).toBeLessThanOrEqual(2);
      const req = langfuse.requests.at(-1)!;
      expect(req.headers.authorization).toBe(`Basic ${Buffer.from('pk-lf-test:sk-lf-test').toString('base64')}`);
      const { batch } = JSON.parse(req.body) as { batch: { type: string; body: Record<string, any> }[] };
      const trace = batch.find((e) => e.type === 'trace-create')!.body;
      expect(trace).toMatchObject({ userId: 'user-7', sessionId: run.runId, output: run.answer, input: 'What is 17 * 23, and how does the circuit breaker work?' });
      const generations = batch.filter((e) => e.type === 'generation-create').map((e) => e.body);
      expect(generations).toHaveLength(2);
      expect(generations[0]).toMatchObject({ traceId: trace.id, model: 'demo/default', usage: { unit: 'TOKENS' }, level: 'DEFAULT' });
      expect(generations[0]!.usage.input).toBeGreaterThan(0);
      const spans = batch.filter((e) => e.type === 'span-create').map((e) => e.body);
      expect(spans.map((s) => s.name).sort()).toEqual(['step 1 tool calculator', 'step 1 tool search_docs']);
      expect(spans.find((s) => s.name.includes('calculator'))).toMatchObject({ input: { expression: '17 * 23' }, output: '391' });
      expect(batch.filter((e) => e.type === 'event-create').map((e) => e.body.name)).toEqual(expect.arrayContaining(['run_started', 'run_finished']));
      // Ids are deterministic: a re-export updates, never duplicates.
      expect(new Set(batch.map((e) => e.body.id)).size).toBe(batch.length);
    } finally {
      await engine.close();
    }
  });

  it('with `secret`, the exporter reads the keys from Secrets Manager (offline: the local endpoint, as its own function)', async () => {
    const engine = await testEngine(
      { observability: { langfuse: { baseUrl: langfuse.url(''), secret: 'agent/langfuse' } } },
      { secrets: { 'agent/langfuse': '{"publicKey":"pk-from-secret","secretKey":"sk-from-secret"}' } },
    );
    try {
      const before = langfuse.requests.length;
      await engine.run({ input: 'What is 17 * 23?' });
      await engine.streamIdle();
      expect(langfuse.requests.length).toBeGreaterThan(before);
      expect(langfuse.requests.at(-1)?.headers.authorization).toBe(`Basic ${Buffer.from('pk-from-secret:sk-from-secret').toString('base64')}`);
      const exporter = [...engine.iam.used.entries()].find(([role]) => role.startsWith('ExportTrace'));
      expect(exporter?.[1]).toContain('secretsmanager:GetSecretValue');
    } finally {
      await engine.close();
    }
  }, 60_000);

  it('deploys an exporter fed by the table stream when configured', () => {
    const template = Template.fromJSON(templateFor(parseConfig({ observability: { langfuse: { baseUrl: 'https://langfuse.example.com', secret: 'agent/langfuse' } } })));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      StartingPosition: 'LATEST',
      FilterCriteria: { Filters: [{ Pattern: Match.stringLikeRegexp('META') }, { Pattern: Match.stringLikeRegexp('run_finished') }] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ HANDLER_NAME: 'export-trace' }) } });
  });
});
