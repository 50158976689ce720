import { createTokenVerifier } from '../../local/auth';

const ALICE = 'token-alice-0123456789abcdef';

describe('createTokenVerifier (the local stand-in for Cognito)', () => {
  const verify = createTokenVerifier({ [ALICE]: 'alice', 'token-bob-0123456789abcdef0000': 'bob' });

  it('maps a configured bearer token to its user, and nothing else to anyone', () => {
    expect(verify(`Bearer ${ALICE}`)).toBe('alice');
    expect(verify(`bearer ${ALICE}`)).toBe('alice'); // the scheme is case-insensitive (RFC 7235)
    expect(verify('Bearer token-bob-0123456789abcdef0000')).toBe('bob');
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      `Basic ${ALICE}`,
      ALICE,
      `Bearer ${ALICE}x`,
      `Bearer ${ALICE.slice(0, -1)}`,
      `Bearer ${ALICE} extra`,
      `Bearer  ${ALICE.toUpperCase()}`,
    ]) {
      expect({ header, user: verify(header) }).toEqual({ header, user: null });
    }
  });

  it('knows no tokens by inheritance: prototype keys are unknown tokens', () => {
    for (const key of [
      'constructor',
      'toString',
      'valueOf',
      'hasOwnProperty',
      '__proto__',
      'isPrototypeOf',
      'propertyIsEnumerable',
      'toLocaleString',
      '__defineGetter__',
      '__lookupGetter__',
    ]) {
      expect({ key, user: verify(`Bearer ${key}`) }).toEqual({ key, user: null });
    }
  });

  it('holds tokens from a config parsed from JSON with a "__proto__" key as plain entries', () => {
    const tokens = JSON.parse('{"__proto__": "mallory", "token-carol-0123456789abcdef": "carol"}') as Record<string, string>;
    const v = createTokenVerifier(tokens);
    expect(v('Bearer token-carol-0123456789abcdef')).toBe('carol');
    expect(v('Bearer constructor')).toBeNull();
  });
});
