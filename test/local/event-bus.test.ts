import type { Logger } from '@aws-lambda-powertools/logger';
import { EXECUTION_STATUS_DETAIL_TYPE } from '../../lambdas/core/execution-status';
import { eventTime, LocalEventBus, STATUS_PAYLOAD_MAX_BYTES, statusPayload } from '../../local/event-bus';
import type { BusEvent } from '../../local/events';
import type { LocalExecution } from '../../local/executions';
import type { VersionRegistry } from '../../local/versions';

describe('the "Step Functions Execution Status Change" event, as Step Functions sends it', () => {
  it('time is ISO 8601 to the second, as EventBridge sends it', () => {
    expect(eventTime(new Date('2026-12-07T12:34:56.789Z'))).toBe('2026-12-07T12:34:56Z');
  });

  it('leaves the input out when the escaped input and output pass 248 KB, the output when it alone does', () => {
    const small = JSON.stringify({ runId: 'r1' });
    expect(statusPayload(small, undefined)).toEqual({ input: small, output: null, inputDetails: { included: true }, outputDetails: null });
    expect(statusPayload(small, '{"ok":true}')).toMatchObject({ input: small, output: '{"ok":true}', inputDetails: { included: true }, outputDetails: { included: true } });
    // Escaping counts: the input's 50,000 escaped quotes (\" , 100,011 characters) are 200,000+ bytes escaped again.
    const quotes = JSON.stringify({ pad: '"'.repeat(50_000) });
    expect(quotes.length).toBeLessThan(STATUS_PAYLOAD_MAX_BYTES);
    expect(statusPayload(quotes, undefined)).toMatchObject({ input: quotes, inputDetails: { included: true } });
    const output = JSON.stringify({ pad: 'x'.repeat(60_000) });
    expect(statusPayload(quotes, output)).toMatchObject({ input: null, inputDetails: { included: false }, output, outputDetails: { included: true } });
    const huge = JSON.stringify({ pad: '€'.repeat(90_000) });
    expect(statusPayload(small, huge)).toMatchObject({ input: null, inputDetails: { included: false }, output: null, outputDetails: { included: false } });
    expect(statusPayload(huge, undefined)).toMatchObject({ input: null, inputDetails: { included: false } });
  });

  it('publishStatus puts that event on the bus', async () => {
    const logger = { error: () => undefined } as unknown as Logger;
    const bus = new LocalEventBus({ Resources: {} }, {} as VersionRegistry, logger);
    const put: BusEvent[] = [];
    bus.putEvent = async (event) => {
      put.push(event);
    };
    const input = JSON.stringify({ runId: 'r1', pad: 'x'.repeat(STATUS_PAYLOAD_MAX_BYTES) });
    await bus.publishStatus({
      executionArn: 'arn:aws:states:local:000000000000:execution:M:r1',
      stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:M',
      name: 'r1',
      input,
      status: 'FAILED',
      startDate: new Date(),
      stopDate: new Date(),
      error: 'E',
      cause: 'C',
    } as LocalExecution);
    expect(put).toHaveLength(1);
    expect(put[0]?.['detail-type']).toBe(EXECUTION_STATUS_DETAIL_TYPE);
    expect(put[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(put[0]?.detail).toMatchObject({ name: 'r1', status: 'FAILED', input: null, inputDetails: { included: false }, output: null, error: 'E', cause: 'C' });
  });
});
