import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DescribeStateMachineAliasCommand } from '@aws-sdk/client-sfn';
import { parseConfig } from '../../lib/config';
import type { LocalEngine } from '../../local/engine';
import { planRollback, regionOfAliasArn, rollback } from '../../scripts/rollback';
import { templateFor, testEngine } from '../helpers/engine';

const SM = 'arn:aws:states:local:000000000000:stateMachine:M';
const ALIAS = `${SM}:live`;
const v = (n: number) => `${SM}:${n}`;

describe('planRollback', () => {
  it('goes back to the newest version older than the one the alias points at', () => {
    expect(planRollback(ALIAS, [{ stateMachineVersionArn: v(3), weight: 100 }], [v(4), v(3), v(2), v(1)]).to).toBe(v(2));
  });

  it('ends a canary on the version it started from', () => {
    const canary = [
      { stateMachineVersionArn: v(2), weight: 90 },
      { stateMachineVersionArn: v(3), weight: 10 },
    ];
    expect(planRollback(ALIAS, canary, [v(3), v(2), v(1)]).to).toBe(v(2));
  });

  it('takes an explicit version by number or ARN, and refuses one that was never published', () => {
    expect(planRollback(ALIAS, [{ stateMachineVersionArn: v(3), weight: 100 }], [v(3), v(2), v(1)], '1').to).toBe(v(1));
    expect(planRollback(ALIAS, [{ stateMachineVersionArn: v(1), weight: 100 }], [v(3), v(2), v(1)], v(3)).to).toBe(v(3));
    expect(() => planRollback(ALIAS, [{ stateMachineVersionArn: v(3), weight: 100 }], [v(3), v(2)], '7')).toThrow('version 7 is not a published version');
  });

  it('says so when there is nothing older', () => {
    expect(() => planRollback(ALIAS, [{ stateMachineVersionArn: v(1), weight: 100 }], [v(1)])).toThrow('nothing to roll back to');
  });
});

describe('npm run rollback against the local Step Functions API', () => {
  let engine: LocalEngine;
  afterAll(async () => engine?.close());

  it('points the alias back at the previous version: new runs start there, a run in flight stays on its version', async () => {
    engine = await testEngine({});
    engine.deploy(templateFor(parseConfig({ models: { primary: { provider: 'demo', model: 'wander' } } })));
    // In flight on v2 when the rollback happens.
    await engine.runtime.runs.createRun({ runId: 'on-v2', userId: 'local', input: 'What is 12.5% of 3480?', maxSteps: 3, maxTokens: 100_000 });
    await engine.runtime.runs.updateRun('on-v2', { pauseRequested: true });
    const inFlight = engine.execute('on-v2', 'local');
    for (let i = 0; i < 500 && (await engine.runtime.runs.getRun('on-v2'))?.status !== 'PAUSED'; i++) await new Promise((r) => setTimeout(r, 10));

    const dry = await rollback(engine.sfn, { aliasArn: engine.startArn, dryRun: true });
    expect(dry.to).toBe(`${engine.stateMachineArn}:1`);
    expect((await engine.sfn.send(new DescribeStateMachineAliasCommand({ stateMachineAliasArn: engine.startArn }))).routingConfiguration?.[0]?.stateMachineVersionArn).toBe(
      `${engine.stateMachineArn}:2`,
    );

    const plan = await rollback(engine.sfn, { aliasArn: engine.startArn });
    expect(plan.from).toEqual([{ stateMachineVersionArn: `${engine.stateMachineArn}:2`, weight: 100 }]);
    const alias = await engine.sfn.send(new DescribeStateMachineAliasCommand({ stateMachineAliasArn: engine.startArn }));
    expect(alias.routingConfiguration).toEqual([{ stateMachineVersionArn: `${engine.stateMachineArn}:1`, weight: 100 }]);

    const fresh = await engine.run({ input: 'What is 12.5% of 3480?' });
    expect(fresh.run).toMatchObject({ status: 'SUCCEEDED', answer: expect.stringContaining('435') });

    await engine.control.resume('on-v2');
    const old = await inFlight;
    expect(old.run).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET' });
    const executionArn = `arn:aws:states:local:000000000000:execution:${engine.stateMachineName}:on-v2`;
    expect(engine.describeExecution(executionArn).stateMachineVersionArn).toBe(`${engine.stateMachineArn}:2`);
  });

  it('as typed, with no region in the environment: the alias ARN gives it', async () => {
    // The same engine, its alias now on version 1 with version 2 published: the dry run plans 1 → nothing older, so --to 2.
    const out = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, AWS_ENDPOINT_URL_SFN: engine.sfnApi.url, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
      for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE']) delete env[name];
      const proc = spawn('npm', ['run', '--silent', 'rollback', '--', '--alias', engine.startArn, '--to', '2', '--dry-run'], { cwd: join(__dirname, '..', '..'), env });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      proc.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      proc.on('exit', (status) => resolve({ status, stdout, stderr }));
    });
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain(`would point ${engine.startArn} from version 1 (100%) to version 2 (100%)`);
    expect(out.status).toBe(0);
  }, 60_000);
});

describe('regionOfAliasArn', () => {
  it('is the region the alias ARN names (no AWS_REGION needed)', () => {
    expect(regionOfAliasArn('arn:aws:states:eu-west-1:123456789012:stateMachine:Agent:live')).toBe('eu-west-1');
    expect(regionOfAliasArn('arn:aws-cn:states:cn-north-1:123456789012:stateMachine:Agent:live')).toBe('cn-north-1');
  });

  it('refuses what is not an alias ARN, saying what is expected', () => {
    for (const bad of ['live', 'arn:aws:states:eu-west-1:123456789012:stateMachine:Agent', 'arn:aws:lambda:eu-west-1:123456789012:function:f:live']) {
      expect(() => regionOfAliasArn(bad)).toThrow('expected arn:<partition>:states:<region>:<account>:stateMachine:<name>:<alias>');
    }
  });
});
