import { connect, type Socket } from 'node:net';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoWithAgentTable } from '../helpers/dynamo';

describe('local dynalite', () => {
  it('serves the agent table with its user index', async () => {
    const d = await dynamoWithAgentTable();
    try {
      await d.doc.send(new PutCommand({ TableName: d.tableName, Item: { pk: 'RUN#1', sk: 'META', userId: 'u', createdAt: '2026' } }));
      const got = await d.doc.send(new GetCommand({ TableName: d.tableName, Key: { pk: 'RUN#1', sk: 'META' } }));
      expect(got.Item?.userId).toBe('u');
      const q = await d.doc.send(
        new QueryCommand({ TableName: d.tableName, IndexName: 'byUser', KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': 'u' } }),
      );
      expect(q.Items).toHaveLength(1);
    } finally {
      await d.close();
    }
  });
});

describe('closing dynalite with requests in flight', () => {
  const getItemRequest = (endpoint: string) => {
    const { hostname, port } = new URL(endpoint);
    const body = JSON.stringify({ TableName: 'AgentTable', Key: { pk: { S: 'RUN#1' }, sk: { S: 'META' } } });
    const head = [
      'POST / HTTP/1.1',
      `Host: ${hostname}:${port}`,
      'Content-Type: application/x-amz-json-1.0',
      'X-Amz-Target: DynamoDB_20120810.GetItem',
      'X-Amz-Date: 20261129T000000Z',
      'Authorization: AWS4-HMAC-SHA256 Credential=local/20261129/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
      '',
      '',
    ].join('\r\n');
    return { head, body, port: Number(port), hostname };
  };
  /** A raw connection's whole answer (or its error code when it is reset). */
  const answerOf = (socket: Socket) =>
    new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString();
      });
      socket.on('end', () => resolve(text));
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });

  // A handler still running when its engine stops (its client gone mid-request) would otherwise have dynalite close
  // its database under an action still running, which throws out of the process.
  it('finishes the requests it has before closing its database, and refuses new ones once closing', async () => {
    const d = await dynamoWithAgentTable();
    await d.doc.send(new PutCommand({ TableName: d.tableName, Item: { pk: 'RUN#1', sk: 'META' } }));
    const { head, body, port, hostname } = getItemRequest(d.endpoint);
    // A request whose body is still on its way when the close begins.
    const slow = connect(port, hostname);
    const slowAnswer = answerOf(slow);
    await new Promise<void>((r) => slow.write(head + body.slice(0, 10), () => r()));
    await new Promise((r) => setTimeout(r, 50));
    let closed = false;
    const closing = d.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    // A new request meanwhile is refused as a stopped process refuses it.
    const late = connect(port, hostname);
    const lateAnswer = answerOf(late);
    late.write(head + body);
    expect(await lateAnswer).toMatch(/^(ECONNRESET|EPIPE|)$/);
    // The first one, once whole, is answered from the table; then the database closes.
    slow.write(body.slice(10));
    expect(await slowAnswer).toMatch(/^HTTP\/1\.1 200[\s\S]*RUN#1/);
    await closing;
    expect(closed).toBe(true);
  });
});
