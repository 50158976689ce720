import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { runIdOf } from '../lambdas/core/execution-status';
import { createSecretReader, type SecretReader } from '../lambdas/providers/secrets';
import { createRuntime, type Runtime } from '../lambdas/runtime';
import { createDocumentClient } from '../lambdas/store/client';
import type { AgentConfig } from '../lib/config';
import { bedrockDepsOf, bedrockUpstreams, type LocalBedrock, startBedrockRuntime } from './bedrock';
import { ensureTable, type LocalDynamo, startDynalite } from './dynamo';
import { withStream } from './dynamo-compat';
import type { EngineKnobs, EngineOptions } from './engine-options';
import { LocalEventBus } from './event-bus';
import { ExecutionArchive } from './execution-archive';
import type { LocalExecution } from './executions';
import { LocalIam } from './iam/check';
import { clientConfigOf, currentCaller, routeByCaller } from './iam/clients';
import { type DynamoFront, startDynamoFront } from './iam/dynamo-front';
import { iamModelOf } from './iam/roles';
import { type LocalLambdaApi, startLambdaApi } from './lambda-api';
import { deployedHandler, LambdaInvoker } from './lambda-invoker';
import { LocalSecretStore, type LocalSecretsManager, readSecretsFile, secretsFromEnv, startSecretsManager } from './secrets-manager';
import { type LocalSfnApi, startSfnApi } from './sfn-api';
import { LocalStepFunctions, revisionOf } from './step-functions';
import { StreamDelivery } from './stream-delivery';
import { attachTableEmulation, streamTablesOf, type TableEmulation } from './streams';
import { type CfnTemplate, cachedTemplate, functionsOf, LOCAL_REGION, stateMachineOf, tablesOf } from './template';
import { VersionRegistry } from './versions';

/** Credentials of the local endpoints (any work; these are the documented ones). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** The emulated services of one engine, started and wired together (LocalEngine is their facade). */
export interface EngineServices {
  template: CfnTemplate;
  dynamo: LocalDynamo;
  /** DynamoDB as handlers and AWS_ENDPOINT_URL_DYNAMODB reach it: dynalite behind the IAM front. */
  dynamoFront: DynamoFront;
  iam: LocalIam;
  /** The handlers' runtime for the engine's config (its AWS clients route each request by the calling function). */
  runtime: Runtime;
  /** A runtime for another config (a deploy's), sharing the engine's clients. */
  makeRuntime: (config: AgentConfig) => Runtime;
  versions: VersionRegistry;
  invoker: LambdaInvoker;
  bus: LocalEventBus;
  streams: StreamDelivery;
  stepFunctions: LocalStepFunctions;
  /** The live execution of each run (by run id), kept as executions start and end. */
  running: Map<string, LocalExecution>;
  sfnApi: LocalSfnApi;
  /** An AWS SDK client bound to the local Step Functions API, as the administrator. */
  sfn: SFNClient;
  secretsManager: LocalSecretsManager;
  lambdaApi: LocalLambdaApi;
  /** The local Bedrock Runtime (Converse), IAM-checked: `bedrock` models are called through it. */
  bedrock: LocalBedrock;
  /** Function ARN → `localHandler` of the `lambda` tools of the configs deployed (what the Lambda API serves). */
  lambdaStandIns: Map<string, string>;
  /** Stops the services and destroys the clients, in order. */
  close: () => Promise<void>;
}

/**
 * Starts dynalite with the template's tables, the IAM-checked local endpoints (DynamoDB, Secrets Manager, Lambda,
 * Step Functions), the handlers' runtime, and the services that run the template: Step Functions, the event bus,
 * stream delivery, the Lambda invoker.
 */
