import { writeFileSync } from 'node:fs';
import { parseTraceEvent, type TraceEvent } from '../../lambdas/core/trace';
import type { RunView } from '../../lambdas/core/types';
import { apiTarget, callApi } from './client';
import type { CliCommand } from './common';
import { UsageError } from './common';
import { withApi } from './local';
import { describeEvent } from './progress';

const needId = (positionals: string[], command: string): string => {
  const id = positionals[0];
  if (!id) throw new UsageError(`agent ${command} needs a run id: agent ${command} <runId>`);
  return encodeURIComponent(id);
};
const print = (value: unknown) => process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);

/** One line per run. */
export function runLine(r: RunView): string {
  return `${r.runId}  ${r.status.padEnd(10)} ${String(r.steps).padStart(3)} steps  ${r.createdAt}${r.stopReason ? `  ${r.stopReason}` : ''}`;
}

/** The trace as a timeline: offset from the first event, then what happened. */
export function timeline(events: TraceEvent[], options: { verbose?: boolean } = {}): string {
  const t0 = events[0] ? Date.parse(events[0].at) : 0;
  return events.map((e) => `+${String(((Date.parse(e.at) - t0) / 1000).toFixed(3)).padStart(8)}s  ${describeEvent(e, options)}`).join('\n');
}

export const runsCommand: CliCommand = {
  usage: 'runs                   list your runs, newest first (local server or data dir, or --api <url> --token <jwt>)',
  async run({ config, values }) {
    const out = await withApi(values, config, (target) => callApi<{ runs: RunView[]; nextCursor: string | null }>(target, 'GET', '/runs'));
    print(values.json ? out : out.runs.map(runLine).join('\n') || '(no runs)');
    return 0;
  },
};

export const showCommand: CliCommand = {
  usage: 'show <runId>           one run: status, answer, stop reason, usage, what degraded',
  async run({ config, positionals, values }) {
    const id = needId(positionals, 'show');
    const run = await withApi(values, config, (target) => callApi<RunView>(target, 'GET', `/runs/${id}`));
    if (values.json) print(run);
    else {
      print(runLine(run));
      print(`usage: ${run.usage.inputTokens} in / ${run.usage.outputTokens} out · $${(run.usage.costUsd ?? 0).toFixed(4)}`);
      for (const d of run.degraded) print(`degraded: ${d.dependency} (${d.reason}) → ${d.fallback}`);
      print(`\n${run.answer ?? '(no answer yet)'}`);
    }
    return 0;
  },
};

export const traceCommand: CliCommand = {
  usage: 'trace <runId>          the run as a timeline of every model and tool call (--verbose: with the instructions)',
  async run({ config, positionals, values }) {
    const id = needId(positionals, 'trace');
    const exporting = typeof values.export === 'string';
    const { events, run } = await withApi(values, config, async (target) => ({
      ...(await callApi<{ events: Record<string, unknown>[] }>(target, 'GET', `/runs/${id}/trace`)),
      run: exporting ? await callApi<RunView>(target, 'GET', `/runs/${id}`) : undefined,
    }));
    if (typeof values.export === 'string') {
      writeFileSync(values.export, JSON.stringify({ run, events }, null, 1));
      print(`wrote ${values.export} (${events.length} events): replay it with agent replay --file ${values.export}`);
      return 0;
    }
    print(values.json ? { events } : timeline(events.map(parseTraceEvent), { verbose: values.verbose === true }));
    return 0;
  },
};

const steer = (action: 'pause' | 'resume' | 'cancel', usage: string): CliCommand => ({
  usage,
  async run({ positionals, values }) {
    const id = needId(positionals, action);
    const out = await callApi<{ runId: string }>(apiTarget(values), 'POST', `/runs/${id}/${action}`);
    print(values.json ? out : `${action}: accepted for run ${out.runId ?? decodeURIComponent(id)}`);
    return 0;
  },
});

export const pauseCommand = steer('pause', 'pause <runId>          stop the run at its next tool-call boundary');
export const resumeCommand = steer('resume', 'resume <runId>         continue a paused (or failed) run from its checkpoint');
export const cancelCommand = steer('cancel', 'cancel <runId>         stop the run and mark it CANCELLED');

/**
 * approve|reject <runId> [--call <toolCallId>] [--reason "…"]: decides a call waiting for approval. Without --call
 * the run must have exactly one waiting call (a person decides each call on purpose: several waiting calls are
 * listed, nothing is decided).
 */
const decideCommand = (decision: 'approve' | 'reject', usage: string): CliCommand => ({
  usage,
  async run({ positionals, values }) {
    const target = apiTarget(values);
    const id = needId(positionals, decision);
    let call = typeof values.call === 'string' ? values.call : undefined;
    if (!call) {
      const run = await callApi<RunView>(target, 'GET', `/runs/${id}`);
      const pending = run.pendingApprovals ?? [];
      if (pending.length === 0) throw new UsageError(`run ${run.runId} has no tool call waiting for approval (it is ${run.status})`);
      if (pending.length > 1) {
        throw new UsageError(
          `run ${run.runId} has ${pending.length} calls waiting; pick one with --call <toolCallId>:\n${pending.map((p) => `  ${p.toolCallId}  ${p.name} ${JSON.stringify(p.arguments)}`).join('\n')}`,
        );
      }
      call = pending[0]?.toolCallId as string;
    }
    const body = { decision, ...(typeof values.reason === 'string' ? { reason: values.reason } : {}) };
    const out = await callApi<{ runId: string; toolCallId: string; remaining: number }>(target, 'POST', `/runs/${id}/approvals/${encodeURIComponent(call)}`, body);
    print(
      values.json ? out : `${decision === 'approve' ? 'approved' : 'rejected'}: ${out.toolCallId} of run ${out.runId}${out.remaining ? ` (${out.remaining} more waiting)` : ''}`,
    );
    return 0;
  },
});

export const approveCommand = decideCommand('approve', 'approve <runId>        let a call waiting for approval run (--call <toolCallId>, --reason "…")');
export const rejectCommand = decideCommand('reject', 'reject <runId>         refuse a call waiting for approval; the model is told (--call <toolCallId>, --reason "…")');
