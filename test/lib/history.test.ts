import { App } from 'aws-cdk-lib';
import { AgentStack } from '../../lib/agent-stack';
import { parseConfig } from '../../lib/config';
import { HISTORY_LIMIT, worstCaseEventsPerStep, worstCaseHistoryEvents } from '../../lib/history';

describe('the execution history limit', () => {
  it('leaves the default deployment far below 25,000 events', () => {
    const config = parseConfig({});
    expect(worstCaseEventsPerStep(config)).toBeGreaterThan(100);
    expect(worstCaseHistoryEvents(config)).toBeLessThan(HISTORY_LIMIT / 2);
  });

  it('refuses at synth a step budget that could run into the limit, naming the numbers', () => {
    const config = parseConfig({
      budgets: { maxSteps: 400, allowHighStepBudget: true },
      models: { primary: { provider: 'demo', model: 'default' }, fallback: { provider: 'demo', model: 'default' } },
    });
    expect(() => new AgentStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S', { config })).toThrow(
      /budgets\.maxSteps 400 could write \d+ history events .* at most 25000: lower maxSteps to \d+ or fewer/,
    );
  });

  it('lets a high but safe budget through when explicitly allowed', () => {
    const config = parseConfig({ budgets: { maxSteps: 100, allowHighStepBudget: true, maxToolCallsPerStep: 4 } });
    expect(worstCaseHistoryEvents(config)).toBeLessThanOrEqual(HISTORY_LIMIT);
  });
});
