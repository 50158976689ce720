import { type CfnTemplate, LOCAL_ACCOUNT, localStateMachineArn, resolveIntrinsic } from '../template';
import { CompiledPolicy, type PolicyStatement, type Principal } from './policy';

/**
 * The roles of the synthesized template and who assumes them offline: each Lambda function's clients sign with an
 * access key id of its own (accessKeyIdOf), which the local endpoints map back to the function's role; the state
 * machine's role is checked by the engine when it invokes a Lambda. Credentials `test`/`test` are the account's
 * administrator (docs/local-vs-aws.md).
 */

export const ADMIN_ACCESS_KEY_ID = 'test';

/** The access key id a function's clients sign with offline (the function's logical id names it). */
export const accessKeyIdOf = (functionLogicalId: string) => `LOCAL-${functionLogicalId}`;

export interface LocalRole {
  logicalId: string;
  /** Every statement of the policies attached to the role (inline, AWS::IAM::Policy, customer managed). */
  statements: PolicyStatement[];
  policy: CompiledPolicy;
  /** AWS managed policies attached by ARN: their statements are not known offline (reported, not evaluated). */
  awsManagedPolicyArns: string[];
}

export interface IamModel {
  roles: Map<string, LocalRole>;
  /** Access key id → the principal it signs as. */
  principals: Map<string, Principal>;
  /** The Standard state machine's role (lambda:InvokeFunction is checked against it). */
  stateMachine?: Principal;
  /** Every state machine's role by its local ARN (a hybrid engine's Express segment has its own). */
  stateMachines: Map<string, Principal>;
  /** The principal of an access key id: the administrator for test, undefined when unknown. */
  principalOf(accessKeyId: string): Principal | undefined;
}

type Resources = CfnTemplate['Resources'];

/** Resolves the intrinsics policies use (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split) to local values. */
export function resolvePolicyValue(value: unknown, template: CfnTemplate): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => resolvePolicyValue(v, template));
  const obj = value as Record<string, unknown>;
  if ('Ref' in obj || 'Fn::GetAtt' in obj) {
    const getAtt = obj['Fn::GetAtt'] as [string, string] | undefined;
    if (getAtt && getAtt[1] === 'Arn' && template.Resources[getAtt[0]]?.Type === 'AWS::IAM::Role') return `arn:aws:iam::${LOCAL_ACCOUNT}:role/${getAtt[0]}`;
    return resolveIntrinsic(obj, template);
  }
  if ('Fn::Join' in obj) {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    const resolved = resolvePolicyValue(parts, template);
    return (Array.isArray(resolved) ? resolved : [resolved]).map(String).join(sep);
  }
  if ('Fn::Split' in obj) {
    const [sep, source] = obj['Fn::Split'] as [string, unknown];
    return String(resolvePolicyValue(source, template)).split(sep);
  }
  if ('Fn::Select' in obj) {
    const [index, items] = obj['Fn::Select'] as [number | string, unknown];
    return (resolvePolicyValue(items, template) as unknown[])[Number(index)];
  }
  if ('Fn::Sub' in obj) {
    const sub = obj['Fn::Sub'];
    const [text, vars] = (Array.isArray(sub) ? sub : [sub, {}]) as [string, Record<string, unknown>];
    return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`; // ${!Literal} is the literal ${Literal}
      if (name in vars) return String(resolvePolicyValue(vars[name], template));
      const [id, attr] = name.split('.');
      return String(resolvePolicyValue(attr ? { 'Fn::GetAtt': [id, attr] } : { Ref: id }, template));
    });
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolvePolicyValue(v, template)]));
}

const refOf = (v: unknown): string | undefined => {
  const o = v as { Ref?: string; 'Fn::GetAtt'?: [string, string] } | undefined;
  return o?.Ref ?? o?.['Fn::GetAtt']?.[0];
};

function statementsOf(document: unknown, template: CfnTemplate): PolicyStatement[] {
  const doc = resolvePolicyValue(document, template) as { Statement?: PolicyStatement | PolicyStatement[] } | undefined;
  const s = doc?.Statement;
  return s === undefined ? [] : Array.isArray(s) ? s : [s];
}

/** Every role of the template with its statements, and the access key id of every function. */
export function iamModelOf(template: CfnTemplate): IamModel {
  const resources: Resources = template.Resources;
  const statements = new Map<string, PolicyStatement[]>();
  const awsManaged = new Map<string, string[]>();
  const managedDocs = new Map<string, unknown>();
  for (const [id, r] of Object.entries(resources)) if (r.Type === 'AWS::IAM::ManagedPolicy') managedDocs.set(id, r.Properties?.PolicyDocument);
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::IAM::Role') continue;
    const p = r.Properties ?? {};
    const own: PolicyStatement[] = [];
    for (const inline of (p.Policies ?? []) as { PolicyDocument: unknown }[]) own.push(...statementsOf(inline.PolicyDocument, template));
    const external: string[] = [];
    for (const arn of (p.ManagedPolicyArns ?? []) as unknown[]) {
      const ref = refOf(arn);
      if (ref && managedDocs.has(ref)) own.push(...statementsOf(managedDocs.get(ref), template));
      else external.push(String(resolvePolicyValue(arn, template)));
    }
    statements.set(id, own);
    awsManaged.set(id, external);
  }
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    for (const role of (r.Properties?.Roles ?? []) as unknown[]) {
      const id = refOf(role);
      if (id && statements.has(id)) statements.get(id)?.push(...statementsOf(r.Properties?.PolicyDocument, template));
    }
  }
  const roles = new Map<string, LocalRole>();
  for (const [id, s] of statements) roles.set(id, { logicalId: id, statements: s, policy: new CompiledPolicy(s), awsManagedPolicyArns: awsManaged.get(id) ?? [] });

  const principals = new Map<string, Principal>();
  let stateMachine: Principal | undefined;
  const stateMachines = new Map<string, Principal>();
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::Lambda::Function') {
      const role = roles.get(refOf(r.Properties?.Role) ?? '');
      // A function whose role is not in the template (imported) has no statements known here: every call is denied.
      principals.set(accessKeyIdOf(id), { roleName: role?.logicalId ?? `${id}-unknown-role`, sessionName: id, policy: role?.policy ?? new CompiledPolicy([]) });
    }
    if (r.Type === 'AWS::StepFunctions::StateMachine') {
      const role = roles.get(refOf(r.Properties?.RoleArn) ?? '');
      const principal = { roleName: role?.logicalId ?? `${id}-unknown-role`, sessionName: id, policy: role?.policy ?? new CompiledPolicy([]) };
      stateMachines.set(localStateMachineArn(id), principal);
      if (r.Properties?.StateMachineType !== 'EXPRESS') stateMachine = principal;
    }
  }
  const admin: Principal = { roleName: 'admin', sessionName: ADMIN_ACCESS_KEY_ID };
  return { roles, principals, stateMachine, stateMachines, principalOf: (key) => (key === ADMIN_ACCESS_KEY_ID ? admin : principals.get(key)) };
}

/** The access key id of a SigV4 `Authorization` header (`AWS4-HMAC-SHA256 Credential=AKID/date/region/service/...`). */
export function accessKeyIdOfRequest(authorization: string | undefined): string | undefined {
  return /Credential=([^/,\s]+)\//.exec(authorization ?? '')?.[1];
}
