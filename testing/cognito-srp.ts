import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * The server side of Cognito's SRP sign-in (USER_SRP_AUTH → PASSWORD_VERIFIER), which cognito-local lacks: SRP-6a
 * over the 3072-bit group of RFC 5054 with g = 2, SHA-256, Cognito's hex padding, and the HKDF ("Caldera Derived
 * Key") that turns the shared secret into the key of PASSWORD_CLAIM_SIGNATURE. Written from the protocol, not from
 * the client library, so a sign-in that passes has done the real math on both sides.
 */

const N = BigInt(
  '0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF',
);
const g = 2n;

/** Even-length hex, with a leading 00 when the high bit is set (a positive two's complement number). */
export function padHex(n: bigint): string {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return /^[89a-f]/i.test(hex) ? `00${hex}` : hex;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();
const hexHash = (hex: string) => sha256(Buffer.from(hex, 'hex')).toString('hex');
const toBig = (hex: string) => BigInt(`0x${hex}`);

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = ((base % mod) + mod) % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

const k = toBig(hexHash(padHex(N) + padHex(g)));

/** The pool's name in the SRP hashes: the part of the pool id after the underscore. */
export const poolName = (userPoolId: string) => userPoolId.split('_')[1] ?? userPoolId;

/** One sign-in in progress: the server's ephemeral secret and the values it sent. */
export interface SrpChallenge {
  username: string;
  saltHex: string;
  verifier: bigint;
  b: bigint;
  B: bigint;
  A: bigint;
  secretBlock: string;
}

/** USER_SRP_AUTH: the PASSWORD_VERIFIER challenge for SRP_A, from the user's password (its verifier). */
export function startChallenge(userPoolId: string, username: string, password: string, srpAHex: string): SrpChallenge {
  const A = toBig(srpAHex);
  if (A % N === 0n) throw new Error('SRP_A mod N is 0');
  const saltHex = padHex(toBig(randomBytes(16).toString('hex')));
  const x = toBig(hexHash(padHex(toBig(saltHex)) + sha256(`${poolName(userPoolId)}${username}:${password}`).toString('hex')));
  const verifier = modPow(g, x, N);
  const b = toBig(randomBytes(128).toString('hex')) % N;
  const B = (k * verifier + modPow(g, b, N)) % N;
  return { username, saltHex, verifier, b, B, A, secretBlock: randomBytes(64).toString('base64') };
}

/** PASSWORD_VERIFIER: whether PASSWORD_CLAIM_SIGNATURE proves the password. */
export function verifyClaim(userPoolId: string, c: SrpChallenge, claim: { secretBlock: string; timestamp: string; signature: string }): boolean {
  if (claim.secretBlock !== c.secretBlock) return false;
  const u = toBig(hexHash(padHex(c.A) + padHex(c.B)));
  if (u === 0n) return false;
  const S = modPow(c.A * modPow(c.verifier, u, N), c.b, N);
  const prk = createHmac('sha256', Buffer.from(padHex(u), 'hex'))
    .update(Buffer.from(padHex(S), 'hex'))
    .digest();
  const key = createHmac('sha256', prk)
    .update(Buffer.concat([Buffer.from('Caldera Derived Key', 'utf8'), Buffer.from([1])]))
    .digest()
    .subarray(0, 16);
  const expected = createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from(poolName(userPoolId), 'utf8'), Buffer.from(c.username, 'utf8'), Buffer.from(c.secretBlock, 'base64'), Buffer.from(claim.timestamp, 'utf8')]))
    .digest('base64');
  return expected === claim.signature;
}

/** The challenge parameters Cognito sends with PASSWORD_VERIFIER. */
export const challengeParameters = (c: SrpChallenge) => ({
  SALT: c.saltHex,
  SRP_B: c.B.toString(16),
  SECRET_BLOCK: c.secretBlock,
  USER_ID_FOR_SRP: c.username,
  USERNAME: c.username,
});
