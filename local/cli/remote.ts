import { writeFileSync } from 'node:fs';
import type { RunView, TraceEvent } from '../../lambdas/core/types';
import { apiTarget, callApi } from './client';
import type { CliCommand } from './common';
import { UsageError } from './common';
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
export function timeline(events: TraceEvent[]): string {
  const t0 = events[0] ? Date.parse(events[0].at) : 0;
  return events.map((e) => `+${String(((Date.parse(e.at) - t0) / 1000).toFixed(3)).padStart(8)}s  ${describeEvent(e)}`).join('\n');
}

export const runsCommand: CliCommand = {
  usage: 'runs                   list your runs, newest first (local server, or --api <url> --token <jwt>)',
  async run({ values }) {
    const out = await callApi<{ runs: RunView[]; nextCursor: string | null }>(apiTarget(values), 'GET', '/runs');
    print(values.json ? out : out.runs.map(runLine).join('\n') || '(no runs)');
    return 0;
  },
};

export const showCommand: CliCommand = {
  usage: 'show <runId>           one run: status, answer, stop reason, usage, what degraded',
  async run({ positionals, values }) {
    const run = await callApi<RunView>(apiTarget(values), 'GET', `/runs/${needId(positionals, 'show')}`);
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
  usage: 'trace <runId>          the run as a timeline of every model and tool call',
  async run({ positionals, values }) {
    const target = apiTarget(values);
    const id = needId(positionals, 'trace');
    const { events } = await callApi<{ events: TraceEvent[] }>(target, 'GET', `/runs/${id}/trace`);
    if (typeof values.export === 'string') {
      const run = await callApi<RunView>(target, 'GET', `/runs/${id}`);
      writeFileSync(values.export, JSON.stringify({ run, events }, null, 1));
      print(`wrote ${values.export} (${events.length} events): replay it with agent replay --file ${values.export}`);
      return 0;
    }
    print(values.json ? { events } : timeline(events));
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
