import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../lib/config';
import { templateFor } from '../helpers/engine';

describe('monitoring', () => {
  const template = Template.fromJSON(templateFor(parseConfig({})));

  it('alarms on failed and throttled executions, an open breaker, the surrender rate and throttles', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ExecutionsFailed', Namespace: 'AWS/States', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ExecutionThrottled', Namespace: 'AWS/States' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ExecutionsTimedOut', Namespace: 'AWS/States', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ExecutionsAborted', Namespace: 'AWS/States', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'BreakerOpened', Namespace: 'Agent', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 0.25,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(finished > 0, surrenders / finished, 0)' })]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Metrics: Match.arrayWith([Match.objectLike({ Label: 'Lambda throttles' })]) });
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmDescription).toContain('docs/runbook.md');
    }
  });

  it('alarms when an admin kills runs, and on daily spend past its threshold when one is set', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RunsKilled', Namespace: 'Agent', Threshold: 1 });
    expect(Object.values(template.findResources('AWS::CloudWatch::Alarm')).some((a) => a.Properties.MetricName === 'ModelCostMicroUsd')).toBe(false);
    const capped = Template.fromJSON(templateFor(parseConfig({ spend: { dailyUsdTotal: 200 } })));
    capped.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ModelCostMicroUsd', Namespace: 'Agent', Statistic: 'Sum', Period: 86400, Threshold: 160_000_000 });
  });

  it('has a dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});

describe('docs/operations.md, the idle-cost table', () => {
  const template = templateFor(parseConfig({}));
  const alarms = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8');

  it('counts the alarms, the metrics they watch (and their price), the dashboard and the log groups of the template', () => {
    // An alarm on one metric watches one; a metric-math alarm, each metric of its expression (CloudWatch bills each).
    const metrics = alarms.reduce(
      (n, a) =>
        n + ((a.Properties as { MetricName?: string }).MetricName ? 1 : (a.Properties as { Metrics: { MetricStat?: unknown }[] }).Metrics.filter((m) => m.MetricStat).length),
      0,
    );
    const row = /\| (\d+) CloudWatch alarms watching (\d+) metrics \(US\$0\.10 per alarm metric\) \| US\$(\d+\.\d\d) \|/.exec(doc);
    expect(row?.slice(1)).toEqual([String(alarms.length), String(metrics), (metrics * 0.1).toFixed(2)]);
    const count = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type).length;
    expect(doc).toContain(`| the CloudWatch dashboard (${count('AWS::CloudWatch::Dashboard')}) |`);
    expect(doc).toContain(`log storage: ${count('AWS::Logs::LogGroup')} log groups (${count('AWS::Lambda::Function')} functions, the state machine, the API access logs)`);
  });
});
