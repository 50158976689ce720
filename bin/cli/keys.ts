import type { ApiKeyView } from '../../lambdas/core/api-keys';
import { apiTarget, callApi } from './client';
import { type CliCommand, type CliValues, UsageError } from './common';

const print = (value: unknown) => process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
const SUBCOMMANDS = 'create --user <id> [--admin] | list [--user <id>] | revoke <keyId>';

/** What the key commands do, through the API or straight to the stack's table. */
interface KeyBackend {
  create(userId: string, admin: boolean): Promise<ApiKeyView & { key: string }>;
  list(userId?: string): Promise<ApiKeyView[]>;
  revoke(keyId: string): Promise<ApiKeyView>;
}

/** Through the API's admin routes (an admin's token: an admin API key, a Cognito admin, locally a token in adminTokens). */
function apiBackend(values: CliValues): KeyBackend {
  const target = apiTarget(values);
  return {
    create: (userId, admin) => callApi(target, 'POST', '/admin/keys', { userId, ...(admin ? { admin: true } : {}) }),
    list: async (userId) => (await callApi<{ keys: ApiKeyView[] }>(target, 'GET', `/admin/keys${userId ? `?userId=${encodeURIComponent(userId)}` : ''}`)).keys,
    revoke: (keyId) => callApi(target, 'DELETE', `/admin/keys/${encodeURIComponent(keyId)}`),
  };
}

/**
 * Straight to a deployed stack's table with the caller's AWS credentials (`--stack <name> [--region]`): how the first
 * admin key is made, before any key can call the API. The table is the stack's TableName output.
 */
async function stackBackend(stackName: string, region: string | undefined): Promise<KeyBackend> {
  const [{ CloudFormationClient, DescribeStacksCommand }, { DynamoDBClient }, { DynamoDBDocumentClient }, { ApiKeyStore }, keys] = await Promise.all([
    import('@aws-sdk/client-cloudformation'),
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/lib-dynamodb'),
    import('../../lambdas/store/api-key-store'),
    import('../../lambdas/core/api-keys'),
  ]);
  const cfn = new CloudFormationClient(region ? { region } : {});
  let tableName: string | undefined;
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    tableName = out.Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'TableName')?.OutputValue;
  } finally {
    cfn.destroy();
  }
  if (!tableName) throw new UsageError(`stack ${stackName} has no TableName output: deploy the current version (npx cdk deploy)`);
  const store = new ApiKeyStore(DynamoDBDocumentClient.from(new DynamoDBClient(region ? { region } : {})), tableName);
  const who = process.env.USER ? `cli:${process.env.USER}` : 'cli';
  return {
    async create(userId, admin) {
      if (!keys.KEY_USER_ID.test(userId)) throw new UsageError('--user must be a user id (1-128 letters, digits or _@.+:|-)');
      const made = keys.newApiKey({ userId, admin, createdBy: who, now: new Date() });
      await store.create(made.record);
      return { ...keys.viewOf(made.record), key: made.key };
    },
    list: async (userId) => (await store.list(userId)).map(keys.viewOf),
    async revoke(keyId) {
      const record = keys.KEY_ID.test(keyId) ? await store.revoke(keyId, new Date().toISOString()) : undefined;
      if (!record) throw new UsageError(`no key ${keyId}`);
      return keys.viewOf(record);
    },
  };
}

const line = (k: ApiKeyView) =>
  `${k.keyId}  ${k.userId.padEnd(20)} ${k.admin ? 'admin' : 'user '}  created ${k.createdAt}  last used ${k.lastUsedAt ?? 'never'}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ''}`;

/**
 * `agent keys create|list|revoke`: API keys for machine clients (api.auth "apiKeys" or "both"; docs/auth.md). A new
 * key is printed once; the table keeps only its digest.
 */
export const keysCommand: CliCommand = {
  usage: 'keys <create|list|revoke>  API keys (admins; --api <url> --token <admin token>, or --stack <name> with AWS credentials)',
  async run({ positionals, values }) {
    const [sub, arg] = positionals;
    const user = typeof values.user === 'string' ? values.user : undefined;
    const backend = typeof values.stack === 'string' ? await stackBackend(values.stack, typeof values.region === 'string' ? values.region : undefined) : apiBackend(values);
    switch (sub) {
      case 'create': {
        if (!user) throw new UsageError(`agent keys create needs --user <id> (${SUBCOMMANDS})`);
        const made = await backend.create(user, values.admin === true);
        if (values.json) print(made);
        else {
          print(`key ${made.keyId} for ${made.userId}${made.admin ? ' (admin)' : ''}; shown once, keep it now:`);
          print(made.key);
          process.stderr.write(`use it as: Authorization: Bearer ${made.key.slice(0, 8)}…\n`);
        }
        return 0;
      }
      case 'list': {
        const keys = await backend.list(user);
        print(values.json ? { keys } : keys.map(line).join('\n') || '(no keys)');
        return 0;
      }
      case 'revoke': {
        if (!arg) throw new UsageError(`agent keys revoke needs the key id (${SUBCOMMANDS})`);
        const revoked = await backend.revoke(arg);
        print(
          values.json
            ? revoked
            : `revoked ${revoked.keyId} (${revoked.userId}) at ${revoked.revokedAt}; API Gateway may accept it until its cached answer expires (api.authorizerCacheSeconds)`,
        );
        return 0;
      }
      default:
        throw new UsageError(`agent keys needs one of: ${SUBCOMMANDS}`);
    }
  },
};
