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
