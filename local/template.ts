import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { App } from 'aws-cdk-lib';
import { AgentStack } from '../lib/agent-stack';
import type { AgentConfig } from '../lib/config';

/** A CloudFormation template as `cdk synth` writes it. */
export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

export const LOCAL_REGION = 'local';
export const LOCAL_ACCOUNT = '000000000000';
export const STACK_NAME = 'AgentStack';

/**
 * Synthesizes the real stack in-process, with asset bundling skipped (the offline engine runs the handlers
 * in-process), and returns its template.
 */
export function synthTemplate(config: AgentConfig): CfnTemplate {
  const outdir = mkdtempSync(join(tmpdir(), 'agent-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    new AgentStack(app, STACK_NAME, { config });
    const assembly = app.synth();
    const stack = assembly.getStackByName(STACK_NAME);
    return JSON.parse(readFileSync(join(outdir, stack.templateFile), 'utf8')) as CfnTemplate;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** A Lambda function's local identity: the ARN the definition uses for it, its handler name and environment. */
export interface LocalFunction {
  logicalId: string;
  arn: string;
  handler: string;
  env: Record<string, string>;
  timeoutSeconds: number;
}

export const localLambdaArn = (logicalId: string) => `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;

/** Resolves CloudFormation intrinsics to local names: Ref → logical id, GetAtt Arn → a local ARN. */
export function resolveIntrinsic(value: unknown, template: CfnTemplate): unknown {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsic(v, template));
  const obj = value as Record<string, unknown>;
  if ('Ref' in obj) {
    const ref = String(obj.Ref);
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': LOCAL_REGION,
      'AWS::AccountId': LOCAL_ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': STACK_NAME,
    };
    return pseudo[ref] ?? ref;
  }
  if ('Fn::GetAtt' in obj) {
    const [id, attr] = obj['Fn::GetAtt'] as [string, string];
    const type = template.Resources[id]?.Type;
    if (attr === 'Arn' && type === 'AWS::Lambda::Function') return localLambdaArn(id);
    if (attr === 'Arn' && type === 'AWS::DynamoDB::Table') return `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${id}`;
    return `${id}.${attr}`;
  }
  if ('Fn::Join' in obj) {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolveIntrinsic(p, template))).join(sep);
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolveIntrinsic(v, template)]));
}

/** The state machine definition with every token resolved. */
export function definitionOf(template: CfnTemplate): Record<string, unknown> {
  const machines = Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const definitionString = machines[0]?.Properties?.DefinitionString;
  return JSON.parse(String(resolveIntrinsic(definitionString, template))) as Record<string, unknown>;
}

export function functionsOf(template: CfnTemplate): LocalFunction[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([logicalId, r]) => {
      const props = r.Properties ?? {};
      const env = (resolveIntrinsic((props.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}, template) ?? {}) as Record<string, string>;
      return { logicalId, arn: localLambdaArn(logicalId), handler: env.HANDLER_NAME ?? '', env, timeoutSeconds: Number(props.Timeout ?? 3) };
    })
    .filter((f) => f.handler);
}

/** CreateTable inputs for the template's tables (name = logical id, as Ref resolves it). */
export function tablesOf(template: CfnTemplate): CreateTableCommandInput[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::DynamoDB::Table')
    .map(([logicalId, r]) => {
      const p = r.Properties ?? {};
      return {
        TableName: logicalId,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: p.AttributeDefinitions,
        KeySchema: p.KeySchema,
        GlobalSecondaryIndexes: (p.GlobalSecondaryIndexes as Record<string, unknown>[] | undefined)?.map((g) => ({
          IndexName: g.IndexName,
          KeySchema: g.KeySchema,
          Projection: g.Projection,
        })),
      } as CreateTableCommandInput;
    });
}

/** Reads a template written by `cdk synth` (cdk.out/AgentStack.template.json). */
export function readTemplate(path: string): CfnTemplate {
  return JSON.parse(readFileSync(path, 'utf8')) as CfnTemplate;
}

/** A fingerprint of the code the definition is synthesized from (lib/ and the error names it retries on). */
function sourceFingerprint(): string {
  const root = resolve(__dirname, '..');
  const hash = createHash('sha256');
  const files = [
    ...readdirSync(join(root, 'lib'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts'))
      .sort()
      .map((f) => join(root, 'lib', f)),
    join(root, 'lambdas', 'core', 'errors.ts'),
  ];
  for (const f of files) hash.update(f).update(readFileSync(f));
  return hash.digest('hex');
}

/**
 * The synthesized template for a config, cached on disk by the config and the infrastructure code, so that `agent
 * run`, `npm start` and the tests synthesize each distinct configuration once per change of lib/.
 */
export function cachedTemplate(config: AgentConfig, cacheDir = join(tmpdir(), 'agent-template-cache')): CfnTemplate {
  // localTokens never reach the template (lib/agent-stack.ts leaves them out), nor this cache key.
  const { localTokens: _localOnly, ...synthesized } = config;
  const key = createHash('sha256').update(JSON.stringify(synthesized)).update(sourceFingerprint()).digest('hex').slice(0, 32);
  const file = join(cacheDir, `${key}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
  const template = synthTemplate(config);
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(template));
  renameSync(tmp, file);
  return template;
}
