/**
 * IAM `Condition` evaluation, as the IAM User Guide describes it ("IAM JSON policy elements: Condition operators",
 * "Single-valued vs. multivalued context keys", "Creating a condition with multiple keys or values"):
 *
 * - every operator of a block must match, and every key of an operator (AND); any value of a key may match (OR);
 * - a key missing from the request context fails a positive operator, satisfies a negated one (`…Not…`) and any
 *   `…IfExists`; `Null` tests presence; `ForAnyValue:` fails and `ForAllValues:` holds on a missing key;
 * - a multivalued key (the Service Authorization Reference's `ArrayOf…` types, e.g. `states:StateMachineQualifier`)
 *   matches only under a set operator (`ForAnyValue:` / `ForAllValues:`); a single-valued operator fails on it;
 * - condition keys are case-insensitive, values case-sensitive except under `…IgnoreCase`; `ArnLike`/`ArnEquals`
 *   match each of the six colon-separated parts of the ARN separately, with `*` and `?`.
 *
 * Operators not evaluated here (IpAddress, BinaryEquals) and policy variables (`${aws:username}`) make the
 * condition `unevaluated`: the caller reports it and never lets it grant.
 */

/** A request context value: a single-valued key is a string, a multivalued key a list. */
export type ContextValue = string | readonly string[];

/** The request context of one authorization: condition key (any case) → value. */
export type RequestContext = Readonly<Record<string, ContextValue | undefined>>;

/** `true`/`false`: the Condition block matches or not; `undefined`: it uses what is not evaluated locally. */
export type ConditionResult = boolean | undefined;

type Matcher = (requestValue: string, policyValue: string) => boolean | undefined;

const wildcardRegex = (pattern: string, flags = ''): RegExp =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
    flags,
  );

const number = (v: string): number | undefined => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
const date = (v: string): number | undefined => {
  const n = number(v);
  if (n !== undefined) return n * 1000; // epoch seconds
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
};
const compare =
  <T>(parse: (v: string) => T | undefined, test: (a: T, b: T) => boolean): Matcher =>
  (requestValue, policyValue) => {
    const [a, b] = [parse(requestValue), parse(policyValue)];
    return a === undefined || b === undefined ? false : test(a, b);
  };

/** The six parts of an ARN (`arn`, partition, service, region, account, resource): the resource keeps its colons. */
function arnParts(arn: string): string[] | undefined {
  const parts = arn.split(':');
  return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(':')];
}

const arnLike: Matcher = (requestValue, policyValue) => {
  const [request, policy] = [arnParts(requestValue), arnParts(policyValue)];
  if (!request || !policy) return false;
  return policy.every((part, i) => wildcardRegex(part).test(request[i] ?? ''));
};

/** The positive base operators (each `…Not…` operator is the negation of one of these). */
const POSITIVE: Record<string, Matcher> = {
  stringequals: (r, p) => r === p,
  stringequalsignorecase: (r, p) => r.toLowerCase() === p.toLowerCase(),
  stringlike: (r, p) => wildcardRegex(p).test(r),
  numericequals: compare(number, (a, b) => a === b),
  numericlessthan: compare(number, (a, b) => a < b),
  numericlessthanequals: compare(number, (a, b) => a <= b),
  numericgreaterthan: compare(number, (a, b) => a > b),
  numericgreaterthanequals: compare(number, (a, b) => a >= b),
  dateequals: compare(date, (a, b) => a === b),
  datelessthan: compare(date, (a, b) => a < b),
  datelessthanequals: compare(date, (a, b) => a <= b),
  dategreaterthan: compare(date, (a, b) => a > b),
  dategreaterthanequals: compare(date, (a, b) => a >= b),
  bool: (r, p) => r.toLowerCase() === p.toLowerCase(),
  arnequals: arnLike,
  arnlike: arnLike,
};

/** Negated operator → its positive base. */
const NEGATED: Record<string, string> = {
  stringnotequals: 'stringequals',
  stringnotequalsignorecase: 'stringequalsignorecase',
  stringnotlike: 'stringlike',
  numericnotequals: 'numericequals',
  datenotequals: 'dateequals',
  arnnotequals: 'arnequals',
  arnnotlike: 'arnlike',
};

const asList = (v: unknown): string[] => (Array.isArray(v) ? v : [v]).map((x) => String(x));
const hasVariable = (values: string[]) => values.some((v) => v.includes('${'));

/** One request value against the policy values of a key: any policy value matching (negated: none). */
function valueMatches(base: string, negated: boolean, requestValue: string, policyValues: string[]): boolean | undefined {
  const match = POSITIVE[base];
  if (!match) return undefined;
  let any = false;
  for (const p of policyValues) {
    const m = match(requestValue, p);
    if (m === undefined) return undefined;
    if (m) any = true;
  }
  return negated ? !any : any;
}

/** One operator (e.g. `ForAnyValue:StringLikeIfExists`) with one key and its policy values. */
function operatorMatches(operator: string, value: ContextValue | undefined, policyValues: string[]): boolean | undefined {
  let op = operator.toLowerCase();
  let set: 'any' | 'all' | undefined;
  if (op.startsWith('foranyvalue:')) [set, op] = ['any', op.slice('foranyvalue:'.length)];
  else if (op.startsWith('forallvalues:')) [set, op] = ['all', op.slice('forallvalues:'.length)];
  if (op === 'null') {
    const missing = value === undefined || (Array.isArray(value) && value.length === 0);
    return policyValues.some((p) => p.toLowerCase() === String(missing));
  }
  const ifExists = op.endsWith('ifexists');
  if (ifExists) op = op.slice(0, -'ifexists'.length);
  const negated = op in NEGATED;
  const base = NEGATED[op] ?? op;
  if (!(base in POSITIVE) || hasVariable(policyValues)) return undefined;
  const missing = value === undefined;
  if (set === 'any') {
    if (missing) return ifExists;
    let any = false;
    for (const v of asList(value)) {
      const m = valueMatches(base, negated, v, policyValues);
      if (m === undefined) return undefined;
      if (m) any = true;
    }
    return any;
  }
  if (set === 'all') {
    if (missing) return true;
    for (const v of asList(value)) {
      const m = valueMatches(base, negated, v, policyValues);
      if (m !== true) return m;
    }
    return true;
  }
  if (missing) return ifExists || negated;
  if (typeof value !== 'string') return false; // a multivalued key needs a set operator
  return valueMatches(base, negated, value, policyValues);
}

/** Looks a condition key up in the context, case-insensitively. */
function lookup(context: RequestContext, key: string): ContextValue | undefined {
  if (key in context) return context[key];
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(context)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Evaluates a statement's `Condition` block against the request context. */
export function conditionMatches(condition: Record<string, unknown>, context: RequestContext): ConditionResult {
  let result: ConditionResult = true;
  for (const [operator, keys] of Object.entries(condition)) {
    for (const [key, values] of Object.entries((keys ?? {}) as Record<string, unknown>)) {
      const m = operatorMatches(operator, lookup(context, key), asList(values));
      if (m === false) return false; // one failing key fails the block, whatever else is unevaluated
      if (m === undefined) result = undefined;
    }
  }
  return result;
}
