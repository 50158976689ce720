import { conditionMatches, type RequestContext } from './conditions';

/**
 * A pure evaluator of IAM identity-based policy statements (the subset the offline engine needs): Allow/Deny with
 * an explicit Deny winning, Action/NotAction and Resource/NotResource with `*` and `?` wildcards, and Condition
 * blocks evaluated against the request context (local/iam/conditions.ts; what that cannot evaluate is reported,
 * never guessed). Statements are compiled once (a role's policy is compiled when the engine starts); a check is a
 * few regular-expression tests.
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, unknown>;
}

/** The outcome of a check. `unevaluated` lists the statements whose conditions could not be evaluated locally. */
export interface Decision {
  allowed: boolean;
  /** `explicit`: a Deny statement matched; `implicit`: no Allow statement matched. */
  denial?: 'explicit' | 'implicit';
  /** Sids (or indexes) of matching statements whose Condition could not be evaluated: an Allow of these does not grant. */
  unevaluated: string[];
}

interface CompiledStatement {
  id: string;
  allow: boolean;
  action: RegExp;
  notAction: boolean;
  resource: RegExp;
  notResource: boolean;
  condition?: Record<string, unknown>;
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** `*` matches any run of characters (ARN separators included), `?` one character, as IAM matches them. */
export function wildcard(patterns: string[], caseInsensitive = false): RegExp {
  const body = patterns
    .map((p) =>
      p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replaceAll('*', '.*')
        .replaceAll('?', '.'),
    )
    .join('|');
  return new RegExp(`^(?:${body || '(?!)'})$`, caseInsensitive ? 'i' : '');
}

/** A role's policy, compiled once. */
export class CompiledPolicy {
  private readonly statements: CompiledStatement[];

  constructor(statements: PolicyStatement[]) {
    this.statements = statements.map((s, i) => {
      const notAction = s.NotAction !== undefined;
      const notResource = s.NotResource !== undefined;
      return {
        id: s.Sid ?? `#${i}`,
        allow: s.Effect === 'Allow',
        action: wildcard(list(notAction ? s.NotAction : s.Action), true),
        notAction,
        resource: wildcard(list(notResource ? s.NotResource : s.Resource)),
        notResource,
        condition: s.Condition && Object.keys(s.Condition).length > 0 ? s.Condition : undefined,
      };
    });
  }

  /**
   * Evaluates one request with its context keys. A statement applies when its action, resource and Condition match;
   * a matching statement whose Condition cannot be evaluated locally is reported in `unevaluated`: its Deny applies
   * (strictest) and its Allow does not grant.
   */
  evaluate(action: string, resource: string, context: RequestContext = {}): Decision {
    let allowed = false;
    const unevaluated: string[] = [];
    for (const s of this.statements) {
      if (s.action.test(action) === s.notAction) continue;
      if (s.resource.test(resource) === s.notResource) continue;
      const applies = s.condition ? conditionMatches(s.condition, context) : true;
      if (applies === false) continue;
      if (applies === undefined) unevaluated.push(s.id);
      if (!s.allow) return { allowed: false, denial: 'explicit', unevaluated };
      if (applies) allowed = true;
    }
    return allowed ? { allowed, unevaluated } : { allowed, denial: 'implicit', unevaluated };
  }
}

/** The principal a request is made as: an assumed role session (a function, or the state machine). */
export interface Principal {
  roleName: string;
  sessionName: string;
  /** Absent for the account's administrator (credentials test/test). */
  policy?: CompiledPolicy;
}

/** AWS's message for a denied request. */
export function accessDeniedMessage(account: string, principal: Principal, action: string, resource: string, decision: Decision): string {
  const who = `arn:aws:sts::${account}:assumed-role/${principal.roleName}/${principal.sessionName}`;
  const why = decision.denial === 'explicit' ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${action} action`;
  const note = decision.unevaluated.length ? ` (offline: conditions of statement(s) ${decision.unevaluated.join(', ')} were not evaluated)` : '';
  return `User: ${who} is not authorized to perform: ${action} on resource: ${resource} ${why}${note}`;
}

/** An AccessDeniedException as the SDK raises it (its name is the error code). */
export class AccessDenied extends Error {
  override readonly name = 'AccessDeniedException';
}
