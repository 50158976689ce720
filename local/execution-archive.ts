import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { LocalExecution } from './executions';
import type { Revision } from './versions';

/** How long Step Functions keeps a closed execution (Quotas: "Execution history retention: 90 days"). */
export const EXECUTION_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;

/** A closed execution as the archive keeps it (what DescribeExecution, ListExecutions and GetExecutionHistory read). */
type Archived = Pick<
  LocalExecution,
  | 'executionArn'
  | 'stateMachineArn'
  | 'name'
  | 'input'
  | 'status'
  | 'output'
  | 'error'
  | 'cause'
  | 'history'
  | 'historyEventCount'
  | 'stateMachineVersionArn'
  | 'stateMachineAliasArn'
> & {
  startDate: string;
  stopDate: string;
  taskCalls: [string, { parameters: string; submitted?: string; output?: string }[]][];
};

/**
 * Closed executions on disk (`executions.jsonl` in the engine's data dir, one JSON line each), so that after a
 * restart they still answer DescribeExecution, ListExecutions and GetExecutionHistory, as Step Functions keeps them
 * for 90 days. An execution still running when the process ends is not kept: the engine gives it back at the next
 * start (the same name, from the run's checkpoint). A line cut short by a crash is skipped.
 */
export class ExecutionArchive {
  constructor(
    private readonly file: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The closed executions kept, oldest first (those older than 90 days are gone), on `revision` (not re-run). */
  load(revision: Revision): LocalExecution[] {
    if (!existsSync(this.file)) return [];
    const out: LocalExecution[] = [];
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let a: Archived;
      try {
        a = JSON.parse(line) as Archived;
      } catch {
        continue;
      }
      if (this.now() - Date.parse(a.stopDate) > EXECUTION_RETENTION_MS) continue;
      const { startDate, stopDate, taskCalls, ...rest } = a;
      out.push({ ...rest, startDate: new Date(startDate), stopDate: new Date(stopDate), taskCalls: new Map(taskCalls), events: [], done: Promise.resolve(), revision });
    }
    return out;
  }

  /** Keeps a closed execution. */
  save(e: LocalExecution): void {
    const record: Archived = {
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      input: e.input,
      status: e.status,
      startDate: e.startDate.toISOString(),
      stopDate: (e.stopDate ?? new Date()).toISOString(),
      history: e.history,
      historyEventCount: e.historyEventCount,
      taskCalls: [...e.taskCalls],
      ...(e.output !== undefined ? { output: e.output } : {}),
      ...(e.error !== undefined ? { error: e.error } : {}),
      ...(e.cause !== undefined ? { cause: e.cause } : {}),
      ...(e.stateMachineVersionArn ? { stateMachineVersionArn: e.stateMachineVersionArn } : {}),
      ...(e.stateMachineAliasArn ? { stateMachineAliasArn: e.stateMachineAliasArn } : {}),
    };
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }
}
