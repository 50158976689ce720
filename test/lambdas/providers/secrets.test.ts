import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createSecretReader } from '../../../lambdas/providers/secrets';
import { type Loopback, startLoopback } from '../../../testing/loopback';
import { failure } from './helpers';

/**
 * The reader against a Secrets Manager on loopback (JSON 1.1, `X-Amz-Target: secretsmanager.GetSecretValue`),
 * through a real SDK client: values by SecretId, service errors as Secrets Manager sends them (HTTP 400, `__type`).
 */
describe('createSecretReader (Powertools getSecret)', () => {
  let sm: Loopback;
  let values: Record<string, string | { error: string; status?: number }> = {};
  const client = () => new SecretsManagerClient({ endpoint: sm.url(''), region: 'local', maxAttempts: 1, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const reads = () => sm.requests.map((r) => (JSON.parse(r.body) as { SecretId: string }).SecretId);

  beforeAll(async () => {
    sm = await startLoopback();
    sm.on('/', (req, res) => {
      const id = (JSON.parse(req.body) as { SecretId: string }).SecretId;
      const value = values[id];
      const json = (status: number, body: object) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      if (value === undefined) json(400, { __type: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." });
      else if (typeof value === 'string')
        json(200, { ARN: `arn:aws:secretsmanager:local:000000000000:secret:${id}-AbCdEf`, Name: id, SecretString: value, VersionId: 'v1', VersionStages: ['AWSCURRENT'] });
      else json(value.status ?? 400, { __type: value.error, Message: `${value.error} for ${id}` });
    });
  });
  afterAll(async () => sm.close());
  beforeEach(() => {
    sm.requests.length = 0;
    values = {};
  });

  it('reads a secret once within maxAge, and again once it has passed', async () => {
    values = { 'agent/a': 'A1', 'agent/b': 'B' };
    const c = client();
    let now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const read = createSecretReader({ client: c, maxAgeSeconds: 60 });
      await expect(read('agent/a')).resolves.toBe('A1');
      await expect(read('agent/a')).resolves.toBe('A1');
      await expect(read('agent/b')).resolves.toBe('B');
      expect(reads()).toEqual(['agent/a', 'agent/b']);
      // Rotated: the container sees the new value once the cached one is older than maxAge.
      values['agent/a'] = 'A2';
      now += 30_000;
      await expect(read('agent/a')).resolves.toBe('A1');
      now += 31_000;
      await expect(read('agent/a')).resolves.toBe('A2');
      expect(reads()).toEqual(['agent/a', 'agent/b', 'agent/a']);
    } finally {
      clock.mockRestore();
      c.destroy();
    }
  });

  it('does not cache a failed read, and classifies it as transient', async () => {
    values = { 'fail/a': { error: 'ThrottlingException' } };
    const c = client();
    const read = createSecretReader({ client: c });
    try {
      expect((await failure(read('fail/a'))).name).toBe('TransientError');
      expect((await failure(read('fail/a'))).name).toBe('TransientError');
      values['fail/a'] = 'now there';
      await expect(read('fail/a')).resolves.toBe('now there');
      expect(reads()).toEqual(['fail/a', 'fail/a', 'fail/a']);
      values = { 'fail/b': { error: 'InternalServiceError', status: 500 } };
      expect((await failure(read('fail/b'))).name).toBe('TransientError');
    } finally {
      c.destroy();
    }
  });

  it('a missing secret, a denied one or one without a string value is a BadRequest naming the secret and the error', async () => {
    values = { 'bad/denied': { error: 'AccessDeniedException' }, 'bad/empty': '' };
    const c = client();
    const read = createSecretReader({ client: c });
    try {
      for (const [id, error] of [
        ['bad/missing', 'ResourceNotFoundException'],
        ['bad/denied', 'AccessDeniedException'],
        ['bad/empty', 'has no string value'],
      ] as const) {
        const err = await failure(read(id));
        expect(err.name).toBe('BadRequest');
        expect(err.message).toContain(id);
        expect(err.message).toContain(error);
      }
    } finally {
      c.destroy();
    }
  });

  it('without a client it reads with getSecret (its default client: AWS_ENDPOINT_URL_SECRETS_MANAGER points it here)', async () => {
    values = { 'default/a': 'D' };
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url(''),
      AWS_REGION: 'local',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_MAX_ATTEMPTS: '1',
    });
    try {
      await expect(createSecretReader()('default/a')).resolves.toBe('D');
      // The default provider's cache is the container's: another reader does not read again.
      await expect(createSecretReader()('default/a')).resolves.toBe('D');
      expect(reads()).toEqual(['default/a']);
      expect(sm.requests[0]?.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    } finally {
      process.env = saved;
    }
  });
});
