import { isErrorName } from '../../../lambdas/core/errors';
import type { Outcome } from '../../../lambdas/core/steps/finalize';
import { isStopReason, RUN_STATUSES, type RunStatus, STOP_REASONS, type StopReason } from '../../../lambdas/core/types';

/**
 * Statuses, stop reasons, exits and error names are closed unions: `npm run typecheck` covers test/, so each
 * `@ts-expect-error` below fails the typecheck when a misspelt value would compile. Never called: only the compiler
 * reads it.
 */
function misspelt(): unknown[] {
  // @ts-expect-error a misspelt stop reason
  const reason: StopReason = 'STEP_BUGDET';
  // @ts-expect-error a misspelt status
  const status: RunStatus = 'SUCCEDED';
  // @ts-expect-error a misspelt exit of the loop
  const outcome: Outcome = 'SURENDER';
  return [reason, status, outcome];
}

describe('the closed unions at run time', () => {
  it('has the compile-time checks above', () => expect(typeof misspelt).toBe('function'));

  it('tells a stop reason from any other string', () => {
    for (const r of STOP_REASONS) expect(isStopReason(r)).toBe(true);
    for (const v of ['SUCCEEDED', 'step_budget', '', null, 3]) expect(isStopReason(v)).toBe(false);
    expect(STOP_REASONS.filter((r) => (RUN_STATUSES as readonly string[]).includes(r))).toEqual(['CANCELLED']);
  });

  it('tells an error name of the taxonomy from any other string', () => {
    expect(['Conflict', 'BudgetExceeded', 'RunStopped'].every(isErrorName)).toBe(true);
    expect(['Error', 'toString', 'constructor', 'ConditionalCheckFailedException'].some(isErrorName)).toBe(false);
  });
});
