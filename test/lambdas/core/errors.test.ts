import {
  BadRequest,
  CircuitOpen,
  causeMessage,
  countsForBreaker,
  ModelRefusal,
  QuotaExhausted,
  RateLimited,
  RETRYABLE_ERRORS,
  RetryAfterTooLong,
  retryAfterDecision,
  TimeoutError,
  TransientError,
  toAgentError,
} from '../../../lambdas/core/errors';

describe('the error taxonomy', () => {
  it('names every class so Retry/Catch can match it after minification', () => {
    const all = [
      new TransientError('x'),
      new RateLimited('x'),
      new TimeoutError('x'),
      new CircuitOpen('x'),
      new QuotaExhausted('x'),
      new ModelRefusal('x'),
      new BadRequest('x'),
      new RetryAfterTooLong('x'),
    ];
    expect(all.map((e) => e.name)).toEqual(['TransientError', 'RateLimited', 'TimeoutError', 'CircuitOpen', 'QuotaExhausted', 'ModelRefusal', 'BadRequest', 'RetryAfterTooLong']);
    expect(all.filter((e) => e.retryable).map((e) => e.name)).toEqual([...RETRYABLE_ERRORS]);
  });

  it('counts only the dependency’s own failures for the breaker', () => {
    expect(countsForBreaker(new TransientError('x'))).toBe(true);
    expect(countsForBreaker(new QuotaExhausted('x'))).toBe(true);
    expect(countsForBreaker(new BadRequest('x'))).toBe(false);
    expect(countsForBreaker(new ModelRefusal('x'))).toBe(false);
    expect(countsForBreaker(new CircuitOpen('x'))).toBe(false);
  });

  it('classifies unknown errors as transient', () => {
    expect(toAgentError(new Error('socket hang up'))).toBeInstanceOf(TransientError);
  });
});

describe('Retry-After', () => {
  it('waits out a Retry-After within the retry window', () => {
    expect(retryAfterDecision({ retryAfterSeconds: 3, maxDelaySeconds: 20, remainingMs: 30_000 })).toEqual({ action: 'retry', waitMs: 3000 });
  });
  it('fails over when Retry-After is past the window or the handler’s time', () => {
    expect(retryAfterDecision({ retryAfterSeconds: 60, maxDelaySeconds: 20, remainingMs: 300_000 })).toMatchObject({ action: 'failover' });
    expect(retryAfterDecision({ retryAfterSeconds: 10, maxDelaySeconds: 20, remainingMs: 5_000 })).toMatchObject({ action: 'failover' });
  });
});

describe('causeMessage', () => {
  it("takes a Lambda function error's errorMessage out of its Cause document, and leaves other causes as they are", () => {
    expect(causeMessage(JSON.stringify({ errorType: 'TransientError', errorMessage: 'upstream 503', trace: ['at x'] }))).toBe('upstream 503');
    expect(causeMessage('The cause could not be determined because Lambda did not return an error type.')).toBe(
      'The cause could not be determined because Lambda did not return an error type.',
    );
    expect(causeMessage('{not json')).toBe('{not json');
    expect(causeMessage(undefined)).toBe('');
  });
});

describe('the one list of error names', () => {
  it('holds every class of the taxonomy, and each name re-raises its own class', async () => {
    const errors = await import('../../../lambdas/core/errors');
    const classes = Object.entries(errors).filter(([, v]) => typeof v === 'function' && v.prototype instanceof errors.AgentError);
    expect(classes.map(([name]) => name).sort()).toEqual([...errors.ERROR_NAMES].sort());
    for (const name of errors.ERROR_NAMES) {
      const err = errors.errorFromName(name, 'TOKEN_BUDGET: why');
      const Class = (errors as unknown as Record<string, (new (...a: never[]) => Error) | undefined>)[name];
      expect({ name, is: err.name, ofItsClass: Class !== undefined && err instanceof Class }).toEqual({ name, is: name, ofItsClass: true });
    }
    expect(errors.errorFromName('BudgetExceeded', 'COST_BUDGET: $0.01 left')).toMatchObject({ reason: 'COST_BUDGET', message: 'COST_BUDGET: $0.01 left' });
    expect(errors.errorFromName('SomethingElse', 'x')).toBeInstanceOf(TransientError);
  });

  it('the state machine retries the transient dependency failures only', () => {
    expect([...RETRYABLE_ERRORS].sort()).toEqual(['RateLimited', 'TimeoutError', 'TransientError']);
  });
});
