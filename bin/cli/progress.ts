import { excerpt } from '../../lambdas/core/answer';
import { assertNever, type TraceEvent } from '../../lambdas/core/trace';
import type { EventLog } from '../../local/engine';

/** One line of progress per trace event; `verbose` adds the instructions' text to the run's start. */
export function describeEvent(e: TraceEvent, options: { verbose?: boolean } = {}): string {
  const step = `step ${e.step}`;
  switch (e.type) {
    case 'run_started': {
      const instructions = e.instructions ? ` · instructions ${e.instructions.hash}${options.verbose ? `:\n${e.instructions.text}` : ''}` : '';
      const output = e.outputSchema ? ` · output schema ${e.outputSchema.name}` : '';
      return `run started · budgets: ${e.maxSteps} steps, ${e.maxTokens} tokens${output}${instructions}`;
    }
    case 'context_compacted':
      return `${step} · context compacted for ${e.model} (${e.reason}, window ${e.windowTokens}): ~${e.tokensBefore} → ~${e.tokensAfter} tokens · tool results elided through step ${e.elidedThroughStep}${e.summarizedThroughStep ? ` · steps 1-${e.summarizedThroughStep} summarized` : ''}`;
    case 'run_resumed':
      return `run resumed at step ${e.step}`;
    case 'model_call': {
      const err = e.error;
      if (err) return `${step} · model ${e.tier} (${e.provider}/${e.model}) failed after ${e.latencyMs} ms: ${err.name}: ${err.message}`;
      if (e.outputInvalid) return `${step} · model ${e.tier} (${e.provider}/${e.model}) answer failed its output schema: ${e.outputInvalid}`;
      const calls = e.output?.toolCalls ?? [];
      const what = calls.length ? `${calls.length} tool call(s): ${calls.map((c) => `${c.name}(${JSON.stringify(c.arguments)})`).join(', ')}` : 'final answer';
      return `${step} · model ${e.tier} (${e.provider}/${e.model}) ${e.latencyMs} ms · tokens ${e.usage?.inputTokens ?? 0}→${e.usage?.outputTokens ?? 0}${typeof e.costUsd === 'number' && e.costUsd > 0 ? ` · $${e.costUsd.toFixed(6)}` : ''} · ${what}`;
    }
    case 'tool_call':
      if (e.error) return `${step} · tool ${e.name} failed: ${e.error.name}: ${e.error.message}`;
      return `${step} · tool ${e.name} → ${excerpt(String(e.result ?? ''), 160)}${e.isError ? ' (error)' : ''}`;
    case 'fallback':
      return `${step} · degraded: ${e.dependency} (${e.reason}) → ${e.fallback}`;
    case 'budget':
      return `${step} · budget: ${e.message}`;
    case 'breaker':
      return `${step} · breaker ${e.dependency}: ${e.from} → ${e.to}`;
    case 'approval_requested':
      return `${step} · waiting for approval: ${e.name}(${JSON.stringify(e.arguments)}) [${e.toolCallId}] until ${e.expiresAt}`;
    case 'approval_decided':
      return `${step} · ${e.decision === 'approve' ? 'approved' : 'rejected'} by ${e.decidedBy}: ${e.name} [${e.toolCallId}]${e.reason ? ` (${e.reason})` : ''} after ${e.latencyMs} ms`;
    case 'surrender':
      return `${step} · surrendered: ${e.stopReason}`;
    case 'run_finished':
      return `run finished: ${e.status}${e.stopReason ? ` (${e.stopReason})` : ''}`;
    // The kind says it all.
    case 'paused':
    case 'pause_requested':
    case 'resumed':
    case 'cancelled':
    case 'start_failed':
    case 'admin_stop':
    case 'engine_restarted':
      return `${step} · ${e.type}`;
    case 'unrecognized':
      return `${step} · ${e.storedType}`;
    default:
      return assertNever(e);
  }
}

export function describeStateEvent(e: EventLog): string | undefined {
  if (e.type === 'StateRetried') return `  ↻ retrying ${e.state.name} (retry ${e.retry.attempt})`;
  if (e.type === 'StateCaught') return `  ↪ ${e.state.name} failed; caught → ${e.catch.catcher.Next}`;
  return undefined;
}
