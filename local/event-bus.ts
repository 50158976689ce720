import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { EXECUTION_STATUS_DETAIL_TYPE } from '../lambdas/core/execution-status';
import { type BusEvent, type LocalRule, matchesPattern, rulesOf } from './events';
import type { LocalExecution } from './executions';
import { lambdaContext } from './lambda-invoker';
import { type CfnTemplate, LOCAL_ACCOUNT, LOCAL_REGION } from './template';
import type { VersionRegistry } from './versions';

/** EventBridge's quota on an event: what Step Functions leaves room for in the status change's input and output. */
export const STATUS_PAYLOAD_MAX_BYTES = 248 * 1024;

/** An event's `time`, as EventBridge sends it: ISO 8601 in UTC, to the second (`2026-12-07T12:00:00Z`). */
export function eventTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The status change's input and output as Step Functions sends them (Developer Guide, "EventBridge (CloudWatch
 * Events) for Step Functions execution status changes", EventBridge payloads): "If the combined escaped input and
 * escaped output sent to EventBridge exceeds 248KB, then the input will be excluded. Similarly, if the escaped output
 * exceeds 248KB, then the output will be excluded"; `inputDetails`/`outputDetails.included` say which.
 */
export function statusPayload(input: string, output: string | undefined): Record<string, unknown> {
  const escaped = (s: string) => Buffer.byteLength(JSON.stringify(s), 'utf8');
  const outputBytes = output === undefined ? 0 : escaped(output);
  const inputIncluded = escaped(input) + outputBytes <= STATUS_PAYLOAD_MAX_BYTES;
  const outputIncluded = output !== undefined && outputBytes <= STATUS_PAYLOAD_MAX_BYTES;
  return {
    input: inputIncluded ? input : null,
    output: outputIncluded ? output : null,
    inputDetails: { included: inputIncluded },
    outputDetails: output === undefined ? null : { included: outputIncluded },
  };
}

/**
 * The local EventBridge default bus: the rules the template declares, their Lambda targets invoked in-process with
 * the latest deployed handlers. Step Functions publishes its executions' status changes on it.
 */
export class LocalEventBus {
  rules: LocalRule[];

  constructor(
    template: CfnTemplate,
    private readonly versions: VersionRegistry,
    private readonly logger: Logger,
    /** Called when delivering an event to a rule's target fails (EventBridge would retry). */
    private readonly onDeliveryError?: (rule: string, err: Error) => void,
  ) {
    this.rules = rulesOf(template);
  }

  /** A deploy replaces the rules with the new template's. */
  deploy(template: CfnTemplate): void {
    this.rules = rulesOf(template);
  }

  /** Publishes the execution's status change on the bus ("Step Functions Execution Status Change"). */
  async publishStatus(execution: LocalExecution): Promise<void> {
    await this.putEvent({
      version: '0',
      id: randomUUID(),
      'detail-type': EXECUTION_STATUS_DETAIL_TYPE,
      source: 'aws.states',
      account: LOCAL_ACCOUNT,
      time: eventTime(new Date()),
      region: LOCAL_REGION,
      resources: [execution.executionArn],
      detail: {
        executionArn: execution.executionArn,
        stateMachineArn: execution.stateMachineArn,
        name: execution.name,
        status: execution.status,
        startDate: execution.startDate.getTime(),
        stopDate: execution.stopDate?.getTime() ?? null,
        ...statusPayload(execution.input, execution.output),
        error: execution.error ?? null,
        cause: execution.cause ?? null,
        // As the documented event: the machine's unqualified ARN above, the alias and version an execution was
        // started through in their own fields (null when started on the machine itself).
        stateMachineVersionArn: execution.stateMachineVersionArn ?? null,
        stateMachineAliasArn: execution.stateMachineAliasArn ?? null,
      },
    });
  }

  /**
   * Delivers an event to the Lambda targets of every matching rule, as the default bus does; a failed delivery is
   * retried (EventBridge retries for up to 24 hours; here a few times, at once).
   */
  async putEvent(event: BusEvent): Promise<void> {
    for (const rule of this.rules) {
      if (!matchesPattern(rule.pattern, event as unknown as Record<string, unknown>)) continue;
      for (const target of rule.targets) {
        const fn = this.versions.latest.functions.get(target);
        const handler = this.versions.latest.handlers.get(target);
        if (!fn || !handler) continue;
        for (let attempt = 1; attempt <= 3; attempt++) {
          try {
            await handler(event, lambdaContext(fn));
            break;
          } catch (err) {
            this.logger.error('event delivery failed', { rule: rule.logicalId, target, attempt, err });
            this.onDeliveryError?.(rule.logicalId, err as Error);
          }
        }
      }
    }
  }
}
