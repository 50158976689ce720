import { authorizeRequest } from '../../../lambdas/api/authorize';
import { callerOf } from '../../../lambdas/api/caller';
import { type ApiKeyPort, type ApiKeyRecord, newApiKey } from '../../../lambdas/core/api-keys';
import { rejection } from '../../helpers/async';

const ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/runs';

/** An in-memory key port (the DynamoDB one runs in test/integration/api-keys.test.ts). */
function memoryKeys(): ApiKeyPort & { items: Map<string, ApiKeyRecord> } {
  const items = new Map<string, ApiKeyRecord>();
  return {
    items,
    create: async (r) => void items.set(r.keyId, r),
    get: async (id) => items.get(id),
    list: async () => [...items.values()],
    revoke: async (id, at) => {
      const r = items.get(id);
      if (r) items.set(id, { ...r, revokedAt: r.revokedAt ?? at });
      return items.get(id);
    },
    touch: async (id, at) => {
      const r = items.get(id);
      if (r) items.set(id, { ...r, lastUsedAt: at });
    },
  };
}

describe('the API key authorizer', () => {
  const now = () => new Date('2026-01-31T12:00:00Z');

  it('an unrevoked key: its owner and admin flag as the context, its use recorded; then 401 once revoked', async () => {
    const keys = memoryKeys();
    const { key, record } = newApiKey({ userId: 'alice', admin: true, createdBy: 'ops', now: now() });
    await keys.create(record);
    const out = await authorizeRequest({ keys, now }, { authorization: `Bearer ${key}`, methodArn: ARN });
    expect(out.principalId).toBe('alice');
    expect(callerOf({ ...out.context, principalId: out.principalId })).toEqual({ userId: 'alice', isAdmin: true });
    expect(keys.items.get(record.keyId)?.lastUsedAt).toBe('2026-01-31T12:00:00.000Z');
    await keys.revoke(record.keyId, now().toISOString());
    expect((await rejection(authorizeRequest({ keys, now }, { authorization: `Bearer ${key}`, methodArn: ARN }))).message).toBe('Unauthorized');
  });

  it('401 (the message API Gateway reads) for anything else; a Cognito ID token only with "both"', async () => {
    const keys = memoryKeys();
    for (const authorization of [undefined, '', 'Bearer', 'Bearer nope', `Bearer agk_${'a'.repeat(16)}_${'b'.repeat(43)}`, 'Bearer a.b.c']) {
      expect((await rejection(authorizeRequest({ keys }, { authorization, methodArn: ARN }))).message).toBe('Unauthorized');
    }
    const cognito = async (token: string) => (token === 'h.p.s' ? { sub: 'u-1', groups: ['agent-admins'] } : null);
    const out = await authorizeRequest({ keys, cognito }, { authorization: 'Bearer h.p.s', methodArn: ARN });
    expect(callerOf({ ...out.context })).toEqual({ userId: 'u-1', isAdmin: true });
  });

  it('a failure to record the last use does not refuse the caller', async () => {
    const keys = memoryKeys();
    const { key, record } = newApiKey({ userId: 'alice', admin: false, createdBy: 'ops', now: now() });
    await keys.create(record);
    keys.touch = async () => {
      throw new Error('throttled');
    };
    const warnings: string[] = [];
    const out = await authorizeRequest({ keys, onWarning: (m) => warnings.push(m) }, { authorization: `Bearer ${key}`, methodArn: ARN });
    expect(out.principalId).toBe('alice');
    expect(warnings).toHaveLength(1);
  });
});

describe('the caller of a proxy event', () => {
  it('reads the Cognito authorizer’s claims or the Lambda authorizer’s context, and nothing else', () => {
    expect(callerOf({ claims: { sub: 'a', 'cognito:groups': 'x,agent-admins' } })).toEqual({ userId: 'a', isAdmin: true });
    expect(callerOf({ userId: 'b', admin: 'false', principalId: 'b' })).toEqual({ userId: 'b', isAdmin: false });
    expect(callerOf(null)).toEqual({ userId: null, isAdmin: false });
    expect(callerOf({ principalId: 'c' })).toEqual({ userId: null, isAdmin: false });
  });
});
