import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AgentConfigInput, parseConfig } from '../lib/config';
import { LocalEngine } from '../local/engine';

/** Records the traces CI replays (test/fixtures/traces): `tsx scripts/record-traces.ts`. */
const scenarios: { name: string; config: AgentConfigInput; input: string; budgets?: { maxSteps?: number } }[] = [
  { name: 'calculator', config: {}, input: 'What is 12.5% of 3480?' },
  { name: 'two-tools', config: {}, input: 'What is 17 * 23, and how does the circuit breaker work?' },
  { name: 'wander-step-budget', config: { models: { primary: { provider: 'demo', model: 'wander' } } }, input: 'Explore the budgets.', budgets: { maxSteps: 3 } },
  { name: 'repeat-repetition', config: { models: { primary: { provider: 'demo', model: 'repeat' } } }, input: 'How do retries work?' },
  {
    name: 'primary-down-fallback',
    config: { models: { primary: { provider: 'demo', model: 'fail' }, fallback: { provider: 'demo', model: 'default' } }, breaker: { enabled: false } },
    input: 'What is 2 + 3?',
  },
];

async function main(): Promise<void> {
  for (const s of scenarios) {
    const engine = await LocalEngine.start({ config: parseConfig(s.config) }, { retryScale: 0 });
    try {
      const { run } = await engine.run({ input: s.input, budgets: s.budgets, runId: `fixture-${s.name}` });
      const events = await engine.runtime.runs.listEvents(run.runId);
      writeFileSync(join(__dirname, '..', 'test', 'fixtures', 'traces', `${s.name}.json`), `${JSON.stringify({ run, events }, null, 1)}\n`);
      process.stdout.write(`${s.name}: ${run.status} ${run.stopReason ?? ''} (${events.length} events)\n`);
    } finally {
      await engine.close();
    }
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
