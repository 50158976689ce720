import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliCommand } from '../../bin/cli/common';
import { evalCommand } from '../../bin/cli/eval';
import { runSuiteRemote } from '../../bin/cli/eval-remote';
import { runCommand } from '../../bin/cli/run';
import { parseSuite } from '../../lambdas/core/eval';
import { loadConfig, parseConfig } from '../../lib/config';
import type { LocalEngine } from '../../local/engine';
import { runSuiteOffline } from '../../local/eval';
import { type LocalServer, startServer } from '../../local/server';
import { type FakeProvider, startFakeOpenAI } from '../../testing/fake-providers';
import { agent } from '../helpers/cli';
import { templateFor, testEngine } from '../helpers/engine';

const SUITE = [
  { id: 'mul', input: 'What is 6 * 7?', expect: { status: 'SUCCEEDED', contains: '42', toolsCalled: ['calculator'] } },
  { id: 'pct', input: 'What is 12.5% of 3480?', expect: { contains: '435' } },
  { id: 'impossible', input: 'What is 2 + 2?', expect: { contains: 'five' } },
]
  .map((c) => JSON.stringify(c))
  .join('\n');

/** A CLI command run in this process (the same code the CLI runs, without a process per call), its stdout captured. */
async function inProcess(command: CliCommand, config: ReturnType<typeof parseConfig>, positionals: string[], values: Record<string, string | boolean>) {
  let stdout = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await command.run({ config, positionals, values });
    return { code, stdout };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
const evalInProcess = (config: ReturnType<typeof parseConfig>, positionals: string[], values: Record<string, string | boolean>) =>
  inProcess(evalCommand, config, positionals, values);

describe('agent eval', () => {
  let dir: string;
  let suite: string;
  const defaults = loadConfig('agent.config.json');
  const wander = loadConfig('examples/wander.json');
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-eval-'));
    suite = join(dir, 'suite.jsonl');
    writeFileSync(suite, `${SUITE}\n`);
    // The child process and the in-process command find these templates in the cache.
    templateFor(defaults);
    templateFor(wander);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints 2/3 with the failed expectation named, writes report.json, report.md and the traces, and exits 1', async () => {
    const out = join(dir, 'out');
    const res = await agent(['eval', suite, '--out', out, '--concurrency', '3']);
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(/impossible +FAIL .*contains: the answer does not contain "five"/);
    expect(res.stdout).toContain('2/3 passed (66.7%)');
    expect(res.stdout).toContain('FAILED: pass rate 66.7% is below --min-pass 100%');
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report).toMatchObject({
      total: 3,
      passed: 2,
      ok: false,
      cases: [
        { id: 'mul', passed: true },
        { id: 'pct', passed: true },
        { id: 'impossible', passed: false, failures: [{ expectation: 'contains' }] },
      ],
    });
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/\| impossible \| FAIL \|.*\| contains: the answer does not contain "five"/);
    const trace = JSON.parse(readFileSync(join(out, 'traces', 'candidate', 'mul.json'), 'utf8'));
    expect(trace.run).toMatchObject({ status: 'SUCCEEDED', runId: report.cases[0].runId });
    expect(trace.events.map((e: { type: string }) => e.type)).toContain('tool_call');
    // The runs themselves, for `agent serve --data <out>/data/candidate` and the viewer.
    expect(existsSync(join(out, 'data', 'candidate'))).toBe(true);
    // A written trace is a recorded run `eval add --file` turns into a case.
    const added = join(dir, 'from-file.jsonl');
    expect((await evalInProcess(defaults, ['add'], { suite: added, file: join(out, 'traces', 'candidate', 'mul.json') })).code).toBe(0);
    expect(parseSuite(readFileSync(added, 'utf8'))).toEqual([
      expect.objectContaining({
        id: `run-${trace.run.runId}`,
        input: 'What is 6 * 7?',
        fixtures: [{ tool: 'calculator', arguments: { expression: '6 * 7' }, result: '42' }],
        expect: { status: 'SUCCEEDED' },
      }),
    ]);
  }, 120_000);

  it('exits 0 with --min-pass 0.6, and --json prints the report', async () => {
    const { code, stdout } = await evalInProcess(defaults, [suite], { 'min-pass': '0.6', json: true });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ total: 3, passed: 2, passRate: 2 / 3, ok: true, minPass: 0.6 });
  }, 60_000);

  it('exits 1 when the candidate passes fewer cases than --baseline, both columns in the JSON', async () => {
    // The wandering model never answers: the case the baseline passes, the candidate fails.
    const two = join(dir, 'two.jsonl');
    writeFileSync(
      two,
      `${SUITE.split('\n')
        .filter((l) => !l.includes('"pct"'))
        .join('\n')}\n`,
    );
    const { code, stdout } = await evalInProcess(wander, [two], { baseline: 'agent.config.json', 'min-pass': '0', json: true });
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ passed: 0, ok: false, baseline: { config: 'agent.config.json', passed: 1, total: 2 } });
    expect(report.reasons).toEqual(['the candidate passes 0 case(s), the baseline 1']);
    expect(report.changed).toEqual([{ id: 'mul', baseline: 'pass', candidate: 'fail' }]);
    expect(report.steps).toBeGreaterThan(report.baseline.steps);
    for (const r of [report, report.baseline]) expect(Object.keys(r)).toEqual(expect.arrayContaining(['passRate', 'usage', 'p50Seconds', 'p95Seconds', 'cases']));
  }, 60_000);

  it('agent run, then agent eval add <runId> with no server: a case that passes on the config that produced it, its tool results as fixtures', async () => {
    const data = join(dir, 'data');
    // PORT 9: no local server answers, so both commands use the data dir.
    const local = { data, port: '9' };
    const ran = await inProcess(runCommand, defaults, ['What is 12.5% of 3480?'], { ...local, json: true });
    expect(ran.code).toBe(0);
    const { runId, answer } = JSON.parse(ran.stdout);
    const added = join(dir, 'regressions.jsonl');
    expect((await evalInProcess(defaults, ['add', runId], { ...local, suite: added })).code).toBe(0);
    const cases = parseSuite(readFileSync(added, 'utf8'));
    expect(cases).toEqual([
      {
        id: `run-${runId}`,
        input: 'What is 12.5% of 3480?',
        fixtures: [{ tool: 'calculator', arguments: { expression: '12.5% of 3480' }, result: '435' }],
        reference: answer,
        expect: { status: 'SUCCEEDED' },
      },
    ]);
    const { code, stdout } = await evalInProcess(defaults, [added], { json: true });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ total: 1, passed: 1, cases: [{ id: `run-${runId}`, passed: true, status: 'SUCCEEDED' }] });
  }, 60_000);

  it('refuses bad options and a bad suite line before running anything, saying what is allowed', async () => {
    await expect(evalInProcess(defaults, [suite], { 'min-pass': '2' })).rejects.toThrow('--min-pass must be a number from 0 to 1');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ input: 'x', expect: { equals: 'y' } })}\n`);
    await expect(evalInProcess(defaults, [bad], {})).rejects.toThrow(`${bad} line 1: expect: unknown field(s) "equals"; allowed: status, contains`);
    await expect(evalInProcess(defaults, [], {})).rejects.toThrow('agent eval needs a suite');
    await expect(evalInProcess(defaults, [suite], { api: 'http://127.0.0.1:9', baseline: 'agent.config.json' })).rejects.toThrow('--baseline compares two configs offline');
  });
});

describe('agent eval against an API: eval add, --api, the judge', () => {
  const TOKEN = 'token-cli-user-0123456789abcdef';
  let engine: LocalEngine;
  let server: LocalServer;
  let judge: FakeProvider;
  let dir: string;
  const config = { localTokens: { [TOKEN]: 'cli-user' } };
  beforeAll(async () => {
    engine = await testEngine(config);
    server = await startServer(engine, { port: 0 });
    judge = await startFakeOpenAI();
    dir = mkdtempSync(join(tmpdir(), 'agent-eval-add-'));
  }, 120_000);
  afterAll(async () => {
    await server.close();
    await engine.close();
    await judge.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--api: appends a case made from a run of the stack, which passes on its config, its tool results as fixtures', async () => {
    const { run } = await engine.run({ input: 'What is 12.5% of 3480?', userId: 'cli-user' });
    const suite = join(dir, 'added.jsonl');
    const res = await evalInProcess(parseConfig(config), ['add', run.runId], { suite, api: server.url, token: TOKEN });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`added case run-${run.runId}`);
    const [made, ...more] = parseSuite(readFileSync(suite, 'utf8'));
    expect(more).toEqual([]);
    expect(made).toMatchObject({
      input: 'What is 12.5% of 3480?',
      fixtures: [{ tool: 'calculator', arguments: { expression: '12.5% of 3480' }, result: '435' }],
      expect: { status: 'SUCCEEDED' },
    });
    expect(made?.reference).toBe(run.answer);
    const parsed = parseConfig(config);
    const [replayed] = await runSuiteOffline({
      config: parsed,
      cases: [made as NonNullable<typeof made>],
      concurrency: 1,
      engine: { template: templateFor(parsed) },
      knobs: { retryScale: 0 },
    });
    expect(replayed?.result).toMatchObject({ passed: true, failures: [] });
    // The same run twice is refused (ids are unique in a suite).
    await expect(evalInProcess(parseConfig(config), ['add', run.runId], { suite, api: server.url, token: TOKEN })).rejects.toThrow(`already has a case "run-${run.runId}"`);
  }, 120_000);

  it('--api: runs each case through POST /runs, judges with the configured model (its cost reported), and fails fixture cases', async () => {
    judge.script({ kind: 'text', text: 'PASS\nIt gives 42.', usage: { input: 1000, output: 100 } });
    const judgeConfig = parseConfig({ models: { primary: { provider: 'openai', model: 'gpt-4o-mini', baseUrl: judge.url } } });
    const cases = parseSuite(
      [
        { id: 'judged', input: 'What is 6 * 7?', expect: { contains: '42', judge: 'The answer gives 42.' } },
        { id: 'fixtures', input: 'What is 6 * 7?', fixtures: [], expect: {} },
      ]
        .map((c) => JSON.stringify(c))
        .join('\n'),
    );
    const runs = await runSuiteRemote({ target: { base: server.url, token: TOKEN }, config: judgeConfig, cases, concurrency: 2, pollMs: 20 });
    expect(runs[0]?.result).toMatchObject({
      passed: true,
      status: 'SUCCEEDED',
      judge: { passed: true, reason: 'It gives 42.', usage: { inputTokens: 1000, outputTokens: 100 }, costUsd: 0.00021 },
    });
    expect(runs[0]?.events.some((e) => e.type === 'tool_call')).toBe(true);
    expect(judge.requests).toHaveLength(1);
    expect(JSON.stringify(judge.requests[0]?.body)).toContain('Rubric: The answer gives 42.');
    expect(runs[1]?.result).toMatchObject({
      passed: false,
      failures: [{ expectation: 'run', message: expect.stringContaining('fixtures, which replay tool results in the offline engine only') }],
    });
  }, 60_000);

  it('agent eval --api runs the suite on the stack, labelled by its URL', async () => {
    const suite = join(dir, 'remote.jsonl');
    writeFileSync(suite, `${JSON.stringify({ id: 'pct', input: 'What is 12.5% of 3480?', expect: { contains: '435', toolsCalled: ['calculator'] } })}\n`);
    const { code, stdout } = await evalInProcess(parseConfig(config), [suite], { api: server.url, token: TOKEN, json: true });
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ config: server.url, total: 1, passed: 1, cases: [{ id: 'pct', status: 'SUCCEEDED', steps: 2 }] });
    // The run is the stack's: the API lists it for the caller.
    expect((await engine.runtime.runs.getRun(report.cases[0].runId))?.userId).toBe('cli-user');
  }, 60_000);
});
