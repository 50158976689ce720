import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { EXECUTION_RETENTION_MS, ExecutionArchive } from '../../local/execution-archive';
import type { Revision } from '../../local/versions';
import { testEngine } from '../helpers/engine';

const client = (endpoint: string) => new SFNClient({ endpoint, region: 'local', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });

describe('closed executions outlive a restart (Step Functions keeps them 90 days)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-archive-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a finished execution still answers DescribeExecution, ListExecutions and GetExecutionHistory after the engine restarts on its data dir', async () => {
    const first = await testEngine({}, { dataDir: dir });
    let executionArn: string;
    let historyEventCount: number;
    try {
      const result = await first.run({ input: 'What is 2+2?', runId: 'kept' });
      expect(result.run.status).toBe('SUCCEEDED');
      historyEventCount = result.historyEventCount;
      executionArn = [...first.executions.values()].find((e) => e.name === 'kept')?.executionArn ?? '';
    } finally {
      await first.close();
    }
    const second = await testEngine({}, { dataDir: dir });
    const sfn = client(second.sfnApi.url);
    try {
      await expect(sfn.send(new DescribeExecutionCommand({ executionArn }))).resolves.toMatchObject({ name: 'kept', status: 'SUCCEEDED', stopDate: expect.any(Date) });
      const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn: second.stateMachineArn, statusFilter: 'SUCCEEDED' }));
      expect(executions?.map((e) => e.executionArn)).toContain(executionArn);
      const { events } = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
      expect(events).toHaveLength(historyEventCount);
      expect(events?.at(-1)?.type).toBe('ExecutionSucceeded');
    } finally {
      sfn.destroy();
      await second.close();
    }
  });

  it('skips a line cut short by a crash and executions older than 90 days', () => {
    const file = join(dir, 'unit.jsonl');
    const now = Date.parse('2026-12-07T00:00:00Z');
    const line = (name: string, stopDate: string) =>
      `${JSON.stringify({ executionArn: `arn:e:${name}`, name, status: 'SUCCEEDED', startDate: stopDate, stopDate, history: [], historyEventCount: 0, taskCalls: [] })}\n`;
    writeFileSync(file, line('recent', new Date(now - 1000).toISOString()));
    appendFileSync(file, line('old', new Date(now - EXECUTION_RETENTION_MS - 1000).toISOString()));
    appendFileSync(file, '{"executionArn": "arn:e:cut');
    const loaded = new ExecutionArchive(file, () => now).load({} as Revision);
    expect(loaded.map((e) => e.name)).toEqual(['recent']);
    expect(loaded[0]?.stopDate).toEqual(new Date(now - 1000));
  });
});
