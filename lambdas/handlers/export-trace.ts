import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { TraceEventType } from '../core/trace';
import { type RunStatus, TERMINAL_STATUSES } from '../core/types';
import { exportRunToLangfuse, langfuseTarget } from '../exporters/langfuse';
import { createSecretReader } from '../providers/secrets';
import { createBaseRuntime, optionsFromEnv } from '../runtime/base';
import { lambdaEntry, wrap } from '../runtime/wrap';

/** The run a stream record is about: a run item at a terminal status, or a run's run_finished trace event. */
function exportedRunOf(image: NonNullable<NonNullable<DynamoDBStreamEvent['Records'][number]['dynamodb']>['NewImage']> | undefined): string | undefined {
  if (!image) return undefined;
  if (image.sk?.S === 'META') return TERMINAL_STATUSES.includes((image.status?.S ?? '') as RunStatus) ? image.runId?.S : undefined;
  if (image.type?.S === ('run_finished' satisfies TraceEventType) && image.pk?.S?.startsWith('RUN#')) return image.pk.S.slice('RUN#'.length);
  return undefined;
}

/**
 * DynamoDB stream → Langfuse, off the hot path: a run that reached a terminal status, and again when its
 * run_finished event lands (its trace complete), has its trace exported (ids are deterministic: an update).
 */
export const createHandler = wrap(async (rt, event: DynamoDBStreamEvent) => {
  const langfuse = rt.config.observability.langfuse;
  if (!langfuse) return { exported: 0 };
  const target = await langfuseTarget(langfuse, process.env, rt.secrets);
  let exported = 0;
  const runIds = new Set(event.Records.flatMap((record) => exportedRunOf(record.dynamodb?.NewImage) ?? []));
  for (const runId of runIds) {
    await exportRunToLangfuse({ runs: rt.runs, target }, runId);
    exported++;
  }
  return { exported };
});
/** The base and a Secrets Manager reader (the Langfuse keys' secret). */
export const handler = lambdaEntry(createHandler, () => createBaseRuntime(optionsFromEnv(process.env, createSecretReader())));
