import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { STACK_NAME_ENV } from '../lambdas/core/metrics';
import { BUNDLE_TARGET, externalModulesOf, MAIN_FIELDS, SOURCES_CONTENT } from './bundling';
import { CONFIG_ENV } from './config';
import { type HandlerName, handlerEntry } from './handler-names';

export { HANDLER_NAMES, type HandlerName } from './handler-names';

export interface AgentFunctionProps {
  readonly handler: HandlerName;
  readonly table: dynamodb.ITable;
  /** The validated config, serialized with its defaults (the handlers parse it without validating again: lib/config-env.ts). */
  readonly configJson: string;
  readonly timeoutSeconds: number;
  /**
   * Memory of the function.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Ship the docs/ folder next to the handler (for the keyword search tool).
   * @default false
   */
  readonly withDocs?: boolean;
  readonly environment?: Record<string, string>;
  /**
   * Packages installed next to the bundle, loaded at run time on first use (lib/bundling.ts, nodeModulesOf).
   * @default none
   */
  readonly nodeModules?: readonly string[];
}

const ROOT = path.resolve(__dirname, '..');

/**
 * One agent handler: NodejsFunction bundled by the local esbuild (no Docker), ARM_64, NODEJS_22_X, read/write on
 * the table, the config and table name in its environment, a log group with a retention.
 */
export class AgentFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: AgentFunctionProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH });
    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: handlerEntry(props.handler),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: Duration.seconds(props.timeoutSeconds),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      // The state machine invokes fn.currentVersion: a version replaced by a deploy is kept, so executions started
      // on an older state machine version finish on the code they started with.
      currentVersionOptions: { removalPolicy: RemovalPolicy.RETAIN },
      depsLockFilePath: path.join(ROOT, 'package-lock.json'),
      projectRoot: ROOT,
      environment: {
        TABLE_NAME: props.table.tableName,
        [CONFIG_ENV]: props.configJson,
        HANDLER_NAME: props.handler,
        POWERTOOLS_SERVICE_NAME: 'agent',
        // The metrics' Stack dimension (lambdas/core/metrics.ts), which this stack's alarms filter on.
        [STACK_NAME_ENV]: Stack.of(this).stackName,
        NODE_OPTIONS: '--enable-source-maps',
        ...(props.withDocs ? { DOCS_DIR: '/var/task/docs' } : {}),
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        sourcesContent: SOURCES_CONTENT,
        target: BUNDLE_TARGET,
        forceDockerBundling: false,
        // The AWS SDK bundled from its ES module builds (only the commands used), but in call-model (lib/bundling.ts).
        mainFields: MAIN_FIELDS,
        externalModules: externalModulesOf(props.handler),
        // Installed next to the bundle, loaded on first use (lib/bundling.ts).
        ...(props.nodeModules?.length ? { nodeModules: [...props.nodeModules] } : {}),
        // The API handler serves the trace viewer page, bundled as text.
        loader: { '.html': 'text' },
        ...(props.withDocs
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (_input: string, output: string) => [`cp -r ${path.join(ROOT, 'docs')} ${output}/docs`],
              },
            }
          : {}),
      },
    });
    props.table.grantReadWriteData(this.fn);
  }
}
