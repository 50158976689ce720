import { groupsOf, isAdminPath } from '../../../lambdas/api/admin-routes';
import { ADMINS_GROUP } from '../../../lambdas/api/public-config';
import { type ApiDeps, type ApiRequest, handleApi } from '../../../lambdas/api/routes';
import { BudgetExceeded, budgetReasonOf } from '../../../lambdas/core/errors';
import { parseConfig } from '../../../lib/config';

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

/** Issue 31 item 5: the admin routes validate as every other route does, and say nothing before the caller is known. */
describe('admin route validation', () => {
  const cancelled: string[] = [];
  const calls: string[] = [];
  const deps = {
    runs: {
      listRunsByStatus: async () => [
        { runId: 'r1', userId: 'x', step: 1 },
        { runId: 'r2', userId: 'y', step: 1 },
      ],
      appendEvent: async () => undefined,
    },
    control: { cancel: async (runId: string) => void cancelled.push(runId) },
    config: parseConfig({}),
    spend: {
      setDisabled: async () => void calls.push('setDisabled'),
      day: async () => ({ totalMicros: 0, calls: 0, users: [] }),
      adminReads: async () => [],
      isDisabled: async () => false,
      listRunsForSupport: async () => ({ runs: [], nextCursor: null }),
    },
  } as unknown as ApiDeps;
  const admin = (method: string, path: string, extra: Partial<ApiRequest> = {}) =>
    handleApi(deps, { method, path, headers: { 'content-type': 'application/json' }, body: null, userId: 'root', isAdmin: true, ...extra });
  const codeOf = (res: { statusCode: number; body: string }) => [res.statusCode, (JSON.parse(res.body) as { error?: { code: string; message: string } }).error?.code];

  beforeEach(() => {
    cancelled.length = 0;
    calls.length = 0;
  });

  it('POST /admin/stop?userId=x with {}: 400 naming the parameter, nothing stopped', async () => {
    const res = await admin('POST', '/admin/stop', { query: { userId: 'x' }, body: '{}' });
    expect(codeOf(res)).toEqual([400, 'INVALID_QUERY']);
    expect(res.body).toMatch(/userId/);
    expect(cancelled).toEqual([]);
    // The documented scope still works.
    expect((await admin('POST', '/admin/stop', { body: '{"userId": "x"}' })).statusCode).toBe(200);
    expect(cancelled).toEqual(['r1']);
  });

  it('a non-JSON body is 415; an unknown field is refused by name', async () => {
    for (const path of ['/admin/stop', '/admin/disable', '/admin/enable']) {
      expect(codeOf(await admin('POST', path, { headers: { 'content-type': 'text/plain' }, body: '{}' }))).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    }
    const res = await admin('POST', '/admin/disable', { body: '{"reason": "x"}' });
    expect(codeOf(res)).toEqual([422, 'INVALID_REQUEST']);
    expect(res.body).toMatch(/reason/);
    expect(calls).toEqual([]);
  });

  it.each([
    ['/admin/runs', { limit: '0x10' }],
    ['/admin/runs', { limit: '1e1' }],
    ['/admin/runs', { from: '2026-02-31' }],
    ['/admin/runs', { to: '2026-13-01T00:00:00Z' }],
    ['/admin/runs', { sort: 'asc' }],
    ['/admin/spend', { day: '2026-99-99' }],
    ['/admin/spend', { day: '2026-02-30' }],
    ['/admin/reads', { day: '2026-04-31' }],
    ['/admin/reads', { user: 'x' }],
  ])('GET %s with %j: 400', async (path, query) => {
    expect(codeOf(await admin('GET', path, { query }))).toEqual([400, 'INVALID_QUERY']);
  });

  it('accepts well-formed queries', async () => {
    expect((await admin('GET', '/admin/runs', { query: { limit: '10', from: '2026-02-28', to: '2026-03-01T12:00:00Z' } })).statusCode).toBe(200);
    expect((await admin('GET', '/admin/spend', { query: { day: '2024-02-29' } })).statusCode).toBe(200);
  });

  it('401 (no caller) and 403 (not an admin) before any route is listed', async () => {
    for (const [method, path] of [
      ['GET', '/admin/nope'],
      ['DELETE', '/admin/stop'],
      ['GET', '/admin'],
    ]) {
      const anon = await admin(method as string, path as string, { userId: null, isAdmin: false });
      expect(codeOf(anon)).toEqual([401, 'UNAUTHORIZED']);
      expect(anon.body).not.toMatch(/admin\/(stop|spend|runs)/);
      const user = await admin(method as string, path as string, { userId: 'bob', isAdmin: false });
      expect(codeOf(user)).toEqual([403, 'FORBIDDEN']);
      expect(user.body).not.toMatch(/admin\/(stop|spend|runs)/);
    }
  });
});