export async function startServices(options: EngineOptions, knobs: EngineKnobs): Promise<EngineServices> {
  const template = options.template ?? cachedTemplate(options.config);
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const dynamo = await startDynalite({ path: options.dataDir });
  for (const table of tablesOf(template)) await ensureTable(dynamo.doc, withStream(table, template));
  // Throttling starts once the tables exist (a deploy is not throttled).
  dynamo.faults.throttle = knobs.dynamoFaults?.throttle;
  const fns = functionsOf(template);
  const tableName = fns.find((f) => f.env.TABLE_NAME)?.env.TABLE_NAME;
  if (!tableName) throw new Error('no handler in the template has TABLE_NAME');
  const idempotencyTableName = fns.find((f) => f.env.IDEMPOTENCY_TABLE_NAME)?.env.IDEMPOTENCY_TABLE_NAME;
  const logger = new Logger({ serviceName: 'agent', logLevel: (options.logLevel ?? (process.env.AGENT_LOG ? 'ERROR' : 'SILENT')) as never });
  const iam = new LocalIam(iamModelOf(template), (message, fields) => logger.warn(message, fields));
  const front = await startDynamoFront(dynamo.endpoint, iam, { port: options.dynamoPort });
  // Secrets Manager and the Lambda Invoke API of lambda tools, IAM-checked like DynamoDB.
  const secretStore = new LocalSecretStore({
    ...secretsFromEnv(options.config, process.env),
    ...(options.secretsFile ? readSecretsFile(options.secretsFile) : {}),
    ...options.secrets,
  });
  const secretsManager = await startSecretsManager(secretStore, iam, { port: options.secretsPort });
  const lambdaStandIns = new Map<string, string>();
  const lambdaApi = await startLambdaApi(() => lambdaStandIns, iam, { port: options.lambdaPort });
  const bedrock = await startBedrockRuntime(iam, { port: options.bedrockPort, upstreamFor: bedrockUpstreams(options.config) });
  // The handlers' runtimes: each request they send while a handler runs goes out with that function's own
  // client, whose credentials name its role (local/iam/clients.ts).
  const doc = createDocumentClient(dynamo.clientConfig);
  const idempotencyClient = new DynamoDBClient({ ...dynamo.clientConfig });
  // The table's stream and index emulation (local/streams.ts) sees every write, whichever function's client sends it.
  let emulation: TableEmulation | undefined;
  const destroy = [
    routeByCaller(doc, (id) => {
      const client = createDocumentClient(clientConfigOf(id, front.url));
      emulation?.attach(client);
      return client;
    }),
    routeByCaller(idempotencyClient, (id) => new DynamoDBClient(clientConfigOf(id, front.url))),
  ];
  // Lambda tools invoke with the SDK, as in AWS: each function's own client, bound to the local Lambda API.
  const lambdaClient = new LambdaClient({ endpoint: lambdaApi.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  destroy.push(routeByCaller(lambdaClient, (id) => new LambdaClient({ ...clientConfigOf(id, lambdaApi.url), maxAttempts: 1 })));
  // Secrets: each function reads with a reader (and a Powertools cache) of its own, as each Lambda container has.
  const secretReaders = new Map<string, { read: SecretReader; client: SecretsManagerClient }>();
  const secrets: SecretReader = (secretId) => {
    const caller = currentCaller() ?? '';
    let reader = secretReaders.get(caller);
    if (!reader) {
      const client = new SecretsManagerClient(
        caller ? clientConfigOf(caller, secretsManager.url) : { endpoint: secretsManager.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS },
      );
      reader = { read: createSecretReader({ client }), client };
      secretReaders.set(caller, reader);
    }
    return reader.read(secretId);
  };
  const makeRuntime = (config: AgentConfig) => {
    const rt = createRuntime({
      config,
      doc,
      tableName,
      idempotencyTableName,
      idempotencyClient,
      dynamoClientConfig: dynamo.clientConfig,
      docsDir: options.docsDir,
      fetchImpl: options.fetchImpl,
      logger,
      onEvent: options.onTrace,
      secrets,
      lambdaClientFor: () => lambdaClient,
      bedrock: bedrockDepsOf(bedrock.url),
    });
    if (options.overrides) Object.assign(rt, options.overrides);
    if (options.wrapTools) rt.runTool = options.wrapTools(rt.runTool);
    return rt;
  };
  const runtime = makeRuntime(options.config);

  // The services that run the template.
  const { arn: stateMachineArn } = stateMachineOf(template);
  const versions = new VersionRegistry(
    stateMachineArn,
    revisionOf(template, (fn) => deployedHandler(fn, runtime)),
    knobs.random,
  );
  const invoker = new LambdaInvoker(iam, knobs.lambdaFaults);
  const bus = new LocalEventBus(template, versions, logger, options.onDeliveryError);
  const streams = new StreamDelivery(template, versions, invoker, logger, options.onExportError);
  const running = new Map<string, LocalExecution>();
  const stepFunctions = new LocalStepFunctions(template, {
    versions,
    invoker,
    iam,
    publishStatus: (execution) => bus.publishStatus(execution),
    onStateEvent: options.onStateEvent,
    onStart: (execution) => {
      const runId = runIdOf({ executionArn: execution.executionArn, name: execution.name, status: 'RUNNING', input: execution.input });
      if (runId) running.set(runId, execution);
    },
    onEnd: (execution) => {
      const runId = runIdOf({ executionArn: execution.executionArn, name: execution.name, status: 'RUNNING', input: execution.input });
      if (runId && running.get(runId) === execution) running.delete(runId);
    },
    retryScale: knobs.retryScale,
    historyLimit: knobs.historyLimit,
    timers: knobs.timers,
    archive: options.dataDir ? new ExecutionArchive(join(options.dataDir, 'executions.jsonl')) : undefined,
    rerunSegment: knobs.rerunSegment,
    segmentFault: knobs.segmentFault,
  });
  emulation = attachTableEmulation(doc, dynamo.clientConfig, streamTablesOf(template), (table, record) => streams.onStreamRecord(table, record), knobs.dynamoFaults);
  const sfnApi = await startSfnApi(stepFunctions, { port: options.sfnPort });
  const sfn = new SFNClient({ endpoint: sfnApi.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const handlersSfn = new SFNClient({ endpoint: sfnApi.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  destroy.push(routeByCaller(handlersSfn, (id) => new SFNClient({ ...clientConfigOf(id, sfnApi.url), maxAttempts: 1 })));

  const close = async () => {
    await stepFunctions.close();
    sfn.destroy();
    for (const d of destroy) d();
    doc.destroy();
    idempotencyClient.destroy();
    lambdaClient.destroy();
    for (const r of secretReaders.values()) r.client.destroy();
    handlersSfn.destroy();
    await sfnApi.close();
    await secretsManager.close();
    await lambdaApi.close();
    await bedrock.close();
    versions.close();
    await runtime.tools?.close();
    await streams.idle();
    emulation?.close();
    await front.close();
    await dynamo.close();
  };
  // Runs start where the stack's API starts them (LocalEngine sets the ARN: the alias).
  runtime.aws = { sfn: handlersSfn, stateMachineArn };
  return {
    template,
    dynamo,
    dynamoFront: front,
    iam,
    runtime,
    makeRuntime,
    versions,
    invoker,
    bus,
    streams,
    stepFunctions,
    running,
    sfnApi,
    sfn,
    secretsManager,
    lambdaApi,
    bedrock,
    lambdaStandIns,
    close,
  };
}
