import { LOCAL_ACCOUNT } from '../template';
import { AccessDenied, accessDeniedMessage, type Principal } from './policy';
import { accessKeyIdOfRequest, type IamModel } from './roles';

/** A request signed with an access key id no function of the template has (AWS: UnrecognizedClientException). */
export class UnrecognizedClient extends Error {
  override readonly name = 'UnrecognizedClientException';
  constructor() {
    super('The security token included in the request is invalid.');
  }
}

/** What the local endpoints could not check (conditions, AWS managed policies): logged, never silently allowed. */
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
      if (role.awsManagedPolicyArns.length) this.report('IAM offline: AWS managed policies are not evaluated (their statements are not in the template)', { role: role.logicalId, policies: role.awsManagedPolicyArns });
    }
  }

  /** The principal of a SigV4-signed request; throws UnrecognizedClient for an access key id nobody has. */
  principalOf(authorization: string | undefined): Principal {
    const key = accessKeyIdOfRequest(authorization);
    const principal = key === undefined ? undefined : this.model.principalOf(key);
    if (!principal) throw new UnrecognizedClient();
    return principal;
  }

  /** Throws AccessDenied (AWS's message) unless the principal's policy allows the action on every resource. */
  authorize(principal: Principal, action: string, resources: string[]): void {
    if (!principal.policy) return;
    for (const resource of resources) {
      const decision = principal.policy.evaluate(action, resource);
      if (decision.unevaluated.length) this.report('IAM offline: a statement with a Condition matched and was not evaluated (its Allow does not grant, its Deny applies)', { role: principal.roleName, action, resource, statements: decision.unevaluated });
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
