import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type EventLog, type LocalEngine, type LocalExecution, SfnError } from './engine';
import { UnrecognizedClient } from './iam/check';
import { AccessDenied } from './iam/policy';
import { sfnCheck } from './iam/sfn';
import { executionInputError } from './limits';
import { type LocalEndpoint, listenLocal, readJsonObject } from './listen';

/** Largest request the endpoint reads (Step Functions' own payload limit is 256 KB). */
const MAX_REQUEST_BYTES = 1024 * 1024;
const PAGE = 100;

/**
 * The local Step Functions API on its AWS wire protocol (JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Operation>`),
 * in front of the engine: the AWS SDK and CLI work against it with `AWS_ENDPOINT_URL_SFN` as against LocalStack.
 * Requests are checked against the signer's role (IAM offline, local/iam): a function's access key id → its role;
 * test/test act as the account's administrator.
 */
export type LocalSfnApi = LocalEndpoint;

type Operation = (engine: LocalEngine, body: Record<string, unknown>) => unknown;

const epoch = (d: Date | undefined) => (d ? d.getTime() / 1000 : undefined);

function summary(e: LocalExecution) {
  return { executionArn: e.executionArn, stateMachineArn: e.stateMachineArn, name: e.name, status: e.status, startDate: epoch(e.startDate), stopDate: epoch(e.stopDate) };
}

/** The machine itself, one of its versions or one of its aliases (as StartExecution and ListExecutions take them). */
function qualified(engine: LocalEngine, arn: unknown): string {
  engine.versions.resolve(String(arn));
  return String(arn);
}

function machine(engine: LocalEngine, arn: unknown): void {
  if (arn !== engine.stateMachineArn) throw new SfnError('StateMachineDoesNotExist', `state machine ${String(arn)} does not exist; this endpoint serves ${engine.stateMachineArn}`);
}

