import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface AgentMonitoringProps {
  readonly stateMachine: sfn.IStateMachine;
  readonly api: apigw.RestApi;
  readonly functions: lambda.IFunction[];
  /** Namespace of the runtime's metrics (lambdas/core/metrics.ts METRICS_NAMESPACE). */
  readonly namespace: string;
  /**
   * The runtime's metric dimensions that name this stack ({service, Stack}: lambdas/runtime/base.ts): its alarms and
   * graphs read only the metrics of its own handlers.
   */
  readonly dimensions: Record<string, string>;
  /** The topic every alarm notifies, on ALARM and on OK. @default - the alarms notify nobody (a readiness finding) */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Share of finished runs that may surrender (budgets, repetition) before the alarm fires.
   * @default 0.25
   */
  readonly surrenderRateThreshold?: number;
  /**
   * Model spend in US dollars over the last 24 hours past which an alarm fires (config spend.alarmDailyUsd, else 80%
   * of spend.dailyUsdTotal).
   * @default - no spend alarm
   */
  readonly dailySpendAlarmUsd?: number;
  /** The alarms (about US$0.10 a month per metric they watch). @default true */
  readonly alarms?: boolean;
  /** The dashboard (US$3 a month beyond an account's first three). @default true */
  readonly dashboard?: boolean;
}

/**
 * Alarms and a dashboard: failed and throttled executions, an open breaker, the surrender rate, Lambda and API
 * throttles; graphs of runs, tokens, steps, fallbacks and latency from the runtime's metrics (derived from the trace).
 */
export class AgentMonitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: AgentMonitoringProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const agent = (metricName: string, statistic = 'Sum') => new cloudwatch.Metric({ namespace: props.namespace, metricName, statistic, period, dimensionsMap: props.dimensions });
    const withAlarms = props.alarms ?? true;
    const alarm = (name: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      if (!withAlarms) return;
      const a = new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${description} See docs/runbook.md.`,
      });
      if (props.alarmTopic) {
        a.addAlarmAction(new actions.SnsAction(props.alarmTopic));
        a.addOkAction(new actions.SnsAction(props.alarmTopic));
      }
      this.alarms.push(a);
    };

    alarm('ExecutionsFailed', props.stateMachine.metricFailed({ period }), 1, 'An execution failed (a real fault: guardrail stops end SUCCEEDED executions).');
    alarm(
      'ExecutionsTimedOut',
      props.stateMachine.metricTimedOut({ period }),
      1,
      'An execution ran past the machine timeout: its run is FAILED (EXECUTION_TIMED_OUT) and can be resumed.',
    );
    alarm('ExecutionsAborted', props.stateMachine.metricAborted({ period }), 1, 'An execution was stopped outside the API (console, CLI): its run is CANCELLED (ABORTED).');
    alarm('ExecutionsThrottled', props.stateMachine.metricThrottled({ period }), 1, 'Step Functions throttled executions (StartExecution or state transition quota).');
    alarm('BreakerOpen', agent('BreakerOpened'), 1, 'A circuit breaker opened: a model or tool dependency is failing.');
    const surrenderRate = new cloudwatch.MathExpression({
      expression: 'IF(finished > 0, surrenders / finished, 0)',
      usingMetrics: { surrenders: agent('Surrenders'), finished: agent('RunsFinished') },
      period,
      label: 'Surrender rate',
    });
    alarm('SurrenderRate', surrenderRate, props.surrenderRateThreshold ?? 0.25, 'Too many runs surrender on a budget or the repetition detector.');
    const lambdaThrottles = new cloudwatch.MathExpression({
      expression: props.functions.map((_, i) => `t${i}`).join(' + '),
      usingMetrics: Object.fromEntries(props.functions.map((f, i) => [`t${i}`, f.metricThrottles({ period })])),
      period,
      label: 'Lambda throttles',
    });
    alarm('LambdaThrottles', lambdaThrottles, 1, 'Agent handlers were throttled (Lambda concurrency).');
    // Spend (docs/spend.md): an admin stopped runs (the kill switch was used); model spend past a daily threshold.
    alarm('RunsKilled', agent('RunsKilled'), 1, 'An admin stopped runs (POST /admin/stop): the kill switch was used.');
    if (props.dailySpendAlarmUsd !== undefined) {
      const daily = new cloudwatch.Metric({
        namespace: props.namespace,
        metricName: 'ModelCostMicroUsd',
        statistic: 'Sum',
        period: Duration.days(1),
        dimensionsMap: props.dimensions,
      });
      alarm(
        'DailySpend',
        daily,
        Math.round(props.dailySpendAlarmUsd * 1_000_000),
        `Model spend passed $${props.dailySpendAlarmUsd} in the last 24 hours (metric in micro-dollars).`,
      );
    }
    alarm('ApiThrottlesAndClientErrors', props.api.metricClientError({ period }), 50, 'Many 4xx answers, throttling (429) included.');

    if (props.dashboard === false) return;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'Runs finished and surrenders', left: [agent('RunsFinished'), agent('Surrenders')], width: 12 }),
          new cloudwatch.GraphWidget({ title: 'Tokens', left: [agent('ModelInputTokens'), agent('ModelOutputTokens')], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Fallbacks and breaker opens', left: [agent('Fallbacks'), agent('BreakerOpened')], width: 12 }),
          new cloudwatch.GraphWidget({ title: 'Latency (p90)', left: [agent('ModelLatency', 'p90'), agent('ToolLatency', 'p90')], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Model spend (micro-dollars)', left: [agent('ModelCostMicroUsd')], width: 12 }),
          new cloudwatch.GraphWidget({ title: 'Runs killed by admins', left: [agent('RunsKilled')], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Executions',
            left: [
              props.stateMachine.metricSucceeded({ period }),
              props.stateMachine.metricFailed({ period }),
              props.stateMachine.metricTimedOut({ period }),
              props.stateMachine.metricAborted({ period }),
              props.stateMachine.metricThrottled({ period }),
            ],
            width: 12,
          }),
          ...(this.alarms.length ? [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 12 })] : []),
        ],
      ],
    });
  }
}
