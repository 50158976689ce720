import { pendingApprovalsOf } from './approvals';
import type { RunRecord } from './ports';
import { toUsd } from './pricing';
import type { RunView } from './types';

/** The run as users see it (CLI --json, GET /runs/{id}; docs/api.md) from its record. */
export function runView(run: RunRecord): RunView {
  return {
    runId: run.runId,
    threadId: run.threadId ?? null,
    status: run.status,
    answer: run.answer ?? null,
    stopReason: run.stopReason ?? null,
    steps: run.step,
    usage: { inputTokens: run.tokensIn, outputTokens: run.tokensOut, costUsd: toUsd(run.costMicros ?? 0) },
    degraded: run.degraded ?? [],
    pendingApprovals: pendingApprovalsOf(run),
    output: run.output ?? null,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
  };
}
