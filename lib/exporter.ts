import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { TraceEventType } from '../lambdas/core/trace';
import { TERMINAL_STATUSES } from '../lambdas/core/types';

export interface TraceExporterProps {
  readonly table: dynamodb.ITable;
  readonly exporter: lambda.IFunction;
  /** Secrets Manager secret with the Langfuse keys. */
  readonly secret?: string;
}

/** Feeds finished runs from the table's stream to the exporter Lambda (Langfuse), off the hot path. */
export class TraceExporter extends Construct {
  constructor(scope: Construct, id: string, props: TraceExporterProps) {
    super(scope, id);
    props.exporter.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: 10,
        retryAttempts: 3,
        bisectBatchOnError: true,
        // The run reaching a terminal status, and its run_finished trace event (written after it: an export on the
        // status alone can miss the trace's end; ids are deterministic, so the second export updates the first).
        filters: [
          lambda.FilterCriteria.filter({ dynamodb: { NewImage: { sk: { S: lambda.FilterRule.isEqual('META') }, status: { S: lambda.FilterRule.or(...TERMINAL_STATUSES) } } } }),
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: { NewImage: { type: { S: lambda.FilterRule.isEqual('run_finished' satisfies TraceEventType) } } },
          }),
        ],
      }),
    );
    if (props.secret) {
      const secret = props.secret.startsWith('arn:')
        ? secretsmanager.Secret.fromSecretCompleteArn(this, 'Keys', props.secret)
        : secretsmanager.Secret.fromSecretNameV2(this, 'Keys', props.secret);
      secret.grantRead(props.exporter);
    }
  }
}
