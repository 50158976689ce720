import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseConfig } from '../../lib/config';
import { LocalIam } from '../../local/iam/check';
import { wildcard } from '../../local/iam/policy';
import { accessKeyIdOf, iamModelOf } from '../../local/iam/roles';
import { LocalSecretStore, localSecretArn, readSecretsFile, secretsFromEnv, startSecretsManager } from '../../local/secrets-manager';
import type { CfnTemplate } from '../../local/template';

/** One function whose role may read `agent/key` as CDK grants an imported secret (`…:secret:agent/key-??????`). */
const template: CfnTemplate = {
  Resources: {
    Reader: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['ReaderRole', 'Arn'] } } },
    ReaderRole: { Type: 'AWS::IAM::Role', Properties: {} },
    ReaderPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        Roles: [{ Ref: 'ReaderRole' }],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
              Resource: {
                'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':secret:agent/key-??????']],
              },
            },
          ],
        },
      },
    },
  },
};

describe('the local secret store', () => {
  it('gives a secret the ARN AWS would (six characters after the name, stable), which CDK grants on a secret imported by name match', () => {
    const arn = localSecretArn('agent/key');
    expect(arn).toMatch(/^arn:aws:secretsmanager:local:000000000000:secret:agent\/key-[A-Za-z0-9]{6}$/);
    expect(localSecretArn('agent/key')).toBe(arn);
    expect(wildcard(['arn:aws:secretsmanager:local:000000000000:secret:agent/key-??????']).test(arn)).toBe(true);
    expect(wildcard(['arn:aws:secretsmanager:local:000000000000:secret:agent/key-??????']).test(localSecretArn('agent/key-2'))).toBe(false);
  });

  it('finds a secret by name, complete ARN or partial ARN; one configured by ARN keeps it', () => {
    const byArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/langfuse-AbCdEf';
    const store = new LocalSecretStore({ 'agent/key': 'k', [byArn]: '{"publicKey":"p","secretKey":"s"}' });
    expect(store.find('agent/key')?.value).toBe('k');
    expect(store.find(localSecretArn('agent/key'))?.value).toBe('k');
    expect(store.find(localSecretArn('agent/key').slice(0, -7))?.value).toBe('k');
    expect(store.find(byArn)).toMatchObject({ arn: byArn, name: 'prod/langfuse' });
    expect(store.find('prod/langfuse')?.arn).toBe(byArn);
    expect(store.find('agent/other')).toBeUndefined();
    // A missing secret is authorized on the ARN it would have (a grant on it then reads ResourceNotFound).
    expect(store.arnOf('agent/other')).toBe(localSecretArn('agent/other'));
  });

  it('reads the secrets file (absent: none; object values as their JSON) and names the file when it is wrong', () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    try {
      expect(readSecretsFile(join(dir, 'none.json'))).toEqual({});
      const file = join(dir, 'secrets.json');
      writeFileSync(file, JSON.stringify({ 'agent/key': 'sk-1', 'agent/langfuse': { publicKey: 'p', secretKey: 's' } }));
      expect(readSecretsFile(file)).toEqual({ 'agent/key': 'sk-1', 'agent/langfuse': '{"publicKey":"p","secretKey":"s"}' });
      writeFileSync(file, '["x"]');
      expect(() => readSecretsFile(file)).toThrow(`secrets file ${file}: must be a JSON object`);
      writeFileSync(file, '{');
      expect(() => readSecretsFile(file)).toThrow(`secrets file ${file}: not JSON`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds the secrets a config names whose values its key variables hold (only those that are set)', () => {
    const config = parseConfig({
      models: {
        primary: { provider: 'openai', model: 'm', contextWindowTokens: 128_000, apiKeySecret: 'agent/key', apiKeyEnv: 'MY_KEY' },
        fallback: { provider: 'openai', model: 'n', contextWindowTokens: 128_000, apiKeySecret: 'agent/unset', apiKeyEnv: 'UNSET_KEY' },
      },
      observability: { langfuse: { baseUrl: 'http://127.0.0.1:1', secret: 'agent/langfuse', publicKeyEnv: 'LF_P', secretKeyEnv: 'LF_S' } },
    });
    expect(secretsFromEnv(config, { MY_KEY: ' sk-env ', LF_P: 'p', LF_S: 's' })).toEqual({ 'agent/key': 'sk-env', 'agent/langfuse': '{"publicKey":"p","secretKey":"s"}' });
    expect(secretsFromEnv(config, {})).toEqual({});
  });
});

describe('the local Secrets Manager endpoint (JSON 1.1, through the SDK)', () => {
  const iam = new LocalIam(iamModelOf(template));
  const store = new LocalSecretStore({ 'agent/key': 'sk-1', 'agent/other': 'sk-2' });
  let endpoint: Awaited<ReturnType<typeof startSecretsManager>>;
  const clients: SecretsManagerClient[] = [];
  const client = (accessKeyId: string) => {
    const c = new SecretsManagerClient({ endpoint: endpoint.url, region: 'local', maxAttempts: 1, credentials: { accessKeyId, secretAccessKey: 'x' } });
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    endpoint = await startSecretsManager(store, iam);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await endpoint.close();
  });

  it("reads and describes a secret the caller's role is granted, and denies the others as AWS does", async () => {
    const reader = client(accessKeyIdOf('Reader'));
    await expect(reader.send(new GetSecretValueCommand({ SecretId: 'agent/key' }))).resolves.toMatchObject({
      Name: 'agent/key',
      ARN: localSecretArn('agent/key'),
      SecretString: 'sk-1',
      VersionStages: ['AWSCURRENT'],
    });
    await expect(reader.send(new DescribeSecretCommand({ SecretId: 'agent/key' }))).resolves.toMatchObject({ Name: 'agent/key', ARN: localSecretArn('agent/key') });
    await expect(reader.send(new GetSecretValueCommand({ SecretId: 'agent/other' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
      message: `User: arn:aws:sts::000000000000:assumed-role/ReaderRole/Reader is not authorized to perform: secretsmanager:GetSecretValue on resource: ${localSecretArn('agent/other')} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
    });
    expect(iam.denials.at(-1)).toMatchObject({ action: 'secretsmanager:GetSecretValue', resource: localSecretArn('agent/other') });
  });

  it('the administrator (test/test) reads anything; a missing secret, version or stage is ResourceNotFound; an unknown key is refused', async () => {
    const admin = client('test');
    await expect(admin.send(new GetSecretValueCommand({ SecretId: 'agent/other' }))).resolves.toMatchObject({ SecretString: 'sk-2' });
    await expect(admin.send(new GetSecretValueCommand({ SecretId: 'agent/none' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: expect.stringMatching(/^Secrets Manager can't find the specified secret\. \(offline: .*AGENT_SECRETS_FILE/),
    });
    await expect(admin.send(new GetSecretValueCommand({ SecretId: 'agent/key', VersionStage: 'AWSPREVIOUS' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(admin.send(new GetSecretValueCommand({ SecretId: 'agent/key', VersionId: 'nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(client('nobody').send(new GetSecretValueCommand({ SecretId: 'agent/key' }))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
  });

  it('answers an operation it does not serve with UnknownOperationException naming those it does', async () => {
    const res = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'secretsmanager.PutSecretValue', 'content-type': 'application/x-amz-json-1.1' },
      body: '{"SecretId":"agent/key"}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ __type: 'UnknownOperationException', Message: expect.stringContaining('GetSecretValue, DescribeSecret') });
  });
});
