import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { RunStore } from '../../lambdas/store/run-store';
import { esbuildOptionsOf, externalModulesOf, LAMBDA_CLIENT, nodeModulesOf } from '../../lib/bundling';
import { CONFIG_ENV, handlerConfig, parseConfig } from '../../lib/config';
import { ensureTable } from '../../local/dynamo';
import { reply, startLoopback } from '../../testing/loopback';
import { dynamoWithAgentTable } from '../helpers/dynamo';

const root = join(__dirname, '..', '..');
const BASE_HANDLERS = ['load-run', 'call-tool', 'finalize', 'pause', 'api', 'export-trace', 'execution-status', 'run-events'];

/** Builds a handler as lib/functions.ts builds it; returns the inputs esbuild put in the bundle. */
async function bundle(handler: string, outfile?: string): Promise<string[]> {
  const out = await build({
    ...esbuildOptionsOf(handler),
    entryPoints: [join(root, 'lambdas', 'handlers', `${handler}.ts`)],
    metafile: true,
    logLevel: 'silent',
    ...(outfile ? { outfile } : { write: false, outdir: '/unused' }),
  });
  // The inputs that kept bytes in the output (a module esbuild read and tree-shook away is listed with none).
  const output = Object.values(out.metafile.outputs).find((o) => o.entryPoint);
  return Object.entries(output?.inputs ?? {})
    .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
    .map(([input]) => input);
}

const inputsOf = (handler: string) => bundle(handler);

/** The Lambda context a bundled handler is called with in the wire tests. */
const contextOf = (name: string) =>
  `{ functionName: '${name}', functionVersion: '1', invokedFunctionArn: 'arn:aws:lambda:local:0:function:${name}', memoryLimitInMB: '512', awsRequestId: 'r', getRemainingTimeInMillis: () => 10000 }`;
/** The environment of a bundled handler in the wire tests: the config, a local DynamoDB, silent Powertools. */
const envOf = (tableName: string, endpoint: string, config: unknown, extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH,
  TABLE_NAME: tableName,
  AGENT_STACK_NAME: 'BundleStack',
  [CONFIG_ENV]: JSON.stringify(handlerConfig(parseConfig(config))),
  AWS_ENDPOINT_URL_DYNAMODB: endpoint,
  AWS_REGION: 'local',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  ...extra,
});

