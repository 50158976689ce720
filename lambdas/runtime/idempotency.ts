import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { idempotentToolRunner } from '../store/idempotent-tools';
import type { RuntimeOptions } from './base';
import type { ToolWiring } from './tools';

/**
 * Tool executions made idempotent (Powertools idempotency, keyed by run, step and call) when a table is given:
 * what call-tool runs. call-model only offers the tools, so it does not bundle this.
 */
export function withIdempotentTools(options: RuntimeOptions, tools: ToolWiring): ToolWiring {
  if (!options.idempotencyTableName) return tools;
  const idempotent = idempotentToolRunner(tools.runTool, {
    tableName: options.idempotencyTableName,
    client: options.idempotencyClient ?? new DynamoDBClient({ ...options.dynamoClientConfig }),
  });
  return { ...tools, runTool: idempotent.run, registerLambdaContext: (context) => idempotent.registerLambdaContext(context) };
}
