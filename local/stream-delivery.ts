import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBRecord } from 'aws-lambda';
import { matchesPattern } from './events';
import type { LambdaInvoker } from './lambda-invoker';
import { type LocalStreamMapping, type LocalStreamTable, streamMappingsOf } from './streams';
import type { CfnTemplate } from './template';
import type { VersionRegistry } from './versions';

/**
 * DynamoDB Streams → Lambda: the event source mappings of the template, each delivering its table's stream records
 * to its function (the latest deployed handler) in order, in batches, as Lambda's poller does.
 */
export class StreamDelivery {
  private mappings: LocalStreamMapping[];
  /** Records waiting for delivery, per event source mapping, and the delivery in progress. */
  private readonly queues = new Map<string, { records: DynamoDBRecord[]; pump?: Promise<void> }>();

  constructor(
    template: CfnTemplate,
    private readonly versions: VersionRegistry,
    private readonly invoker: LambdaInvoker,
    private readonly logger: Logger,
    /**
     * Called when a stream record's delivery to its function (the Langfuse exporter) failed on every attempt (the
     * run itself is not affected); `runId` is the record's run, when it has one.
     */
    private readonly onExportError?: (runId: string, err: Error) => void,
  ) {
    this.mappings = streamMappingsOf(template);
  }

  /** A deploy replaces the mappings with the new template's. */
  deploy(template: CfnTemplate): void {
    this.mappings = streamMappingsOf(template);
  }

  /**
   * A table's stream record → every event source mapping of the template on that table whose filters match it
   * (the same patterns Lambda applies), delivered in order in batches of the mapping's BatchSize, each batch
   * retried as the mapping says (at most 3 times here), then dropped.
   */
  onStreamRecord(table: LocalStreamTable, record: DynamoDBRecord): void {
    for (const mapping of this.mappings) {
      if (mapping.table !== table.name) continue;
      if (mapping.filters.length && !mapping.filters.some((f) => matchesPattern(f, record as unknown as Record<string, unknown>))) continue;
      const queue = this.queues.get(mapping.logicalId) ?? { records: [] };
      this.queues.set(mapping.logicalId, queue);
      queue.records.push(record);
      queue.pump ??= this.pump(mapping, queue).finally(() => {
        queue.pump = undefined;
      });
    }
  }

  private async pump(mapping: LocalStreamMapping, queue: { records: DynamoDBRecord[] }): Promise<void> {
    await new Promise((r) => setImmediate(r));
    while (queue.records.length) {
      const batch = queue.records.splice(0, Math.max(1, mapping.batchSize));
      const fn = [...this.versions.latest.functions.values()].find((f) => f.logicalId === mapping.functionLogicalId);
      const handler = fn && this.versions.latest.handlers.get(fn.arn);
      if (!fn || !handler) continue;
      const attempts = 1 + (mapping.retryAttempts < 0 ? 3 : Math.min(mapping.retryAttempts, 3));
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          await this.invoker.invoke(fn, handler, { Records: batch });
          break;
        } catch (err) {
          this.logger.error('stream batch failed', { mapping: mapping.logicalId, attempt, err });
          if (attempt === attempts) for (const r of batch) this.onExportError?.(r.dynamodb?.NewImage?.runId?.S ?? '', err as Error);
        }
      }
    }
  }

  /** Whether a stream record waits for delivery. */
  busy(): boolean {
    return [...this.queues.values()].some((q) => q.pump);
  }

  /** Settles when every stream record written so far has been delivered (or dropped). */
  async idle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const pumps = [...this.queues.values()].flatMap((q) => (q.pump ? [q.pump] : []));
      if (!pumps.length) return;
      await Promise.allSettled(pumps);
    }
  }
}
