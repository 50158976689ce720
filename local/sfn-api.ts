import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { LocalExecution } from './executions';
import { historyEventsOf } from './history';
import { UnrecognizedClient } from './iam/check';
import { AccessDenied } from './iam/policy';
import { sfnCheck } from './iam/sfn';
import { executionInputError } from './limits';
import { type LocalEndpoint, listenLocal, readJsonObject } from './listen';
import { SfnError } from './sfn-error';
import { checkArn, checkMemberTypes, checkStatusFilter } from './sfn-validation';
import type { LocalStepFunctions } from './step-functions';

/** Largest request the endpoint reads (Step Functions' own payload limit is 256 KB). */
const MAX_REQUEST_BYTES = 1024 * 1024;
const PAGE = 100;

/**
 * The local Step Functions API on its AWS wire protocol (JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Operation>`),
 * in front of the local Step Functions service (local/step-functions.ts): the AWS SDK and CLI work against it with `AWS_ENDPOINT_URL_SFN` as against LocalStack.
 * Requests are checked against the signer's role (IAM offline, local/iam): a function's access key id → its role;
 * test/test act as the account's administrator.
 */
export type LocalSfnApi = LocalEndpoint;

type Operation = (sfn: LocalStepFunctions, body: Record<string, unknown>) => unknown;

const epoch = (d: Date | undefined) => (d ? d.getTime() / 1000 : undefined);

function summary(e: LocalExecution) {
  return { executionArn: e.executionArn, stateMachineArn: e.stateMachineArn, name: e.name, status: e.status, startDate: epoch(e.startDate), stopDate: epoch(e.stopDate) };
}

/** The machine itself, one of its versions or one of its aliases (as StartExecution and ListExecutions take them). */
function qualified(sfn: LocalStepFunctions, arn: unknown): string {
  checkArn(arn, 'stateMachine', 'stateMachineArn');
  sfn.versions.resolve(String(arn));
  return String(arn);
}

function machine(sfn: LocalStepFunctions, arn: unknown): void {
  checkArn(arn, 'stateMachine', 'stateMachineArn');
  if (arn !== sfn.stateMachineArn) throw new SfnError('StateMachineDoesNotExist', `state machine ${String(arn)} does not exist; this endpoint serves ${sfn.stateMachineArn}`);
}

/** An execution ARN, well-formed (else InvalidArn) — whether it exists is the service's answer (ExecutionDoesNotExist). */
const execution = (b: Record<string, unknown>) => checkArn(b.executionArn, 'execution', 'executionArn');

