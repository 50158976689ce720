import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { StateMachine } from 'aws-local-stepfunctions';
import type { AgentConfig } from '../lib/config';
import { importClosure, typeScriptFiles } from './source-graph';

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
/**
 * The App options of an in-process synth that only needs the template: asset bundling skipped, and neither the
 * construct stack traces nor the tree metadata (both in the cloud assembly, not the template) nor CDK's built-in
 * CloudFormation lint (run by `cdk synth`, test/bin/app.test.ts): the same template (test/local/template.test.ts),
 * about 5x faster.
 */
export const TEMPLATE_ONLY_APP_PROPS = {
  stackTraces: false,
  treeMetadata: false,
  builtinCloudFormationValidation: false,
  context: { 'aws:cdk:bundling-stacks': [] as string[] },
} as const;

export function synthTemplate(config: AgentConfig): CfnTemplate {
  // Loaded here, not at the top: the CDK and the stack are only needed on a template-cache miss, and loading them
  // costs every process that starts an engine (each test file, each CLI call) seconds of CPU.
  const { App } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  const { AgentStack } = require('../lib/agent-stack') as typeof import('../lib/agent-stack');
  const outdir = mkdtempSync(join(tmpdir(), 'agent-synth-'));
  try {
    const app = new App({ ...TEMPLATE_ONLY_APP_PROPS, outdir });
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

/** A state machine's local ARN (Ref of a state machine is its ARN in CloudFormation). */
export const localStateMachineArn = (logicalId: string) => `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${logicalId}`;

/**
 * A Lambda version's local ARN. AWS numbers versions 1, 2, …; locally the number is derived from the version
 * resource's logical id, which CDK derives from the function's code and configuration: same code, same number.
 */
export function localLambdaVersionArn(versionLogicalId: string, template: CfnTemplate): string {
  const fn = (template.Resources[versionLogicalId]?.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref ?? versionLogicalId;
  const n = Number.parseInt(createHash('sha256').update(versionLogicalId).digest('hex').slice(0, 7), 16);
  return `${localLambdaArn(fn)}:${n}`;
}

/** The template's alias of its state machine (AWS::StepFunctions::StateMachineAlias), if any. */
export interface LocalAliasSpec {
  name: string;
  arn: string;
  /** CloudFormation's gradual deployment of the alias (DeploymentPreference CANARY). */
  canary?: { percent: number; minutes: number };
}

export function aliasOf(template: CfnTemplate): LocalAliasSpec | undefined {
  const entry = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachineAlias');
  if (!entry) return undefined;
  const props = entry[1].Properties ?? {};
  const pref = props.DeploymentPreference as { Type?: string; Percentage?: number; Interval?: number } | undefined;
  return {
    name: String(props.Name ?? entry[0]),
    arn: String(resolveIntrinsic({ Ref: entry[0] }, template)),
    ...(pref?.Type === 'CANARY' ? { canary: { percent: Number(pref.Percentage ?? 10), minutes: Number(pref.Interval ?? 0) } } : {}),
  };
}

/** Whether the template publishes a version of its state machine (AWS::StepFunctions::StateMachineVersion). */
export function publishesVersion(template: CfnTemplate): { description?: string } | undefined {
  const main = stateMachineOf(template).logicalId;
  const version = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::StepFunctions::StateMachineVersion' && (r.Properties?.StateMachineArn as { Ref?: string } | undefined)?.Ref === main,
  );
  return version ? { description: version.Properties?.Description as string | undefined } : undefined;
}

/** Whether a state machine resource is an Express workflow (StateMachineType EXPRESS; STANDARD when absent). */
const isExpress = (r: { Properties?: Record<string, unknown> }) => r.Properties?.StateMachineType === 'EXPRESS';

/** The template's Standard state machines (the agent's: one), by logical id. */
function standardMachines(template: CfnTemplate): [string, CfnTemplate['Resources'][string]][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && !isExpress(r));
}

/** The template's one Standard state machine (the one runs start on; a hybrid engine's Express segments aside). */
export function stateMachineOf(template: CfnTemplate): { arn: string; name: string; logicalId: string } {
  const ids = standardMachines(template);
  if (ids.length !== 1 || !ids[0]) throw new Error(`expected one Standard state machine in the template, found ${ids.length}`);
  const logicalId = ids[0][0];
  return { arn: localStateMachineArn(logicalId), name: logicalId, logicalId };
}

/** An Express state machine of the template (the hybrid engine's segment): its ARN, name, definition, versions. */
export interface LocalExpressSpec {
  arn: string;
  name: string;
  definition: Record<string, unknown>;
  /** The ARNs of its published versions (AWS::StepFunctions::StateMachineVersion), as the parent's definition names them. */
  versionArns: string[];
}

export function expressMachinesOf(template: CfnTemplate): LocalExpressSpec[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && isExpress(r))
    .map(([id, r]) => ({
      arn: localStateMachineArn(id),
      name: id,
      definition: JSON.parse(String(resolveIntrinsic(r.Properties?.DefinitionString, template))) as Record<string, unknown>,
      versionArns: Object.entries(template.Resources)
        .filter(([, v]) => v.Type === 'AWS::StepFunctions::StateMachineVersion' && (v.Properties?.StateMachineArn as { Ref?: string } | undefined)?.Ref === id)
        .map(([vid]) => String(resolveIntrinsic({ Ref: vid }, template))),
    }));
}

