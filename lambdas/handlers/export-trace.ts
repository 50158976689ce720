import type { DynamoDBStreamEvent } from 'aws-lambda';
import { type RunStatus, TERMINAL_STATUSES } from '../core/types';
import { exportRunToLangfuse, langfuseTarget } from '../exporters/langfuse';
import { createSecretReader } from '../providers/secrets';
import { baseRuntimeFromEnv } from './runtime-base';
import { lambdaEntry, wrap } from './wrap';


/** DynamoDB stream → Langfuse: each run item that reached a terminal status has its trace exported, off the hot path. */
export const createHandler = wrap(async (rt, event: DynamoDBStreamEvent) => {
  const langfuse = rt.config.observability.langfuse;
  if (!langfuse) return { exported: 0 };
  const target = await langfuseTarget(langfuse, process.env, createSecretReader());
  let exported = 0;
  for (const record of event.Records) {
    const image = record.dynamodb?.NewImage;
    if (image?.sk?.S !== 'META' || !TERMINAL_STATUSES.includes((image.status?.S ?? '') as RunStatus) || !image.runId?.S) continue;
    await exportRunToLangfuse({ runs: rt.runs, target }, image.runId.S);
    exported++;
  }
  return { exported };
});
export const handler = lambdaEntry(createHandler, baseRuntimeFromEnv);
