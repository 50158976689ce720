/**
 * The `lambda` tool kind: an existing Lambda function, invoked synchronously (RequestResponse) with the model's
 * arguments as its event. The idempotency key travels in the client context
 * (`context.clientContext.Custom.idempotencyKey` in a Node.js function), the same on every retry of the call.
 *
 * Classification (lambdas/core/errors.ts):
 * - the function ran and failed (`FunctionError`: an unhandled exception or a handled error) → an error result the
 *   model reads (its `errorType: errorMessage`), the same as a tool's 4xx: retrying would not help;
 * - throttling (TooManyRequestsException, EC2ThrottledException) → RateLimited; Lambda service errors (5xx,
 *   ResourceNotReady/ResourceConflict, network failures) → TransientError: the state machine retries them;
 * - the client timeout (`timeoutMs`) → TimeoutError;
 * - other 4xx (no such function, access denied, a payload too large) → BadRequest, an error result.
 * Each invocation goes through `guard("tool:<name>", …)`.
 *
 * Offline the invoke is the same SDK call, sent to the local engine's Lambda endpoint (local/lambda-api.ts), which
 * checks the caller's `lambda:InvokeFunction` grant and runs the tool's `localHandler` ("path/to/file.ts#export") as
 * the function.
 *
 * The Lambda client is loaded on the first invoke, not with the module: `kind: "lambda"` tools are optional, so
 * call-tool's bundle leaves `@aws-sdk/client-lambda` to the Lambda runtime's SDK (lib/bundling.ts) and a deployment
 * without lambda tools never loads it; one with lambda tools pays the load once per container, on its first
 * lambda-tool call.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { ToolConfig } from '../core/config';
import { AgentError, BadRequest, RateLimited, TimeoutError, TransientError } from '../core/errors';
import { callConfiguredTool, type Guard, identityGuard } from './http-tool';
import { MAX_CONTENT_BYTES, type Tool, type ToolContext, truncateUtf8 } from './types';

export type LambdaToolConfig = Extract<ToolConfig, { kind: 'lambda' }>;

/** What one synchronous invocation returned. */
export interface InvokeOutcome {
  /** The function's response payload (UTF-8). */
  payload: string;
  /** Set when the function failed ("Unhandled" or "Handled"): the payload is its error object. */
  functionError?: string;
}

export interface InvokeRequest {
  functionArn: string;
  /** The event, serialized. */
  payload: string;
  /** What the function sees as `context.clientContext.Custom`. */
  custom: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Invokes a function; throws only taxonomy errors. */
export type LambdaInvoker = (request: InvokeRequest) => Promise<InvokeOutcome>;

const THROTTLES = new Set(['TooManyRequestsException', 'EC2ThrottledException', 'ThrottlingException']);
const TRANSIENT = new Set(['ServiceException', 'ResourceNotReadyException', 'ResourceConflictException', 'EC2UnexpectedException', 'ENILimitReachedException']);

/** Maps an SDK failure of Invoke into the taxonomy. */
export function classifyLambdaError(err: unknown, label: string): AgentError {
  if (err instanceof AgentError) return err;
  const e = err as { name?: string; message?: string; $fault?: string; $metadata?: { httpStatusCode?: number }; retryAfterSeconds?: string };
  const name = e?.name ?? 'Error';
  const message = `${label}: ${name}: ${e?.message ?? String(err)}`;
  const status = e?.$metadata?.httpStatusCode;
  const opts = { ...(status === undefined ? {} : { status }), cause: err };
  if (name === 'AbortError' || name === 'TimeoutError') return new TimeoutError(message, opts);
  if (THROTTLES.has(name) || status === 429) {
    const retryAfter = Number(e.retryAfterSeconds);
    return new RateLimited(message, { ...opts, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}) });
  }
  if (TRANSIENT.has(name) || e?.$fault === 'server' || (status !== undefined && status >= 500)) return new TransientError(message, opts);
  if (e?.$fault === 'client' || (status !== undefined && status >= 400)) return new BadRequest(message, opts);
  return new TransientError(message, opts); // no response at all: a network failure
}

type LambdaSdk = typeof import('@aws-sdk/client-lambda');
let lambdaSdk: LambdaSdk | undefined;
/**
 * `@aws-sdk/client-lambda`, loaded once, on the first invoke (see above). With `require`, not `import()`: the Lambda
 * runtime's SDK is found through NODE_PATH (/var/runtime/node_modules), which only CommonJS resolution reads.
 */
