import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordedRun } from '../../lambdas/core/replay';
import { parseConfig } from '../../lib/config';
import { replayRun } from '../../local/replay';

const dir = join(__dirname, '..', 'fixtures', 'traces');
const load = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as RecordedRun;
/** The deployment the fixtures were recorded on (demo models; the recording serves every output). */
const config = parseConfig({ models: { primary: { provider: 'demo', model: 'default' }, fallback: { provider: 'demo', model: 'default' } } });

describe('replay of recorded traces through the current definition', () => {
  const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));
  it('has the recorded traces', () => expect(fixtures.length).toBeGreaterThanOrEqual(5));

  it.each(fixtures)('%s replays on the same path', async (name) => {
    const recorded = load(name);
    const { verdict, replayed } = await replayRun(recorded, config);
    expect(verdict).toEqual({ matched: true });
    expect(replayed.status).toBe(recorded.run.status);
    expect(replayed.stopReason).toBe(recorded.run.stopReason);
    expect(replayed.steps).toBe(recorded.run.steps);
  });

  it('fails when the definition would take another path (here: the repeated call no longer repeats)', async () => {
    const recorded = load('repeat-repetition.json');
    const tampered = structuredClone(recorded);
    const step2 = tampered.events.find((e) => e.type === 'model_call' && e.step === 2) as unknown as { output: { toolCalls: { arguments: unknown }[] } };
    step2.output.toolCalls[0]!.arguments = { query: 'something else', k: 2 };
    const { verdict } = await replayRun(tampered, config);
    expect(verdict.matched).toBe(false);
    expect((verdict as { reason: string }).reason).toMatch(/recorded UNFINISHED\/REPETITION|step \d/);
  });

  it('compares paths step by step and names the first difference', async () => {
    const { comparePaths, pathOf } = await import('../../lambdas/core/replay');
    const recorded = load('wander-step-budget.json');
    const tampered = structuredClone(recorded);
    const step2 = tampered.events.find((e) => e.type === 'model_call' && e.step === 2) as unknown as { output: { toolCalls: { arguments: unknown }[] } };
    step2.output.toolCalls[0]!.arguments = { query: 'something else' };
    const diff = comparePaths(pathOf(recorded.events, recorded.run), pathOf(tampered.events, tampered.run));
    expect(diff).toMatchObject({ matched: false, step: 2 });
    expect((diff as { reason: string }).reason).toContain('something else');
  });

  it('reports a different ending as a divergence', async () => {
    const recorded = load('calculator.json');
    const { verdict } = await replayRun({ ...recorded, run: { ...recorded.run, status: 'UNFINISHED', stopReason: 'STEP_BUDGET' } }, config);
    expect(verdict).toMatchObject({ matched: false, reason: 'recorded UNFINISHED/STEP_BUDGET, replayed SUCCEEDED/null' });
  });
});
