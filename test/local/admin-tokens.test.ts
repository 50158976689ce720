import { adminTokenLookup } from '../../local/admin-tokens';

describe('local admin tokens', () => {
  const lookup = adminTokenLookup({ 'admin-token-0123456789abcdef': 'ops' });
  it('maps a configured token to its admin id and nothing else', () => {
    expect(lookup('admin-token-0123456789abcdef')).toBe('ops');
    expect(lookup('admin-token-0123456789abcdeF')).toBeUndefined();
    expect(lookup('')).toBeUndefined();
  });
  it('is not fooled by the object prototype', () => {
    for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) expect(lookup(key)).toBeUndefined();
  });
  it('has no admins when none are configured', () => {
    expect(adminTokenLookup(undefined)('admin-token-0123456789abcdef')).toBeUndefined();
  });
});