function loadLambdaSdk(): LambdaSdk {
  lambdaSdk ??= require('@aws-sdk/client-lambda') as LambdaSdk;
  return lambdaSdk;
}

/**
 * Invokes through the AWS SDK (one client per region; the SDK's own retries off: the state machine retries).
 * `clientFor` gives the client of a region (the local engine: one bound to its Lambda endpoint, signing as the
 * calling function).
 */
export function sdkInvoker(options: { clientFor?: (region: string) => LambdaClient } = {}): LambdaInvoker {
  const clients = new Map<string, LambdaClient>();
  const clientFor = (sdk: LambdaSdk, region: string): LambdaClient => {
    if (options.clientFor) return options.clientFor(region);
    let client = clients.get(region);
    if (!client) {
      client = new sdk.LambdaClient({ region, maxAttempts: 1 });
      clients.set(region, client);
    }
    return client;
  };
  return async (request) => {
    const region = request.functionArn.split(':')[3] ?? 'us-east-1';
    // Before the call's timer: loading the client is not the function's time.
    let sdk: LambdaSdk;
    try {
      sdk = loadLambdaSdk();
    } catch (err) {
      throw classifyLambdaError(err, `lambda ${request.functionArn}: loading @aws-sdk/client-lambda`);
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), request.timeoutMs);
    const onAbort = () => abort.abort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const out = await clientFor(sdk, region).send(
        new sdk.InvokeCommand({
          FunctionName: request.functionArn,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(request.payload),
          ClientContext: Buffer.from(JSON.stringify({ custom: request.custom })).toString('base64'),
        }),
        { abortSignal: abort.signal },
      );
      return { payload: out.Payload ? new TextDecoder().decode(out.Payload) : '', ...(out.FunctionError ? { functionError: out.FunctionError } : {}) };
    } catch (err) {
      if (abort.signal.aborted) throw new TimeoutError(`lambda ${request.functionArn}: no answer within ${request.timeoutMs} ms`, { cause: err });
      throw classifyLambdaError(err, `lambda ${request.functionArn}`);
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
    }
  };
}

/** The text of a function error payload: "errorType: errorMessage" when it has that shape. */
function functionErrorText(payload: string): string {
  try {
    const parsed = JSON.parse(payload) as { errorType?: string; errorMessage?: string };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorType ? `${parsed.errorType}: ${parsed.errorMessage}` : parsed.errorMessage;
  } catch {
    // not JSON
  }
  return payload;
}

/** The response payload as the model reads it: a JSON string unwrapped, other JSON compact. */
function payloadText(payload: string): string {
  const trimmed = payload.trim();
  if (trimmed === '' || trimmed === 'null') return '(no result)';
  try {
    const parsed = JSON.parse(trimmed);
    return typeof parsed === 'string' ? parsed : JSON.stringify(parsed);
  } catch {
    return payload;
  }
}

/** A configured lambda tool. */
export function createLambdaTool(config: LambdaToolConfig, deps: { invoker: LambdaInvoker; guard?: Guard }): Tool {
  const guard = deps.guard ?? identityGuard;
  const dependency = `tool:${config.name}`;
  const source = `lambda:${config.functionArn}`;
  return {
    spec: { name: config.name, description: config.description, parameters: config.parameters },
    run: (args: unknown, ctx: ToolContext) =>
      callConfiguredTool(config.name, dependency, args, ['CircuitOpen'], async (event) => {
        const out = await guard(dependency, () =>
          deps.invoker({
            functionArn: config.functionArn,
            payload: JSON.stringify(event),
            custom: { idempotencyKey: ctx.idempotencyKey, runId: ctx.runId, toolCallId: ctx.toolCallId },
            timeoutMs: config.timeoutMs,
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          }),
        );
        if (out.functionError) {
          return {
            content: truncateUtf8(`${config.name} failed (${out.functionError}): ${functionErrorText(out.payload)}`, MAX_CONTENT_BYTES),
            isError: true,
            data: { error: 'FunctionError', functionError: out.functionError },
            source,
          };
        }
        return { content: truncateUtf8(payloadText(out.payload), MAX_CONTENT_BYTES), data: { functionArn: config.functionArn }, source };
      }),
  };
}
