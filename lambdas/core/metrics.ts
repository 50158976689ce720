import { assertNever, type TraceEvent } from './trace';
import type { RunStatus, StopReason } from './types';

/** CloudWatch namespace of the runtime's metrics (the alarms in lib/monitoring.ts read it). */
export const METRICS_NAMESPACE = 'Agent';

/**
 * The dimension every metric of the runtime carries, naming the stack it comes from; the stack's alarms and
 * dashboard filter on it, so two stacks in one account and region never watch each other's metrics.
 */
export const STACK_DIMENSION = 'Stack';

/** The environment variable that gives the handlers their stack's name (lib/functions.ts sets it). */
export const STACK_NAME_ENV = 'AGENT_STACK_NAME';

/** A metric point derived from a trace event. */
export interface MetricPoint {
  name: string;
  unit: 'Count' | 'Milliseconds';
  value: number;
  /** At most one dimension, so every point is cheap to publish. */
  dimension?: { name: string; value: string };
}

/**
 * The metrics of the runtime, all derived from the trace (one source of truth): tokens, steps, surrenders by
 * reason, breaker opens, fallbacks, model and tool latency, finished runs by status.
 */
export function metricsOf(e: TraceEvent): MetricPoint[] {
  switch (e.type) {
    case 'model_call': {
      const { usage, error } = e;
      return [
        { name: 'ModelCalls', unit: 'Count', value: 1, dimension: { name: 'Tier', value: String(e.tier) } },
        ...(usage
          ? [
              { name: 'ModelInputTokens', unit: 'Count' as const, value: usage.inputTokens ?? 0 },
              { name: 'ModelOutputTokens', unit: 'Count' as const, value: usage.outputTokens ?? 0 },
            ]
          : []),
        // Whole micro-dollars (the daily spend alarm sums them); a Count, as CloudWatch has no currency unit.
        ...(typeof e.costUsd === 'number' ? [{ name: 'ModelCostMicroUsd', unit: 'Count' as const, value: Math.round(e.costUsd * 1_000_000) }] : []),
        ...(typeof e.latencyMs === 'number' ? [{ name: 'ModelLatency', unit: 'Milliseconds' as const, value: e.latencyMs }] : []),
        ...(error ? [{ name: 'ModelErrors', unit: 'Count' as const, value: 1, dimension: { name: 'Error', value: String(error.name) } }] : []),
      ];
    }
    // A summary is a model call of its own (its tokens are in no model_call event).
    case 'context_compacted':
      return e.summary
        ? [
            { name: 'ModelCalls', unit: 'Count', value: 1, dimension: { name: 'Tier', value: String(e.tier) } },
            { name: 'ModelInputTokens', unit: 'Count', value: e.summary.usage.inputTokens },
            { name: 'ModelOutputTokens', unit: 'Count', value: e.summary.usage.outputTokens },
            ...(typeof e.summary.costUsd === 'number' ? [{ name: 'ModelCostMicroUsd', unit: 'Count' as const, value: Math.round(e.summary.costUsd * 1_000_000) }] : []),
          ]
        : [];
    case 'tool_call':
      return [
        { name: 'ToolCalls', unit: 'Count', value: 1, dimension: { name: 'Tool', value: String(e.name) } },
        ...(typeof e.latencyMs === 'number' ? [{ name: 'ToolLatency', unit: 'Milliseconds' as const, value: e.latencyMs }] : []),
      ];
    case 'fallback':
      return [{ name: 'Fallbacks', unit: 'Count', value: 1, dimension: { name: 'Dependency', value: String(e.dependency) } }];
    case 'breaker':
      return e.to === 'OPEN' ? [{ name: 'BreakerOpened', unit: 'Count', value: 1, dimension: { name: 'Dependency', value: String(e.dependency) } }] : [];
    case 'surrender':
      return [{ name: 'Surrenders', unit: 'Count', value: 1, dimension: { name: 'Reason', value: String(e.stopReason) } }];
    case 'run_finished':
      return finished(e.status, e.step, e.stopReason, e.usage);
    case 'cancelled':
      return finished('CANCELLED', e.step, e.stopReason);
    // Not measured: the trace shows them.
    case 'run_started':
    case 'run_resumed':
    case 'paused':
    case 'pause_requested':
    case 'resumed':
    case 'budget':
    case 'start_failed':
    case 'approval_requested':
    case 'approval_decided':
    case 'admin_stop':
    case 'engine_restarted':
    case 'unrecognized':
      return [];
    default:
      return assertNever(e);
  }
}

/** A run that reached its final status: by status, its steps, killed by an admin, its tokens. */
function finished(status: RunStatus, step: number, stopReason: StopReason | null, usage?: { inputTokens?: number; outputTokens?: number }): MetricPoint[] {
  return [
    { name: 'RunsFinished', unit: 'Count', value: 1, dimension: { name: 'Status', value: status } },
    { name: 'RunSteps', unit: 'Count', value: step },
    ...(stopReason === 'KILLED' ? [{ name: 'RunsKilled', unit: 'Count' as const, value: 1 }] : []),
    ...(usage ? [{ name: 'RunTokens', unit: 'Count' as const, value: (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0) }] : []),
  ];
}