function page<T>(items: T[], body: Record<string, unknown>): { items: T[]; nextToken?: string } {
  const max = Math.min(Number(body.maxResults) || PAGE, 1000);
  const start = body.nextToken ? Number(Buffer.from(String(body.nextToken), 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw new SfnError('InvalidToken', 'invalid nextToken');
  const slice = items.slice(start, start + max);
  return { items: slice, ...(start + max < items.length ? { nextToken: Buffer.from(String(start + max)).toString('base64url') } : {}) };
}

/** The engine's event log as Step Functions history events (types and details as GetExecutionHistory names them). */
export function historyEvents(e: LocalExecution): Record<string, unknown>[] {
  return e.events.map((event: EventLog, i) => {
    const ev = event as { type: string; timestamp: number; state?: { name: string; type: string; input?: unknown; output?: unknown }; Error?: string; Cause?: string };
    const base = { id: i + 1, previousEventId: i, timestamp: ev.timestamp / 1000 };
    const json = (v: unknown) => JSON.stringify(v ?? null);
    switch (ev.type) {
      case 'ExecutionStarted':
        return { ...base, type: 'ExecutionStarted', executionStartedEventDetails: { input: e.input } };
      case 'ExecutionSucceeded':
        return { ...base, type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: e.output ?? 'null' } };
      case 'ExecutionFailed':
        return { ...base, type: 'ExecutionFailed', executionFailedEventDetails: { error: e.error ?? ev.Error, cause: e.cause ?? ev.Cause } };
      case 'ExecutionAborted':
        // An execution the service itself failed (the history quota, a payload past 256 KB) ends FAILED, not ABORTED.
        if (e.status === 'FAILED') return { ...base, type: 'ExecutionFailed', executionFailedEventDetails: { error: e.error, cause: e.cause } };
        return { ...base, type: 'ExecutionAborted', executionAbortedEventDetails: { error: e.error, cause: e.cause } };
      case 'ExecutionTimeout':
        return { ...base, type: 'ExecutionTimedOut', executionTimedOutEventDetails: { error: 'States.Timeout', cause: e.cause } };
      case 'StateEntered':
        return { ...base, type: `${ev.state?.type}StateEntered`, stateEnteredEventDetails: { name: ev.state?.name, input: json(ev.state?.input) } };
      case 'StateExited':
        return { ...base, type: `${ev.state?.type}StateExited`, stateExitedEventDetails: { name: ev.state?.name, output: json(ev.state?.output) } };
      default:
        // Retries, catches, failures and Map iterations: the engine's own names, with the state and error.
        return { ...base, type: ev.type, ...(ev.state ? { stateName: ev.state.name } : {}), ...(ev.Error ? { error: ev.Error, cause: ev.Cause } : {}) };
    }
  });
}

const OPERATIONS: Record<string, Operation> = {
  ListStateMachines: (engine) => ({ stateMachines: [{ stateMachineArn: engine.stateMachineArn, name: engine.stateMachineName, type: 'STANDARD', creationDate: epoch(engine.createdAt) }] }),
  DescribeStateMachine: (engine, b) => {
    // The machine (its latest revision) or one of its versions.
    const arn = String(b.stateMachineArn);
    const version = arn === engine.stateMachineArn ? undefined : engine.versions.version(arn);
    const revision = version?.revision ?? engine.versions.latest;
    return {
      stateMachineArn: arn,
      name: engine.stateMachineName,
      status: 'ACTIVE',
      type: 'STANDARD',
      definition: JSON.stringify(revision.definition),
      revisionId: revision.id,
      ...(version?.description ? { description: version.description } : {}),
      roleArn: `arn:aws:iam::000000000000:role/${engine.stateMachineName}Role`,
      creationDate: epoch(version?.createdAt ?? engine.createdAt),
    };
  },
  StartExecution: (engine, b) => {
    // The request's constraints first (the input's 256 KB), then the state machine (as AWS answers).
    const tooLarge = executionInputError(String(b.input ?? '{}'));
    if (tooLarge) throw new SfnError(tooLarge.name, tooLarge.message);
    const e = engine.startExecution({ name: b.name as string | undefined, input: b.input as string | undefined, stateMachineArn: qualified(engine, b.stateMachineArn) });
    return { executionArn: e.executionArn, startDate: epoch(e.startDate) };
  },
  StopExecution: (engine, b) => ({ stopDate: epoch(engine.stopExecution(String(b.executionArn), b.error as string | undefined, b.cause as string | undefined).stopDate) }),
  DescribeExecution: (engine, b) => {
    const e = engine.describeExecution(String(b.executionArn));
    const via = { ...(e.stateMachineVersionArn ? { stateMachineVersionArn: e.stateMachineVersionArn } : {}), ...(e.stateMachineAliasArn ? { stateMachineAliasArn: e.stateMachineAliasArn } : {}) };
    return { ...summary(e), ...via, input: e.input, inputDetails: { included: true }, ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}), ...(e.error ? { error: e.error } : {}), ...(e.cause ? { cause: e.cause } : {}) };
  },
  ListExecutions: (engine, b) => {
    // The machine's executions, or those started on one version or through one alias.
    const arn = qualified(engine, b.stateMachineArn);
    const of = (e: LocalExecution) => arn === engine.stateMachineArn || e.stateMachineVersionArn === arn || e.stateMachineAliasArn === arn;
    const all = [...engine.executions.values()].filter((e) => of(e) && (!b.statusFilter || e.status === b.statusFilter)).reverse();
    const { items, nextToken } = page(all, b);
    return { executions: items.map(summary), ...(nextToken ? { nextToken } : {}) };
  },
  GetExecutionHistory: (engine, b) => {
    const events = historyEvents(engine.describeExecution(String(b.executionArn)));
    const { items, nextToken } = page(b.reverseOrder ? events.reverse() : events, b);
    return { events: items, ...(nextToken ? { nextToken } : {}) };
  },
  PublishStateMachineVersion: (engine, b) => {
    machine(engine, b.stateMachineArn);
    const v = engine.versions.publish(b.description as string | undefined, b.revisionId as string | undefined);
    return { stateMachineVersionArn: v.arn, creationDate: epoch(v.createdAt) };
  },
  ListStateMachineVersions: (engine, b) => {
    machine(engine, b.stateMachineArn);
    // Newest first, as Step Functions lists them.
    const { items, nextToken } = page([...engine.versions.versions].reverse(), b);
    return { stateMachineVersions: items.map((v) => ({ stateMachineVersionArn: v.arn, creationDate: epoch(v.createdAt) })), ...(nextToken ? { nextToken } : {}) };
  },
  ListStateMachineAliases: (engine, b) => {
    machine(engine, b.stateMachineArn);
    const { items, nextToken } = page([...engine.versions.aliases.values()], b);
    return { stateMachineAliases: items.map((a) => ({ stateMachineAliasArn: a.arn, creationDate: epoch(a.createdAt) })), ...(nextToken ? { nextToken } : {}) };
  },
  DescribeStateMachineAlias: (engine, b) => {
    const a = engine.versions.alias(String(b.stateMachineAliasArn));
    return { stateMachineAliasArn: a.arn, name: a.name, ...(a.description ? { description: a.description } : {}), routingConfiguration: a.routing, creationDate: epoch(a.createdAt), updateDate: epoch(a.updatedAt) };
  },
  UpdateStateMachineAlias: (engine, b) => {
    const routing = b.routingConfiguration as { stateMachineVersionArn: string; weight: number }[] | undefined;
    const a = engine.versions.updateAlias(String(b.stateMachineAliasArn), { routing, description: b.description as string | undefined });
    return { updateDate: epoch(a.updatedAt) };
  },
  SendTaskSuccess: (engine, b) => {
    engine.sendTaskSuccess(String(b.taskToken), String(b.output));
    return {};
  },
  SendTaskFailure: (engine, b) => {
    engine.sendTaskFailure(String(b.taskToken), b.error as string | undefined, b.cause as string | undefined);
    return {};
  },
  SendTaskHeartbeat: (engine, b) => {
    engine.sendTaskHeartbeat(String(b.taskToken));
    return {};
  },
};

