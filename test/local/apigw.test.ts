import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { claimsFor, toProxyEvent, writeProxyResult } from '../../local/apigw';

describe('API Gateway REST proxy adapter', () => {
  it('request → event: method, path, query, headers, body and the authorizer claims a token stands for', () => {
    const event = toProxyEvent(
      {
        method: 'post',
        url: '/runs/abc/cancel?limit=5&x=1&x=2',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json', 'x-multi': ['a', 'b'] },
        body: '{"input":"hi"}',
      },
      claimsFor('alice'),
    );
    expect(event).toMatchObject({
      httpMethod: 'POST',
      path: '/runs/abc/cancel',
      queryStringParameters: { limit: '5', x: '2' },
      multiValueQueryStringParameters: { limit: ['5'], x: ['1', '2'] },
      headers: { authorization: 'Bearer t', 'content-type': 'application/json', 'x-multi': 'a,b' },
      multiValueHeaders: { 'x-multi': ['a', 'b'] },
      body: '{"input":"hi"}',
      isBase64Encoded: false,
      requestContext: { authorizer: { claims: { sub: 'alice' } }, httpMethod: 'POST', stage: 'local' },
    });
  });

  it('an unauthenticated request carries no claims, an empty body is null, no query is null', () => {
    const event = toProxyEvent({ method: 'GET', url: '/runs', headers: {}, body: '' }, null);
    expect(event.requestContext.authorizer).toBeNull();
    expect(event.body).toBeNull();
    expect(event.queryStringParameters).toBeNull();
  });

  it('result → response: status, headers (single and multi-value) and body, base64 bodies decoded', async () => {
    const results = [
      { statusCode: 202, headers: { 'Content-Type': 'application/json', 'Retry-After': 1 }, multiValueHeaders: { 'set-cookie': ['a=1', 'b=2'] }, body: '{"runId":"r"}' },
      { statusCode: 200, headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 1, 2, 255]).toString('base64'), isBase64Encoded: true },
    ];
    let next = 0;
    const server = createServer((_req, res) => writeProxyResult(results[next++] as never, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const first = await fetch(url);
      expect(first.status).toBe(202);
      expect(first.headers.get('content-type')).toBe('application/json');
      expect(first.headers.get('retry-after')).toBe('1');
      expect(first.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
      expect(await first.json()).toEqual({ runId: 'r' });
      const second = await fetch(url);
      expect([...new Uint8Array(await second.arrayBuffer())]).toEqual([0, 1, 2, 255]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
