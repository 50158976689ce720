import { LOCAL_ACCOUNT, LOCAL_REGION } from '../template';
import type { RequestContext } from './conditions';
import { AccessDenied, accessDeniedMessage, type Principal } from './policy';
import { accessKeyIdOfRequest, type IamModel } from './roles';

/** A request signed with an access key id no function of the template has (AWS: UnrecognizedClientException). */
export class UnrecognizedClient extends Error {
  override readonly name = 'UnrecognizedClientException';
  constructor() {
    super('The security token included in the request is invalid.');
  }
}

/** What the local endpoints could not check (unsupported conditions, AWS managed policies): logged, never silently allowed. */
export type IamReport = (message: string, fields: Record<string, unknown>) => void;

/** One denied or flagged request, as the endpoints saw it (for tests and the CLI's diagnostics). */
export interface IamDenial {
  principal: Principal;
  action: string;
  resource: string;
  message: string;
}

/** The local endpoints' IAM: who signed a request, and whether that role may perform the action on the resource. */
export class LocalIam {
  readonly denials: IamDenial[] = [];
  /** Role → the actions it was allowed (to compare with what it is granted: least privilege). */
  readonly used = new Map<string, Set<string>>();

  constructor(
    /** The roles of the template deployed last (LocalEngine.deploy replaces it, as a deploy replaces the roles). */
    public model: IamModel,
    private readonly report: IamReport = () => undefined,
  ) {
    for (const role of model.roles.values()) {
      if (role.awsManagedPolicyArns.length)
        this.report('IAM offline: AWS managed policies are not evaluated (their statements are not in the template)', {
          role: role.logicalId,
          policies: role.awsManagedPolicyArns,
        });
    }
  }

  /** The principal of a SigV4-signed request; throws UnrecognizedClient for an access key id nobody has. */
  principalOf(authorization: string | undefined): Principal {
    const key = accessKeyIdOfRequest(authorization);
    const principal = key === undefined ? undefined : this.model.principalOf(key);
    if (!principal) throw new UnrecognizedClient();
    return principal;
  }

  /**
   * Throws AccessDenied (AWS's message) unless the principal's policy allows the action on every resource, with the
   * request's service context keys (`context`) and the global ones AWS sets for an assumed role (globalContextOf).
   */
  authorize(principal: Principal, action: string, resources: string[], context: RequestContext = {}): void {
    if (!principal.policy) return;
    const full = { ...globalContextOf(principal), ...context };
    for (const resource of resources) {
      const decision = principal.policy.evaluate(action, resource, full);
      if (decision.unevaluated.length)
        this.report('IAM offline: a statement with a Condition IAM offline does not evaluate matched (its Allow does not grant, its Deny applies)', {
          role: principal.roleName,
          action,
          resource,
          statements: decision.unevaluated,
        });
      if (!decision.allowed) {
        const message = accessDeniedMessage(LOCAL_ACCOUNT, principal, action, resource, decision);
        this.denials.push({ principal, action, resource, message });
        if (this.denials.length > 1000) this.denials.shift();
        this.report('IAM offline: access denied', { role: principal.roleName, action, resource });
        throw new AccessDenied(message);
      }
    }
    const used = this.used.get(principal.roleName) ?? new Set<string>();
    used.add(action);
    this.used.set(principal.roleName, used);
  }
}

/**
 * The global condition keys AWS puts in the context of a request signed by a role session over the SDK (IAM User
 * Guide, "AWS global condition context keys"): the principal's role ARN, account and type, the region, HTTPS, the
 * time. Keys AWS sets only in some cases (source IP, VPC, tags, `aws:CalledVia`) are absent, as for a request
 * that lacks them.
 */
export function globalContextOf(principal: Principal, now = new Date()): RequestContext {
  return {
    'aws:PrincipalArn': `arn:aws:iam::${LOCAL_ACCOUNT}:role/${principal.roleName}`,
    'aws:PrincipalAccount': LOCAL_ACCOUNT,
    'aws:PrincipalType': 'AssumedRole',
    'aws:RequestedRegion': LOCAL_REGION,
    'aws:SecureTransport': 'true',
    'aws:CurrentTime': now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
    'aws:ViaAWSService': 'false',
  };
}