function page<T>(items: T[], body: Record<string, unknown>): { items: T[]; nextToken?: string } {
  const max = Math.min(Number(body.maxResults) || PAGE, 1000);
  const start = body.nextToken ? Number(Buffer.from(String(body.nextToken), 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw new SfnError('InvalidToken', 'invalid nextToken');
  const slice = items.slice(start, start + max);
  return { items: slice, ...(start + max < items.length ? { nextToken: Buffer.from(String(start + max)).toString('base64url') } : {}) };
}

/** The execution's history as GetExecutionHistory lists it (local/history.ts: the same list the quota counts). */
export function historyEvents(e: LocalExecution): Record<string, unknown>[] {
  return historyEventsOf(e.history, e, e.taskCalls);
}

const OPERATIONS: Record<string, Operation> = {
  ListStateMachines: (sfn) => ({ stateMachines: [{ stateMachineArn: sfn.stateMachineArn, name: sfn.stateMachineName, type: 'STANDARD', creationDate: epoch(sfn.createdAt) }] }),
  DescribeStateMachine: (sfn, b) => {
    // The machine (its latest revision) or one of its versions; a malformed ARN is InvalidArn, any other
    // (another machine, a version never published) StateMachineDoesNotExist.
    const arn = checkArn(b.stateMachineArn, 'stateMachine', 'stateMachineArn');
    if (arn !== sfn.stateMachineArn && !sfn.versions.versions.some((v) => v.arn === arn)) {
      throw new SfnError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    }
    const version = arn === sfn.stateMachineArn ? undefined : sfn.versions.version(arn);
    const revision = version?.revision ?? sfn.versions.latest;
    return {
      stateMachineArn: arn,
      name: sfn.stateMachineName,
      status: 'ACTIVE',
      type: 'STANDARD',
      definition: JSON.stringify(revision.definition),
      revisionId: revision.id,
      ...(version?.description ? { description: version.description } : {}),
      roleArn: `arn:aws:iam::000000000000:role/${sfn.stateMachineName}Role`,
      creationDate: epoch(version?.createdAt ?? sfn.createdAt),
    };
  },
  StartExecution: (sfn, b) => {
    // The request's constraints first (the input's 256 KB), then the state machine (as AWS answers).
    const tooLarge = executionInputError(String(b.input ?? '{}'));
    if (tooLarge) throw new SfnError(tooLarge.name, tooLarge.message);
    const e = sfn.startExecution({ name: b.name as string | undefined, input: b.input as string | undefined, stateMachineArn: qualified(sfn, b.stateMachineArn) });
    return { executionArn: e.executionArn, startDate: epoch(e.startDate) };
  },
  StopExecution: (sfn, b) => ({ stopDate: epoch(sfn.stopExecution(execution(b), b.error as string | undefined, b.cause as string | undefined).stopDate) }),
  DescribeExecution: (sfn, b) => {
    const e = sfn.describeExecution(execution(b));
    const via = {
      ...(e.stateMachineVersionArn ? { stateMachineVersionArn: e.stateMachineVersionArn } : {}),
      ...(e.stateMachineAliasArn ? { stateMachineAliasArn: e.stateMachineAliasArn } : {}),
    };
    return {
      ...summary(e),
      ...via,
      input: e.input,
      inputDetails: { included: true },
      ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}),
      ...(e.error ? { error: e.error } : {}),
      ...(e.cause ? { cause: e.cause } : {}),
    };
  },
  ListExecutions: (sfn, b) => {
    // The machine's executions, or those started on one version or through one alias.
    checkStatusFilter(b.statusFilter);
    const arn = qualified(sfn, b.stateMachineArn);
    const of = (e: LocalExecution) => arn === sfn.stateMachineArn || e.stateMachineVersionArn === arn || e.stateMachineAliasArn === arn;
    const all = [...sfn.executions.values()].filter((e) => of(e) && (!b.statusFilter || e.status === b.statusFilter)).reverse();
    const { items, nextToken } = page(all, b);
    return { executions: items.map(summary), ...(nextToken ? { nextToken } : {}) };
  },
  GetExecutionHistory: (sfn, b) => {
    const events = historyEvents(sfn.describeExecution(execution(b)));
    const { items, nextToken } = page(b.reverseOrder ? events.reverse() : events, b);
    return { events: items, ...(nextToken ? { nextToken } : {}) };
  },
  PublishStateMachineVersion: (sfn, b) => {
    machine(sfn, b.stateMachineArn);
    const v = sfn.versions.publish(b.description as string | undefined, b.revisionId as string | undefined);
    return { stateMachineVersionArn: v.arn, creationDate: epoch(v.createdAt) };
  },
  ListStateMachineVersions: (sfn, b) => {
    machine(sfn, b.stateMachineArn);
    // Newest first, as Step Functions lists them.
    const { items, nextToken } = page([...sfn.versions.versions].reverse(), b);
    return { stateMachineVersions: items.map((v) => ({ stateMachineVersionArn: v.arn, creationDate: epoch(v.createdAt) })), ...(nextToken ? { nextToken } : {}) };
  },
  ListStateMachineAliases: (sfn, b) => {
    machine(sfn, b.stateMachineArn);
    const { items, nextToken } = page([...sfn.versions.aliases.values()], b);
    return { stateMachineAliases: items.map((a) => ({ stateMachineAliasArn: a.arn, creationDate: epoch(a.createdAt) })), ...(nextToken ? { nextToken } : {}) };
  },
  DescribeStateMachineAlias: (sfn, b) => {
    const a = sfn.versions.alias(String(b.stateMachineAliasArn));
    return {
      stateMachineAliasArn: a.arn,
      name: a.name,
      ...(a.description ? { description: a.description } : {}),
      routingConfiguration: a.routing,
      creationDate: epoch(a.createdAt),
      updateDate: epoch(a.updatedAt),
    };
  },
  UpdateStateMachineAlias: (sfn, b) => {
    const routing = b.routingConfiguration as { stateMachineVersionArn: string; weight: number }[] | undefined;
    const a = sfn.versions.updateAlias(String(b.stateMachineAliasArn), { routing, description: b.description as string | undefined });
    return { updateDate: epoch(a.updatedAt) };
  },
  SendTaskSuccess: (sfn, b) => {
    sfn.sendTaskSuccess(String(b.taskToken), String(b.output));
    return {};
  },
  SendTaskFailure: (sfn, b) => {
    sfn.sendTaskFailure(String(b.taskToken), b.error as string | undefined, b.cause as string | undefined);
    return {};
  },
  SendTaskHeartbeat: (sfn, b) => {
    sfn.sendTaskHeartbeat(String(b.taskToken));
    return {};
  },
};

/** The operations this endpoint serves. */
export const SFN_OPERATIONS = Object.keys(OPERATIONS);

export async function startSfnApi(sfn: LocalStepFunctions, options: { port?: number; host?: string } = {}): Promise<LocalSfnApi> {
  const server = createServer((req, res) => {
    handle(sfn, req, res).catch((err) => reply(res, 500, { __type: 'InternalFailure', message: (err as Error).message }));
  });
  return listenLocal(server, options);
}

async function handle(sfn: LocalStepFunctions, req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    // The JSON protocol refuses a member of the wrong type before the operation (or its authorization) runs.
    checkMemberTypes(body);
  } catch (err) {
    return reply(res, 400, { __type: (err as SfnError).name, message: (err as SfnError).message });
  }
  try {
    const principal = sfn.iam.principalOf(req.headers.authorization);
    const { action, resources, context } = sfnCheck(name, body, sfn.stateMachineArn);
    sfn.iam.authorize(principal, action, resources, context);
  } catch (err) {
    if (err instanceof AccessDenied || err instanceof UnrecognizedClient) return reply(res, 400, { __type: err.name, message: err.message });
    throw err;
  }
  try {
    reply(res, 200, op(sfn, body));
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
