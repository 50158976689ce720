import { groupsOf, isAdminPath } from '../../../lambdas/api/admin-routes';
import { ADMINS_GROUP } from '../../../lambdas/api/public-config';
import { BudgetExceeded, budgetReasonOf } from '../../../lambdas/core/errors';

describe('admin identity', () => {
  it('reads the Cognito groups claim in every shape API Gateway passes it', () => {
    expect(groupsOf('agent-admins')).toEqual(['agent-admins']);
    expect(groupsOf('readers,agent-admins')).toEqual(['readers', 'agent-admins']);
    expect(groupsOf('[readers, agent-admins]')).toEqual(['readers', 'agent-admins']);
    expect(groupsOf('[readers agent-admins]')).toEqual(['readers', 'agent-admins']);
    expect(groupsOf(['agent-admins'])).toEqual(['agent-admins']);
    expect(groupsOf(undefined)).toEqual([]);
    // A group whose name merely contains the admin group's is not it.
    expect(groupsOf('not-agent-admins').includes(ADMINS_GROUP)).toBe(false);
  });

  it('serves /admin paths only', () => {
    expect(isAdminPath('/admin/stop')).toBe(true);
    expect(isAdminPath('/administrator')).toBe(false);
    expect(isAdminPath('/runs')).toBe(false);
  });
});

describe('the stop reason of a budget error as the state machine passes it', () => {
  it('reads it from the message offline and from the Lambda error JSON in AWS', () => {
    const e = new BudgetExceeded('COST_BUDGET', 'no dollars left');
    expect(budgetReasonOf({ Error: e.name, Cause: e.message })).toBe('COST_BUDGET');
    expect(budgetReasonOf({ Error: 'BudgetExceeded', Cause: JSON.stringify({ errorType: 'BudgetExceeded', errorMessage: 'SPEND_LIMIT: cap', trace: [] }) })).toBe('SPEND_LIMIT');
    expect(budgetReasonOf({ Error: 'TransientError', Cause: 'COST_BUDGET: x' })).toBeUndefined();
    expect(budgetReasonOf(undefined)).toBeUndefined();
  });
});
