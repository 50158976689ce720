import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import { allStates, type EventLog, type LocalExecution, withoutLongTimeouts } from './executions';
import type { LocalIam } from './iam/check';
import { AccessDenied } from './iam/policy';
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalExpressSpec } from './template';

/**
 * Express workflows offline, as a Standard parent runs them with `arn:aws:states:::states:startExecution.sync:2`
 * (the hybrid engine's segments, docs/hybrid.md): the child runs to its end and the task returns its
 * DescribeExecution with `Output` as JSON; a child that fails, times out or is aborted fails the task with
 * States.TaskFailed, the cause the child's description (its error and cause in it). Express limits: 5 minutes at
 * most, and no `.waitForTaskToken` / `.sync` integrations (CreateStateMachine refuses such a definition).
 */

/** Express workflows run at most 5 minutes (Step Functions quotas). */
export const EXPRESS_MAX_SECONDS = 300;
/** The managed rule Step Functions uses to learn that a `.sync` child ended (the parent's role must manage it). */
export const SYNC_RULE_ARN = `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`;

/** An Express machine ready to run: its spec and the interpreter, built once per revision. */
export interface ExpressMachine extends LocalExpressSpec {
  machine: StateMachine;
  timeoutSeconds: number;
}

/** What AWS refuses in an Express definition (CreateStateMachine), each naming the state. */
export function expressDefinitionProblems(definition: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [name, state] of allStates(definition)) {
    const resource = String(state.Resource ?? '');
    if (/\.(waitForTaskToken|sync(:2)?)$/.test(resource))
      problems.push(`state "${name}" uses ${resource.slice(resource.lastIndexOf('.'))}, which Express workflows do not support`);
  }
  return problems;
}

/** The template's Express machine, as CreateStateMachine accepts it (or refuses it, naming why). */
export function expressMachineOf(spec: LocalExpressSpec): ExpressMachine {
  const problems = expressDefinitionProblems(spec.definition);
  if (problems.length) throw new Error(`Express state machine ${spec.name}: ${problems.join('; ')}`);
  // The machine's TimeoutSeconds, at most Express's 5 minutes.
  const timeoutSeconds = Math.min(Number(spec.definition.TimeoutSeconds ?? EXPRESS_MAX_SECONDS), EXPRESS_MAX_SECONDS);
  const definition = withoutLongTimeouts({ ...spec.definition, TimeoutSeconds: timeoutSeconds });
  return { ...spec, timeoutSeconds, machine: new StateMachine(definition as never, { validationOptions: { noValidate: true } }) };
}

/** One Express execution (billed: one request, and its duration). */
export interface ExpressRecord {
  executionArn: string;
  parentArn: string;
  stateMachineArn: string;
  startDate: Date;
  stopDate?: Date;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  /** States entered (Express does not bill them; kept for the bench's comparison). */
  transitions: number;
}

export interface SyncDeps {
  iam: LocalIam;
  /** The Task handlers of a child definition (its Lambda tasks, authorized against the child's own role). */
  taskHandlers: (definition: Record<string, unknown>, principalArn: string) => Record<string, (input: unknown) => Promise<never>>;
  retryOverrides: (definition: Record<string, unknown>) => Record<string, number> | undefined;
  onEvent: (event: EventLog) => void;
  /** Fault knob: re-run this child with the same input once it has ended (Express is at-least-once). */
  rerun?: (info: { parentArn: string; index: number }) => boolean;
  /** Fault knob: run two copies of this child at once, or report it TIMED_OUT after it ran (EngineKnobs.segmentFault). */
  fault?: (info: { parentArn: string; index: number }) => 'concurrent' | 'timedOut' | undefined;
  records: ExpressRecord[];
}

/** States.TaskFailed with the child's description as its cause, as a `.sync:2` task fails. */
function taskFailed(description: Record<string, unknown>): Error {
  return Object.assign(new Error(JSON.stringify(description)), { name: 'States.TaskFailed' });
}

/**
 * Runs the `.sync:2` task of `parent`: authorizes its role (StartExecution on the child, the managed rule), runs the
 * child (twice when the fault knob says so) and returns its description. Aborting the parent aborts the child.
 */
export async function startExecutionSync(
  deps: SyncDeps,
  parent: LocalExecution & { childAborts?: Set<() => void> },
  children: Map<string, ExpressMachine>,
  params: { StateMachineArn?: string; Input?: unknown; Name?: string },
  index: number,
): Promise<Record<string, unknown>> {
  const target = String(params.StateMachineArn ?? '');
  const child = children.get(target);
  if (!child)
    throw Object.assign(new Error(`State Machine Does Not Exist: '${target}' (Service: AWSStepFunctions; Status Code: 400; Error Code: StateMachineDoesNotExist)`), {
      name: 'StepFunctions.StateMachineDoesNotExistException',
    });
  authorizeSync(deps.iam, child, target);
  const fault = deps.fault?.({ parentArn: parent.executionArn, index });
  let description: Record<string, unknown>;
  if (fault === 'concurrent') {
    const copies = await Promise.allSettled([runChild(deps, parent, child, target, params), runChild(deps, parent, child, target, params)]);
    const first = copies[0];
    if (first.status === 'rejected') throw first.reason;
    description = first.value;
  } else {
    description = await runChild(deps, parent, child, target, params);
  }
  if (description.Status === 'SUCCEEDED' && deps.rerun?.({ parentArn: parent.executionArn, index })) description = await runChild(deps, parent, child, target, params);
  if (fault === 'timedOut' && description.Status === 'SUCCEEDED') description = timedOut(deps, description, child);
  if (description.Status !== 'SUCCEEDED') throw taskFailed(description);
  return description;
}

