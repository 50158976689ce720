import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { HTTP_INTEGRATION_CONTENT_TYPE, writePrelude } from '../../lambdas/handlers/run-events';
import { parseConfig } from '../../lib/config';
import { restApiOf } from '../../local/api-gateway';
import { type LocalResponseStream, relayStream } from '../../local/response-stream';
import { templateFor } from '../helpers/engine';

/** A response stream as InvokeWithResponseStream hands it to a handler. */
const responseStream = () =>
  Object.assign(new PassThrough(), {
    setContentType(t: string) {
      (this as LocalResponseStream).contentType = t;
    },
  }) as LocalResponseStream;

describe('API Gateway response streaming, offline', () => {
  let server: Server;
  let url: string;
  let next: (stream: LocalResponseStream) => void;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      const stream = responseStream();
      void relayStream(stream, res);
      next(stream);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('turns the metadata prelude into the status and headers, and passes each body chunk on as it is written', async () => {
    let stream!: LocalResponseStream;
    next = (s) => {
      stream = s;
      writePrelude(s, { statusCode: 201, headers: { 'content-type': 'text/event-stream', 'x-a': 'b' } });
      s.write('first\n');
    };
    const res = await fetch(url);
    expect([res.status, res.headers.get('content-type'), res.headers.get('x-a')]).toEqual([201, 'text/event-stream', 'b']);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    // The first chunk arrives while the function is still writing (the stream is not ended yet).
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first\n');
    stream.end('second\n');
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('second\n');
    expect((await reader.read()).done).toBe(true);
  });

  it('answers 502 when the function writes no prelude or the wrong content type', async () => {
    next = (s) => s.end('just a body');
    expect((await fetch(url)).status).toBe(502);
    next = (s) => {
      s.write(JSON.stringify({ statusCode: 200 }));
      s.end(Buffer.alloc(8));
    };
    expect((await fetch(url)).status).toBe(502);
    next = (s) => {
      s.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
      s.destroy(new Error('crashed'));
    };
    expect((await fetch(url)).status).toBe(502);
  });

  it('serves as streamed exactly the methods the template integrates with ResponseTransferMode STREAM on the streaming URI', () => {
    const template = templateFor(parseConfig({}));
    const streamed = restApiOf(template)
      .methods.filter((m) => m.integration.type === 'AWS_PROXY' && m.integration.stream)
      .map((m) => `${m.httpMethod} ${m.resourcePath}`);
    expect(streamed).toEqual(['GET /runs/{id}/events']);
    // A STREAM method on the buffered URI (or the reverse) is not an integration API Gateway would run.
    const copy = JSON.parse(JSON.stringify(template)) as typeof template;
    for (const r of Object.values(copy.Resources)) {
      const integration = r.Properties?.Integration as { ResponseTransferMode?: string } | undefined;
      if (r.Type === 'AWS::ApiGateway::Method' && integration?.ResponseTransferMode === 'STREAM') delete integration.ResponseTransferMode;
    }
    const events = restApiOf(copy).methods.find((m) => m.resourcePath === '/runs/{id}/events');
    expect(events?.integration.type).toBe('OTHER');
  });
});
