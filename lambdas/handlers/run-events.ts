import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { type StreamHead, serveRunEvents } from '../api/events-route';
import { apiRequestOf } from '../api/proxy-event';
import { type BaseRuntime, createBaseRuntime, optionsFromEnv } from '../runtime/base';
import { createSpendWiring, type SpendWiring } from '../runtime/spend';

/** The response stream the Lambda runtime gives a streaming handler (`setContentType` is the runtime's). */
export type ResponseStream = Writable & { setContentType?: (type: string) => void };

/** The content type of a response that starts with API Gateway's metadata prelude. */
export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
/** The prelude's delimiter: 8 null bytes after the metadata JSON. */
export const PRELUDE_DELIMITER = new Uint8Array(8);

/**
 * What `awslambda.HttpResponseStream.from` writes: the metadata JSON (status code, headers), then the delimiter;
 * everything after is the body, streamed by API Gateway as it comes (the API Gateway page "Set up a Lambda proxy
 * integration with payload response streaming").
 */
export function writePrelude(stream: ResponseStream, head: StreamHead): void {
  stream.setContentType?.(HTTP_INTEGRATION_CONTENT_TYPE);
  stream.write(JSON.stringify({ statusCode: head.statusCode, headers: head.headers }));
  stream.write(PRELUDE_DELIMITER);
}

const writeChunk = (stream: ResponseStream, chunk: string) =>
  new Promise<void>((resolve, reject) => {
    stream.write(chunk, (err) => (err ? reject(err) : resolve()));
  });

/**
 * GET /runs/{id}/events behind a streaming Lambda proxy integration (API Gateway invokes it with
 * InvokeWithResponseStream): the run's trace as Server-Sent Events (lambdas/api/events-route.ts), polled with
 * strongly consistent queries, until the run ends or the function is about to time out (the client resumes with
 * Last-Event-ID).
 */
export function createStreamHandler(rt: BaseRuntime & SpendWiring) {
  return async (event: APIGatewayProxyEvent, stream: ResponseStream, context: Context): Promise<void> => {
    const req = apiRequestOf(event);
    // The client went away (API Gateway closed the stream): stop polling.
    const closed = new AbortController();
    stream.on('close', () => closed.abort());
    stream.on('error', () => closed.abort());
    try {
      await serveRunEvents(
        { runs: { getRun: (id) => rt.runs.getRun(id), traceItemsAfter: (id, after) => rt.runItems.traceItemsAfter(id, after) }, spend: rt.spend },
        req,
        { open: (head) => writePrelude(stream, head), write: (chunk) => writeChunk(stream, chunk) },
        { remainingMs: () => context.getRemainingTimeInMillis(), signal: closed.signal },
      );
    } catch (err) {
      rt.logger.error('event stream failed', { path: req.path, err });
    } finally {
      if (!stream.destroyed) stream.end();
    }
  };
}

/** The Lambda runtime's global for streaming handlers (present in the Node.js managed runtimes). */
declare const awslambda: { streamifyResponse?: (fn: (event: APIGatewayProxyEvent, stream: ResponseStream, context: Context) => Promise<void>) => unknown } | undefined;

let built: ReturnType<typeof createStreamHandler> | undefined;
/** The exported entry: built on first invocation from the deployed environment. */
export const handler =
  typeof awslambda === 'undefined' || typeof awslambda?.streamifyResponse !== 'function'
    ? undefined
    : awslambda.streamifyResponse((event, stream, context) => {
        built ??= createStreamHandler(fromEnv());
        return built(event, stream, context);
      });

function fromEnv(): BaseRuntime & SpendWiring {
  const options = optionsFromEnv();
  return { ...createBaseRuntime(options), ...createSpendWiring(options) };
}
