import { allowPolicy, bearerToken, keyMatches, newApiKey, parseApiKey, viewOf } from '../../../lambdas/core/api-keys';

describe('API keys', () => {
  const now = new Date('2026-01-31T12:00:00Z');

  it('a new key is random, shown once, and stored as its owner, flag, time and the secret’s SHA-256 only', () => {
    const a = newApiKey({ userId: 'alice', admin: false, createdBy: 'ops', now });
    const b = newApiKey({ userId: 'alice', admin: false, createdBy: 'ops', now });
    expect(a.key).not.toBe(b.key);
    expect(a.record.keyId).not.toBe(b.record.keyId);
    const parts = parseApiKey(a.key);
    expect(parts).toEqual({ keyId: a.record.keyId, secret: expect.any(String) });
    expect(a.record).toEqual({
      keyId: parts?.keyId,
      userId: 'alice',
      admin: false,
      secretHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      createdAt: now.toISOString(),
      createdBy: 'ops',
    });
    expect(JSON.stringify(a.record)).not.toContain(parts?.secret);
    expect(viewOf(a.record)).not.toHaveProperty('secretHash');
  });

  it('matches only its own secret, and never once revoked', () => {
    const { key, record } = newApiKey({ userId: 'alice', admin: true, createdBy: 'ops', now });
    const { secret } = parseApiKey(key) ?? { secret: '' };
    expect(keyMatches(record, secret)).toBe(true);
    expect(keyMatches(record, `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`)).toBe(false);
    expect(keyMatches(undefined, secret)).toBe(false);
    expect(keyMatches({ ...record, revokedAt: now.toISOString() }, secret)).toBe(false);
  });

  it('reads only well-formed keys and bearer headers', () => {
    for (const bad of ['', 'agk_', 'agk_short_x', `agk_${'a'.repeat(16)}_${'b'.repeat(42)}`, `AGK_${'a'.repeat(16)}_${'b'.repeat(43)}`, 'eyJ.a.b'])
      expect(parseApiKey(bad)).toBeNull();
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    for (const bad of [undefined, '', 'Bearer', 'Basic abc', 'Bearer a b']) expect(bearerToken(bad)).toBeNull();
  });

  it('allows the whole stage, since API Gateway caches the answer by the header for every method', () => {
    const policy = allowPolicy('alice', 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/runs/r-1', { userId: 'alice', admin: 'false' });
    expect(policy).toEqual({
      principalId: 'alice',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*' }],
      },
      context: { userId: 'alice', admin: 'false' },
    });
  });
});