/** The operations this endpoint serves. */
export const SFN_OPERATIONS = Object.keys(OPERATIONS);

export async function startSfnApi(engine: LocalEngine, options: { port?: number; host?: string } = {}): Promise<LocalSfnApi> {
  const server = createServer((req, res) => {
    handle(engine, req, res).catch((err) => reply(res, 500, { __type: 'InternalFailure', message: (err as Error).message }));
  });
  return listenLocal(server, options);
}

async function handle(engine: LocalEngine, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const target = String(req.headers['x-amz-target'] ?? '');
  const [prefix, name] = target.split('.');
  const body = await readJsonObject(req, MAX_REQUEST_BYTES);
  if (req.method !== 'POST' || prefix !== 'AWSStepFunctions' || !name) {
    reply(res, 400, { __type: 'UnknownOperationException', message: `send POST with X-Amz-Target: AWSStepFunctions.<Operation>; served: ${SFN_OPERATIONS.join(', ')}` });
    return;
  }
  const op = OPERATIONS[name];
  if (!op) {
    reply(res, 400, { __type: 'UnknownOperationException', message: `${name} is not served locally; served: ${SFN_OPERATIONS.join(', ')}` });
    return;
  }
  if (body === undefined) {
    reply(res, 400, { __type: 'SerializationException', message: 'the body must be a JSON object' });
    return;
  }
  try {
    const principal = engine.iam.principalOf(req.headers.authorization);
    const { action, resources, context } = sfnCheck(name, body, engine.stateMachineArn);
    engine.iam.authorize(principal, action, resources, context);
  } catch (err) {
    if (err instanceof AccessDenied || err instanceof UnrecognizedClient) return reply(res, 400, { __type: err.name, message: err.message });
    throw err;
  }
  try {
    reply(res, 200, op(engine, body));
  } catch (err) {
    if (err instanceof SfnError) reply(res, 400, { __type: err.name, message: err.message });
    else throw err;
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
  res.end(JSON.stringify(body));
}
