import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../../../lambdas/core/metrics';
import { metricsFor, optionsFromEnv } from '../../../lambdas/runtime/base';

describe('the handlers’ metrics', () => {
  it('carry the stack’s name: the dimensions {service, Stack} its alarms filter on (lib/monitoring.ts)', () => {
    const metrics = metricsFor('AgentA');
    metrics.addMetric('BreakerOpened', MetricUnit.Count, 1);
    const emf = metrics.serializeMetrics() as unknown as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } };
    expect(emf._aws.CloudWatchMetrics[0]?.Namespace).toBe(METRICS_NAMESPACE);
    expect([...(emf._aws.CloudWatchMetrics[0]?.Dimensions[0] ?? [])].sort()).toEqual(['Stack', 'service']);
    expect(emf).toMatchObject({ service: 'agent', Stack: 'AgentA', BreakerOpened: 1 });
  });

  it('a handler without its stack’s name fails at start, naming the variable', () => {
    expect(() => optionsFromEnv({ TABLE_NAME: 't' })).toThrow('Environment variable AGENT_STACK_NAME is missing');
  });
});