/** The fault knob's timed-out child: its work done, its description TIMED_OUT (no output), as Step Functions reports it. */
function timedOut(deps: SyncDeps, description: Record<string, unknown>, child: ExpressMachine): Record<string, unknown> {
  const record = deps.records.find((r) => r.executionArn === description.ExecutionArn);
  if (record) record.status = 'TIMED_OUT';
  const { Output: _output, ...rest } = description;
  return { ...rest, Status: 'TIMED_OUT', Error: 'States.Timeout', Cause: `the Express execution ran past ${child.timeoutSeconds} s` };
}

/** What Step Functions checks with the parent's role before a `.sync` child starts (Step Functions IAM page). */
function authorizeSync(iam: LocalIam, child: ExpressMachine, target: string): void {
  const principal = iam.model.stateMachine;
  if (!principal) return;
  const qualifier = target.startsWith(`${child.arn}:`) ? target.slice(child.arn.length + 1) : undefined;
  try {
    iam.authorize(principal, 'states:StartExecution', [child.arn], qualifier ? { 'states:StateMachineQualifier': [qualifier] } : {});
    for (const action of ['events:PutTargets', 'events:PutRule', 'events:DescribeRule']) iam.authorize(principal, action, [SYNC_RULE_ARN]);
  } catch (err) {
    if (!(err instanceof AccessDenied)) throw err;
    throw Object.assign(new Error(`${err.message} (Service: AWSStepFunctions; Status Code: 400; Error Code: AccessDeniedException)`), {
      name: 'StepFunctions.AWSStepFunctionsException',
    });
  }
}

async function runChild(
  deps: SyncDeps,
  parent: LocalExecution & { childAborts?: Set<() => void> },
  child: ExpressMachine,
  target: string,
  params: { Input?: unknown; Name?: string },
): Promise<Record<string, unknown>> {
  const name = params.Name ?? randomUUID();
  const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:express:${child.name}:${name}:${randomUUID()}`;
  const input = typeof params.Input === 'string' ? JSON.parse(params.Input) : (params.Input ?? {});
  const record: ExpressRecord = { executionArn, parentArn: parent.executionArn, stateMachineArn: target, startDate: new Date(), status: 'RUNNING', transitions: 0 };
  deps.records.push(record);
  if (deps.records.length > 10_000) deps.records.shift();
  const run = child.machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: deps.taskHandlers(child.definition, child.arn), retryIntervalOverrides: deps.retryOverrides(child.definition) },
    context: { Execution: { Id: executionArn, Name: name, Input: input, StartTime: record.startDate.toISOString() }, StateMachine: { Id: child.arn, Name: child.name } } as never,
    noThrowOnAbort: true,
  });
  parent.childAborts ??= new Set();
  parent.childAborts.add(run.abort);
  const collecting = (async () => {
    for await (const event of run.eventLogs) {
      if (event.type === 'StateEntered') record.transitions++;
      deps.onEvent(event);
    }
  })();
  const base = { ExecutionArn: executionArn, StateMachineArn: target, Name: name, Input: JSON.stringify(input), StartDate: record.startDate.toISOString() };
  try {
    const output = await run.result;
    await collecting;
    record.stopDate = new Date();
    if (output === null && parent.status !== 'RUNNING') {
      record.status = 'ABORTED';
      return { ...base, Status: 'ABORTED', StopDate: record.stopDate.toISOString(), Error: 'States.Aborted', Cause: 'the parent execution stopped' };
    }
    record.status = 'SUCCEEDED';
    return { ...base, Status: 'SUCCEEDED', StopDate: record.stopDate.toISOString(), Output: output ?? null };
  } catch (err) {
    await collecting.catch(() => undefined);
    const e = err as Error & { cause?: { name?: string; message?: string } };
    record.stopDate = new Date();
    const timedOut = e.name === 'ExecutionTimeoutError';
    record.status = timedOut ? 'TIMED_OUT' : 'FAILED';
    return {
      ...base,
      Status: record.status,
      StopDate: record.stopDate.toISOString(),
      Error: timedOut ? 'States.Timeout' : (e.cause?.name ?? e.name),
      Cause: timedOut ? `the Express execution ran past ${child.timeoutSeconds} s` : (e.cause?.message ?? e.message),
    };
  } finally {
    parent.childAborts.delete(run.abort);
  }
}
