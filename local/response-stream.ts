import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { LocalEngine } from './engine';
import { lambdaContext } from './lambda-invoker';
import type { LocalFunction } from './template';

/**
 * API Gateway REST response streaming, offline: the template's methods whose Lambda proxy integration has
 * `ResponseTransferMode: STREAM` are served by invoking the function as InvokeWithResponseStream does (the handler
 * gets a response stream and writes to it), and the bytes are relayed as API Gateway relays them: the metadata
 * prelude (a JSON object with statusCode and headers, then 8 null bytes) becomes the status line and headers, and
 * everything after it is the body, passed on chunk by chunk as the function writes it. A response without a valid
 * prelude is a 502, as in AWS.
 */

/** The content type a streaming function sets for an HTTP integration response (the runtime's constant). */
const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER = Buffer.alloc(8);

/** The response stream a streaming handler writes to: a byte stream with the runtime's `setContentType`. */
export type LocalResponseStream = PassThrough & { setContentType: (type: string) => void; contentType?: string };

/**
 * Lambda's InvokeWithResponseStream, offline: the function's handler runs with a response stream; the returned
 * stream carries the bytes it writes as it writes them, and ends when the handler is done (or fails).
 */
export function invokeWithResponseStream(engine: LocalEngine, fn: LocalFunction, event: APIGatewayProxyEvent): LocalResponseStream {
  const handler = engine.versions.latest.handlers.get(fn.arn) as ((event: unknown, stream: unknown, context: unknown) => Promise<unknown>) | undefined;
  const stream = Object.assign(new PassThrough(), {
    setContentType(type: string) {
      stream.contentType = type;
    },
  }) as LocalResponseStream;
  if (!handler) {
    stream.destroy(new Error(`function ${fn.logicalId} has no handler`));
    return stream;
  }
  handler(event, stream, lambdaContext(fn)).then(
    () => {
      if (!stream.writableEnded) stream.end();
    },
    (err: Error) => stream.destroy(err),
  );
  return stream;
}

/**
 * Relays a streamed function response to the HTTP client as API Gateway does: the prelude's status and headers,
 * then the body as it arrives. 502 when the function fails before its prelude or writes none.
 */
export async function relayStream(source: LocalResponseStream, res: ServerResponse): Promise<void> {
  let head = Buffer.alloc(0);
  let started = false;
  const badGateway = (): void => {
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: 'Internal server error' }));
  };
  // The client went away: stop reading (the function finishes its current write and ends).
  res.on('close', () => source.destroy());
  try {
    for await (const chunk of source) {
      if (started) {
        res.write(chunk);
        continue;
      }
      head = Buffer.concat([head, chunk as Buffer]);
      const at = head.indexOf(DELIMITER);
      if (at < 0) continue;
      if (source.contentType !== PRELUDE_CONTENT_TYPE) return badGateway();
      let meta: { statusCode?: number; headers?: Record<string, string>; multiValueHeaders?: Record<string, string[]>; cookies?: string[] };
      try {
        meta = JSON.parse(head.subarray(0, at).toString('utf8'));
      } catch {
        return badGateway();
      }
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(meta.headers ?? {})) headers[k.toLowerCase()] = String(v);
      for (const [k, v] of Object.entries(meta.multiValueHeaders ?? {})) headers[k.toLowerCase()] = v.map(String);
      if (meta.cookies?.length) headers['set-cookie'] = meta.cookies;
      res.writeHead(meta.statusCode ?? 200, headers);
      // Each chunk goes out as it comes: no buffering of the body.
      res.flushHeaders();
      started = true;
      const rest = head.subarray(at + DELIMITER.length);
      if (rest.length) res.write(rest);
    }
  } catch {
    if (!started) return badGateway();
  }
  if (!started) return badGateway();
  res.end();
}