describe('handler bundles hold only what the handler uses', () => {
  it.each(BASE_HANDLERS)('%s: no tokenizer, no full zod', async (handler) => {
    const inputs = await inputsOf(handler);
    expect(inputs.filter((f) => f.includes('gpt-tokenizer'))).toEqual([]);
    expect(inputs.filter((f) => f.includes('zod/v4/classic') || f.includes('zod/v3'))).toEqual([]);
    expect(inputs.some((f) => f.endsWith('lib/config.ts'))).toBe(false);
    // The schema lives in the core (lambdas/core/config.ts); the handlers read the config through config-env.ts only.
    expect(inputs.some((f) => f.endsWith('lambdas/core/config.ts'))).toBe(false);
  });

  it.each(['load-run', 'finalize', 'pause', 'await-approval', 'execution-status', 'export-trace'])(
    '%s: no breaker, no spend store (it makes no model or tool call, checks no spend)',
    async (handler) => {
      const inputs = await inputsOf(handler);
      expect(inputs.filter((f) => /lambdas\/(core\/breaker|store\/breaker-store|store\/spend-store)\.ts$/.test(f))).toEqual([]);
    },
  );

  it('api: the zod/mini pieces it validates with, not the JSON Schema generator of the tools', async () => {
    const inputs = await inputsOf('api');
    expect(inputs.some((f) => f.includes('zod/v4/mini/schemas'))).toBe(true);
    expect(inputs.filter((f) => /zod\/v4\/core\/(to-json-schema|json-schema-processors)/.test(f))).toEqual([]);
  });

  it('call-model: the tokenizer, and the tool catalog without the idempotency layer or the config schema', async () => {
    const inputs = await inputsOf('call-model');
    expect(inputs.some((f) => f.includes('gpt-tokenizer'))).toBe(true);
    expect(inputs.some((f) => f.includes('@aws-lambda-powertools/idempotency'))).toBe(false);
    // The providers read reasoning settings from core/model-params.ts: the schema (and full zod) stay out.
    expect(inputs.some((f) => f.endsWith('lambdas/core/config.ts'))).toBe(false);
    expect(inputs.filter((f) => f.includes('zod/v4/classic'))).toEqual([]);
  });

  it.each(['export-trace', 'api'])('%s: reads runs through runView without the loop steps (no JSON Schema validator of answers)', async (handler) => {
    const inputs = await inputsOf(handler);
    expect(inputs.filter((f) => /lambdas\/core\/steps\//.test(f))).toEqual([]);
    if (handler === 'export-trace') expect(inputs.filter((f) => f.includes('node_modules/ajv/'))).toEqual([]);
  });

  it('only call-model and call-tool carry the tool clients; the base handlers carry no providers', async () => {
    const loadRun = await inputsOf('load-run');
    expect(loadRun.filter((f) => f.includes('lambdas/tools/') || f.includes('lambdas/providers/'))).toEqual([]);
    const callTool = await inputsOf('call-tool');
    expect(callTool.some((f) => f.includes('lambdas/tools/registry.ts'))).toBe(true);
    expect(callTool.filter((f) => f.includes('lambdas/providers/index.ts'))).toEqual([]);
  });
});

describe('the AWS SDK in the bundles', () => {
  it('the base handlers bundle the ES module builds of the SDK, with only the commands they send', async () => {
    const inputs = await inputsOf('load-run');
    const commands = inputs.filter((f) => f.includes('@aws-sdk/client-dynamodb/dist-es/commands/')).map((f) => f.split('/').pop());
    expect(commands).toEqual(expect.arrayContaining(['GetItemCommand.js', 'PutItemCommand.js', 'QueryCommand.js', 'UpdateItemCommand.js']));
    // Not every command of the client (63), and not the aggregated client that imports them all.
    expect(commands).not.toContain('CreateTableCommand.js');
    expect(inputs.some((f) => f.endsWith('@aws-sdk/client-dynamodb/dist-es/DynamoDB.js'))).toBe(false);
    expect(inputs.filter((f) => /@(aws-sdk|smithy)\/.*\/dist-cjs\//.test(f))).toEqual([]);
  });

  it('call-tool leaves the Lambda client of the optional lambda tools to the Lambda runtime (and with it the event-stream serde)', async () => {
    expect(externalModulesOf('call-tool')).toContain(LAMBDA_CLIENT);
    const inputs = await inputsOf('call-tool');
    expect(inputs.filter((f) => f.includes('@aws-sdk/client-lambda') || f.includes('@smithy/core/dist-es/submodules/event-streams'))).toEqual([]);
    expect(inputs.some((f) => f.includes('@aws-sdk/client-dynamodb/dist-es/'))).toBe(true);
  });

  it('call-model leaves the SDK to the Lambda runtime', async () => {
    const inputs = await inputsOf('call-model');
    expect(inputs.filter((f) => /node_modules\/@(aws-sdk|smithy)\//.test(f))).toEqual([]);
  });

  describe('built to disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-bundles-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    // What stays external is loaded only off the paths a Lambda invocation takes: loading the bundle loads none of it.
    it.each(BASE_HANDLERS)('%s: loading the bundle loads no package from node_modules', async (handler) => {
      const file = join(dir, `${handler}.js`);
      await bundle(handler, file);
      const loaded = execFileSync(
        process.execPath,
        ['--enable-source-maps', '-e', `require(${JSON.stringify(file)});process.stdout.write(JSON.stringify(Object.keys(require.cache)))`],
        {
          encoding: 'utf8',
          cwd: root,
        },
      );
      expect(JSON.parse(loaded)).toEqual([file]);
    });

    it('a bundled handler sends its requests with the bundled SDK (load-run against a local DynamoDB)', async () => {
      const dynamo = await dynamoWithAgentTable('BundleTable');
      try {
        const file = join(dir, 'load-run-wire.js');
        await bundle('load-run', file);
        const script = `require(${JSON.stringify(file)}).handler({ runId: 'bundled-run', input: 'hello' }, ${contextOf('load-run')}).then((s) => process.stdout.write('\\nRESULT ' + JSON.stringify(s) + '\\n'), (e) => { process.stderr.write(String(e && e.stack)); process.exit(1); })`;
        // Asynchronously: the local DynamoDB answers from this process.
        const { stdout: out } = await promisify(execFile)(process.execPath, ['-e', script], {
          encoding: 'utf8',
          cwd: root,
          env: envOf(dynamo.tableName, dynamo.endpoint, {}),
          timeout: 30_000,
        });
        const result = out.split('\n').find((line) => line.startsWith('RESULT '));
        expect(JSON.parse(result?.slice('RESULT '.length) ?? 'null')).toMatchObject({ runId: 'bundled-run' });
        const run = await new RunStore(dynamo.doc, dynamo.tableName).getRun('bundled-run');
        expect(run).toMatchObject({ runId: 'bundled-run' });
      } finally {
        await dynamo.close();
      }
    }, 60_000);

    it("bundled call-tool runs a lambda tool with the Lambda client it loads on that first call (the runtime's copy)", async () => {
      const ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:orders';
      const dynamo = await dynamoWithAgentTable('BundleToolTable');
      const lambda = await startLoopback();
      try {
        await ensureTable(dynamo.doc, {
          TableName: 'BundleIdempotency',
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        });
        lambda.on(`/2015-03-31/functions/${encodeURIComponent(ARN)}/invocations`, reply(200, { order: 'A-1', status: 'shipped' }));
        const runs = new RunStore(dynamo.doc, dynamo.tableName);
        await runs.createRun({ runId: 'tool-run', userId: 'u', input: 'where is A-1?', maxSteps: 5, maxTokens: 10_000 });
        await runs.putMessage('tool-run', {
          step: 1,
          seq: 0,
          at: new Date().toISOString(),
          message: { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'orders', arguments: { id: 'A-1' } }] },
        });
        const file = join(dir, 'call-tool-wire.js');
        await bundle('call-tool', file);
        const config = { tools: [{ name: 'orders', kind: 'lambda', functionArn: ARN, description: 'Looks up an order.' }] };
        const env = envOf(dynamo.tableName, dynamo.endpoint, config, {
          IDEMPOTENCY_TABLE_NAME: 'BundleIdempotency',
          AWS_ENDPOINT_URL_LAMBDA: lambda.url(''),
          // As the Lambda runtime finds its own SDK (/var/runtime/node_modules): the bundle is outside the project.
          NODE_PATH: join(root, 'node_modules'),
        });
        const lambdaClientLoaded = "Object.keys(require.cache).some((f) => f.includes('node_modules/@aws-sdk/client-lambda/'))";
        const script = `const h = require(${JSON.stringify(file)}); const before = ${lambdaClientLoaded}; h.handler({ runId: 'tool-run', step: 1, toolCallId: 'call_1' }, ${contextOf('call-tool')}).then((s) => process.stdout.write('\\nRESULT ' + JSON.stringify({ s, before, after: ${lambdaClientLoaded} }) + '\\n'), (e) => { process.stderr.write(String(e && e.stack)); process.exit(1); })`;
        const { stdout: out } = await promisify(execFile)(process.execPath, ['-e', script], { encoding: 'utf8', cwd: root, env, timeout: 30_000 });
        const result = JSON.parse(
          out
            .split('\n')
            .find((line) => line.startsWith('RESULT '))
            ?.slice('RESULT '.length) ?? 'null',
        );
        expect(result).toEqual({ s: { toolCallId: 'call_1', isError: false }, before: false, after: true });
        expect(lambda.requests.map((r) => JSON.parse(r.body))).toEqual([{ id: 'A-1' }]);
        expect((await runs.getMessage('tool-run', 1, 1))?.message).toMatchObject({ role: 'tool', toolCallId: 'call_1', content: '{"order":"A-1","status":"shipped"}' });
      } finally {
        await lambda.close();
        await dynamo.close();
      }
    }, 60_000);
  });
});

describe('the MCP SDK ships only where it can be used', () => {
  const mcp = { kind: 'mcp' };
  const http = { kind: 'http' };

  it('next to call-model and call-tool when the config has an mcp tool', () => {
    expect(nodeModulesOf('call-model', [http, mcp])).toEqual(['@modelcontextprotocol/sdk']);
    expect(nodeModulesOf('call-tool', [mcp])).toEqual(['@modelcontextprotocol/sdk']);
  });

  it('nowhere without an mcp tool (no install at synth, nothing shipped)', () => {
    expect(nodeModulesOf('call-model', [http, { kind: 'lambda' }])).toEqual([]);
    expect(nodeModulesOf('call-tool', [])).toEqual([]);
  });

  it('never next to a handler that does not talk to MCP servers', () => {
    for (const handler of BASE_HANDLERS.filter((h) => h !== 'call-tool')) expect(nodeModulesOf(handler, [mcp])).toEqual([]);
  });
});
