import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { createHandler as api } from '../lambdas/handlers/api';
import { createHandler as authorizer } from '../lambdas/handlers/authorizer';
import { createHandler as awaitApproval } from '../lambdas/handlers/await-approval';
import { createHandler as callModel } from '../lambdas/handlers/call-model';
import { createHandler as callTool } from '../lambdas/handlers/call-tool';
import { createHandler as executionStatus } from '../lambdas/handlers/execution-status';
import { createHandler as exportTrace } from '../lambdas/handlers/export-trace';
import { createHandler as finalize } from '../lambdas/handlers/finalize';
import { createHandler as loadRun } from '../lambdas/handlers/load-run';
import { createHandler as pause } from '../lambdas/handlers/pause';
import { createStreamHandler } from '../lambdas/handlers/run-events';
import type { Runtime } from '../lambdas/runtime';
import type { HandlerName } from '../lib/handler-names';
import type { LocalIam } from './iam/check';
import { asCaller } from './iam/clients';
import { AccessDenied } from './iam/policy';
import type { LocalFunction } from './template';

/** A deployed function's handler, as Lambda calls it. */
export type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** Makes an invocation of a function crash (Lambda.Unknown), as an out-of-memory or a process exit would. */
export type LambdaFaults = (fn: { handler: string; logicalId: string }, payload: unknown) => 'crash' | undefined;

/** A factory per deployed handler (lib/handler-names.ts is the list; the compiler checks none is missing). */
const FACTORIES: Record<HandlerName, (rt: Runtime) => Handler> = {
  'load-run': loadRun as (rt: Runtime) => Handler,
  'call-model': callModel as (rt: Runtime) => Handler,
  'call-tool': callTool as (rt: Runtime) => Handler,
  finalize: finalize as (rt: Runtime) => Handler,
  pause: pause as (rt: Runtime) => Handler,
  'await-approval': awaitApproval as (rt: Runtime) => Handler,
  'execution-status': executionStatus as (rt: Runtime) => Handler,
  api: api as (rt: Runtime) => Handler,
  // The engine's runtime (createRuntime) carries the API keys the authorizer reads.
  authorizer: authorizer as unknown as (rt: Runtime) => Handler,
  'export-trace': exportTrace as (rt: Runtime) => Handler,
  // A streaming handler, (event, responseStream, context): local/response-stream.ts invokes it.
  'run-events': createStreamHandler as unknown as (rt: Runtime) => Handler,
};

/**
 * The handler of a deployed function, running with `runtime`; every request it makes goes out with its function's
 * credentials (IAM offline). Undefined for a function that no handler of this app stands in for.
 */
export function deployedHandler(fn: LocalFunction, runtime: Runtime): Handler | undefined {
  const factory = (FACTORIES as Partial<Record<string, (rt: Runtime) => Handler>>)[fn.handler];
  if (!factory) return undefined;
  const handler = factory(runtime);
  // All arguments pass through: a streaming handler takes (event, responseStream, context).
  return (...args) => asCaller(fn.logicalId, () => (handler as (...a: unknown[]) => Promise<unknown>)(...args));
}

/** The Lambda context of one invocation of the function. */
export function lambdaContext(fn: LocalFunction): Context {
  const deadline = Date.now() + fn.timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.logicalId,
    functionVersion: fn.arn.split(':')[7] ?? '$LATEST',
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.logicalId}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** An error as the state machine sees a Lambda failure: name = Error, message = Cause. */
function lambdaError(name: string, cause: string): Error {
  return Object.assign(new Error(cause), { name, lambda: true });
}

/** The Lambda service as the state machine's tasks and the event source mappings invoke it. */
export class LambdaInvoker {
  constructor(
    private readonly iam: LocalIam,
    private readonly faults?: LambdaFaults,
  ) {}

  /**
   * One Lambda invocation as Lambda and the lambda:invoke integration report it: the payload and the result
   * JSON-serialized; the function's configured timeout enforced (Sandbox.Timedout); a function error as
   * Error = errorType, Cause = `{"errorType", "errorMessage", "trace"}`; a crash as Lambda.Unknown. (In-process, a
   * timed-out handler is not frozen: it runs on, its result ignored.)
   */
  async invoke(fn: LocalFunction, handler: Handler, payload: unknown): Promise<{ Payload: unknown; StatusCode: number; ExecutedVersion: string }> {
    const context = lambdaContext(fn);
    const fault = this.faults?.({ handler: fn.handler, logicalId: fn.logicalId }, payload);
    if (fault === 'crash') throw lambdaError('Lambda.Unknown', 'The cause could not be determined because Lambda did not return an error type.');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            lambdaError(
              'Sandbox.Timedout',
              JSON.stringify({
                errorType: 'Sandbox.Timedout',
                errorMessage: `RequestId: ${context.awsRequestId} Error: Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
              }),
            ),
          ),
        fn.timeoutSeconds * 1000,
      );
    });
    try {
      const result = await Promise.race([handler(JSON.parse(JSON.stringify(payload ?? null)), context), timedOut]);
      return { Payload: JSON.parse(JSON.stringify(result ?? null)), StatusCode: 200, ExecutedVersion: fn.arn.split(':')[7] ?? '$LATEST' };
    } catch (err) {
      if ((err as { lambda?: boolean }).lambda) throw err;
      const e = err instanceof Error ? err : new Error(String(err));
      const errorType = e.name || 'Error';
      throw lambdaError(errorType, JSON.stringify({ errorType, errorMessage: e.message, trace: (e.stack ?? '').split('\n') }));
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The state machine's role must allow lambda:InvokeFunction on the function (its ARN, qualified or not); a denied
   * invoke fails the task as Step Functions reports it (Lambda.AWSLambdaException, the cause naming AccessDenied).
   */
  authorizeStateMachine(functionName: string, principal = this.iam.model.stateMachine): void {
    if (!principal) return;
    try {
      this.iam.authorize(principal, 'lambda:InvokeFunction', [functionName]);
    } catch (err) {
      if (!(err instanceof AccessDenied)) throw err;
      throw Object.assign(new Error(`${err.message} (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException)`), { name: 'Lambda.AWSLambdaException' });
    }
  }
}