/**
 * A state machine version's local ARN: AWS numbers versions 1, 2, …; locally the number is derived from the
 * machine's definition, so a changed definition is a new version and the definition naming it changes too.
 */
function localStateMachineVersionArn(versionLogicalId: string, template: CfnTemplate): string {
  const machineId = String((template.Resources[versionLogicalId]?.Properties?.StateMachineArn as { Ref?: string } | undefined)?.Ref);
  const definition = String(resolveIntrinsic(template.Resources[machineId]?.Properties?.DefinitionString, template));
  const n = Number.parseInt(createHash('sha256').update(definition).digest('hex').slice(0, 7), 16);
  return `${localStateMachineArn(machineId)}:${n}`;
}

/** Resolves CloudFormation intrinsics to local names: Ref → logical id (a state machine's: its ARN), GetAtt Arn → a local ARN. */
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
    const type = template.Resources[ref]?.Type;
    if (type === 'AWS::StepFunctions::StateMachine') return localStateMachineArn(ref);
    if (type === 'AWS::Lambda::Version') return localLambdaVersionArn(ref, template);
    if (type === 'AWS::StepFunctions::StateMachineVersion') return localStateMachineVersionArn(ref, template);
    if (type === 'AWS::StepFunctions::StateMachineAlias') {
      const props = template.Resources[ref]?.Properties ?? {};
      // The alias belongs to the machine of its versions (StateMachineArn is optional).
      const machine = props.StateMachineArn ? resolveIntrinsic(props.StateMachineArn, template) : stateMachineOf(template).arn;
      return `${machine}:${String(props.Name ?? ref)}`;
    }
    return pseudo[ref] ?? ref;
  }
  if ('Fn::GetAtt' in obj) {
    const [id, attr] = obj['Fn::GetAtt'] as [string, string];
    const type = template.Resources[id]?.Type;
    if (attr === 'Arn' && type === 'AWS::Lambda::Function') return localLambdaArn(id);
    if (attr === 'Arn' && type === 'AWS::StepFunctions::StateMachine') return localStateMachineArn(id);
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
  const machines = standardMachines(template).map(([, r]) => r);
  if (machines.length !== 1) throw new Error(`expected one Standard state machine in the template, found ${machines.length}`);
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

/** The template's Lambda versions (AWS::Lambda::Version): each is its function's handler and configuration. */
export function lambdaVersionsOf(template: CfnTemplate): LocalFunction[] {
  const fns = new Map(functionsOf(template).map((f) => [f.logicalId, f]));
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Version')
    .flatMap(([logicalId, r]) => {
      const fn = fns.get(String((r.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref));
      return fn ? [{ ...fn, arn: localLambdaVersionArn(logicalId, template) }] : [];
    });
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

/**
 * Every file the synth reads: the stack (lib/), this module (the synth's App properties) and every module of the
 * repository they import, transitively (lib/ imports lambdas/ modules: the error names retried on, the metrics...).
 */
export function synthSources(root = resolve(__dirname, '..')): string[] {
  return importClosure([...typeScriptFiles(join(root, 'lib')), join(root, 'local', 'template.ts')]);
}

/** A fingerprint of the code the template is synthesized from (synthSources: paths relative to `root`, contents). */
export function sourceFingerprint(root = resolve(__dirname, '..')): string {
  const hash = createHash('sha256');
  for (const f of synthSources(root)) hash.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  return hash.digest('hex');
}

/** Where synthesized templates (and the definitions already validated) are kept between processes. */
export const TEMPLATE_CACHE_DIR = join(tmpdir(), 'agent-template-cache');

/**
 * Validates a state machine definition with asl-validator (what aws-local-stepfunctions runs on every
 * `new StateMachine`) once per distinct definition, as AWS does at CreateStateMachine rather than per execution:
 * an accepted definition leaves a marker in the cache dir, so later engines (each test file, each CLI call) skip
 * the schema compilation. Throws, as the engine would, on an invalid definition. The definition is not modified.
 */
export function validateDefinitionOnce(definition: Record<string, unknown>, cacheDir = TEMPLATE_CACHE_DIR): void {
  const hash = createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 32);
  const marker = join(cacheDir, `asl-valid-${hash}`);
  if (existsSync(marker)) return;
  // asl-validator fills in QueryLanguage on the states it checks: it gets a copy.
  new StateMachine(structuredClone(definition) as never, { validationOptions: { checkPaths: true, checkArn: true } });
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(marker, '');
}

/** A loopback address with its port, as test servers (listening on port 0) put it in a config. */
const LOOPBACK = /(127\.0\.0\.1|localhost|\[::1\]):(\d{1,5})(?!\d)/g;

/**
 * The config with each distinct loopback port replaced by its rank (1, 2, …), and the function that puts the real
 * ports back into a text. Test servers listen on port 0, so their ports differ on every run, and a port reaches the
 * template only as text (the handlers' config variable, descriptions): masking them lets one synthesized template
 * serve every run of a test.
 */
export function maskLoopbackPorts(config: AgentConfig): { masked: AgentConfig; unmask: (text: string) => string } {
  const json = JSON.stringify(config);
  const ranks = new Map<string, number>();
  const maskedJson = json.replace(LOOPBACK, (_, host: string, port: string) => {
    const rank = ranks.get(port) ?? ranks.size + 1;
    ranks.set(port, rank);
    return `${host}:${rank}`;
  });
  const ports = new Map([...ranks].map(([port, rank]) => [String(rank), port]));
  const unmask = (text: string) => (ports.size === 0 ? text : text.replace(LOOPBACK, (m, host: string, rank: string) => (ports.has(rank) ? `${host}:${ports.get(rank)}` : m)));
  return { masked: ranks.size === 0 ? config : (JSON.parse(maskedJson) as AgentConfig), unmask };
}

/**
 * The synthesized template for a config, cached on disk by the config (loopback ports masked) and the
 * infrastructure code, so that `agent run`, `npm start` and the tests synthesize each distinct configuration once
 * per change of lib/.
 */
export function cachedTemplate(config: AgentConfig, cacheDir = TEMPLATE_CACHE_DIR): CfnTemplate {
  // Local bearer tokens never reach the template (lib/agent-stack.ts leaves them out), nor this cache key.
  const { localTokens: _localOnly, adminTokens: _localAdmins, ...synthesized } = config;
  const { masked, unmask } = maskLoopbackPorts(synthesized as AgentConfig);
  const key = createHash('sha256').update(JSON.stringify(masked)).update(sourceFingerprint()).digest('hex').slice(0, 32);
  const file = join(cacheDir, `${key}.json`);
  let text: string;
  if (existsSync(file)) text = readFileSync(file, 'utf8');
  else {
    text = JSON.stringify(synthTemplate(masked));
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  }
  return JSON.parse(unmask(text)) as CfnTemplate;
}
