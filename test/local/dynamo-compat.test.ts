import { ConditionalCheckFailedException, DeleteItemCommand, DescribeTableCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { ensureTable, type LocalDynamo, startDynalite } from '../../local/dynamo';
import { withStream } from '../../local/dynamo-compat';

/** What DynamoDB answers and dynalite alone does not, through the unchanged SDK against the local server. */
describe('local DynamoDB: ReturnValuesOnConditionCheckFailure and stream fields, as DynamoDB answers', () => {
  let dynamo: LocalDynamo;
  let client: DynamoDBClient;
  const TABLE = 'Records';
  beforeAll(async () => {
    dynamo = await startDynalite();
    client = new DynamoDBClient({ ...dynamo.clientConfig, maxAttempts: 1 });
    const template = { Resources: { [TABLE]: { Type: 'AWS::DynamoDB::Table', Properties: { StreamSpecification: { StreamViewType: 'NEW_IMAGE' } } } } };
    const input = {
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST' as const,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' as const }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' as const }],
    };
    await ensureTable(dynamo.doc, withStream(input, template));
    await ensureTable(dynamo.doc, { ...input, TableName: 'Plain' });
    await client.send(new PutItemCommand({ TableName: TABLE, Item: { id: { S: 'k1' }, status: { S: 'IN_PROGRESS' } } }));
  });
  afterAll(async () => {
    client.destroy();
    await dynamo.close();
  });

  it('ALL_OLD: the failed condition carries the item as it stood; NONE or no item: no Item', async () => {
    const condition = { ConditionExpression: 'attribute_not_exists(id)' };
    const failure = async (send: Promise<unknown>) => {
      const err = await send.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConditionalCheckFailedException);
      return err as ConditionalCheckFailedException;
    };
    const put = await failure(client.send(new PutItemCommand({ TableName: TABLE, Item: { id: { S: 'k1' } }, ...condition, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
    expect(put.Item).toEqual({ id: { S: 'k1' }, status: { S: 'IN_PROGRESS' } });
    const update = await failure(
      client.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: { id: { S: 'k1' } },
          UpdateExpression: 'SET #s = :s',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': { S: 'X' } },
          ...condition,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    expect(update.Item).toEqual({ id: { S: 'k1' }, status: { S: 'IN_PROGRESS' } });
    const del = await failure(client.send(new DeleteItemCommand({ TableName: TABLE, Key: { id: { S: 'k1' } }, ...condition, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })));
    expect(del.Item).toEqual({ id: { S: 'k1' }, status: { S: 'IN_PROGRESS' } });
    expect(
      (await failure(client.send(new PutItemCommand({ TableName: TABLE, Item: { id: { S: 'k1' } }, ...condition, ReturnValuesOnConditionCheckFailure: 'NONE' })))).Item,
    ).toBeUndefined();
    expect((await failure(client.send(new PutItemCommand({ TableName: TABLE, Item: { id: { S: 'k1' } }, ...condition })))).Item).toBeUndefined();
    await expect(client.send(new PutItemCommand({ TableName: TABLE, Item: { id: { S: 'k1' } }, ReturnValuesOnConditionCheckFailure: 'SOME' as never }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('DescribeTable has StreamSpecification, LatestStreamArn and LatestStreamLabel for a table with a stream, none without', async () => {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: TABLE }));
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
    expect(Table?.LatestStreamLabel).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/);
    expect(Table?.LatestStreamArn).toBe(`${Table?.TableArn}/stream/${Table?.LatestStreamLabel}`);
    const plain = await client.send(new DescribeTableCommand({ TableName: 'Plain' }));
    expect(plain.Table?.StreamSpecification).toBeUndefined();
    expect(plain.Table?.LatestStreamArn).toBeUndefined();
  });
});
