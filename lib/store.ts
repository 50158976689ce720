import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/** Props of the agent's store. */
export interface AgentStoreProps {
  /**
   * What happens to the table when the stack is deleted.
   * @default RemovalPolicy.RETAIN - conversations, traces and checkpoints outlive the stack
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The one table (docs/architecture.md, The table): runs, append-only messages, trace events, breaker state. On-demand, point-in-time
 * recovery, retained, a GSI listing a user's runs newest first, and a stream for off-hot-path exporters.
 */
export class AgentStore extends Construct {
  readonly table: dynamodb.Table;
  /** Powertools idempotency records of tool executions (a retry of a call that ran returns its stored result). */
  readonly idempotencyTable: dynamodb.Table;

  constructor(scope: Construct, id: string, props: AgentStoreProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      timeToLiveAttribute: 'expiresAt',
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'byUser',
      partitionKey: { name: 'userId', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'createdAt', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.idempotencyTable = new dynamodb.Table(this, 'Idempotency', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      timeToLiveAttribute: 'expiration',
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
    });
  }
}
