import { conditionMatches, type RequestContext } from '../../../local/iam/conditions';

const SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:Agent';

/** One condition operator with one key and its values, against a context (IAM User Guide, "Condition operators"). */
const check = (operator: string, key: string, values: string | string[], context: RequestContext) => conditionMatches({ [operator]: { [key]: values } }, context);

describe('IAM condition operators, as the IAM User Guide defines them', () => {
  it('String*: exact, case-insensitive with IgnoreCase, wildcards with Like; any policy value may match; keys any case', () => {
    const ctx = { 'aws:RequestedRegion': 'us-east-1' };
    expect(check('StringEquals', 'aws:RequestedRegion', ['eu-west-1', 'us-east-1'], ctx)).toBe(true);
    expect(check('StringEquals', 'AWS:requestedregion', 'us-east-1', ctx)).toBe(true);
    expect(check('StringEquals', 'aws:RequestedRegion', 'US-EAST-1', ctx)).toBe(false);
    expect(check('StringEqualsIgnoreCase', 'aws:RequestedRegion', 'US-EAST-1', ctx)).toBe(true);
    expect(check('StringLike', 'aws:RequestedRegion', 'us-*-?', ctx)).toBe(true);
    expect(check('StringNotEquals', 'aws:RequestedRegion', ['eu-west-1', 'us-east-1'], ctx)).toBe(false);
    expect(check('StringNotLike', 'aws:RequestedRegion', 'eu-*', ctx)).toBe(true);
  });

  it('a missing key fails a positive operator and satisfies a negated one or any …IfExists', () => {
    expect(check('StringEquals', 'aws:SourceVpce', 'vpce-1', {})).toBe(false);
    expect(check('StringNotEquals', 'aws:SourceVpce', 'vpce-1', {})).toBe(true);
    expect(check('ArnNotLike', 'aws:SourceArn', 'arn:*', {})).toBe(true);
    expect(check('StringEqualsIfExists', 'aws:SourceVpce', 'vpce-1', {})).toBe(true);
    expect(check('StringEqualsIfExists', 'aws:SourceVpce', 'vpce-1', { 'aws:SourceVpce': 'vpce-2' })).toBe(false);
    expect(check('ArnLikeIfExists', 'aws:SourceArn', `${SM}*`, { 'aws:SourceArn': `${SM}:live` })).toBe(true);
  });

  it('Null tests presence; Bool compares true/false', () => {
    expect(check('Null', 'aws:SourceVpce', 'true', {})).toBe(true);
    expect(check('Null', 'aws:SourceVpce', 'false', {})).toBe(false);
    expect(check('Null', 'aws:SecureTransport', 'false', { 'aws:SecureTransport': 'true' })).toBe(true);
    expect(check('Bool', 'aws:SecureTransport', 'false', { 'aws:SecureTransport': 'true' })).toBe(false);
    expect(check('Bool', 'aws:SecureTransport', 'TRUE', { 'aws:SecureTransport': 'true' })).toBe(true);
  });

  it('Arn*: each of the six colon-separated parts matched on its own (ArnEquals behaves as ArnLike)', () => {
    const ctx = { 'aws:SourceArn': `${SM}:live` };
    expect(check('ArnLike', 'aws:SourceArn', 'arn:aws:states:*:123456789012:stateMachine:Agent:*', ctx)).toBe(true);
    expect(check('ArnEquals', 'aws:SourceArn', `${SM}:live`, ctx)).toBe(true);
    // `*` in the region part does not run on into the account part.
    expect(check('ArnLike', 'aws:SourceArn', 'arn:aws:states:*:stateMachine:Agent:live', ctx)).toBe(false);
    expect(check('ArnNotLike', 'aws:SourceArn', 'arn:aws:states:*:*:stateMachine:Other*', ctx)).toBe(true);
    expect(check('ArnLike', 'aws:SourceArn', 'not-an-arn', ctx)).toBe(false);
  });

  it('Numeric* and Date* compare as numbers and times', () => {
    expect(check('NumericLessThanEquals', 'dynamodb:Limit', '10', { 'dynamodb:Limit': '10' })).toBe(true);
    expect(check('NumericGreaterThan', 'dynamodb:Limit', '10', { 'dynamodb:Limit': '9' })).toBe(false);
    expect(check('NumericEquals', 'dynamodb:Limit', '10', { 'dynamodb:Limit': 'ten' })).toBe(false);
    expect(check('DateLessThan', 'aws:CurrentTime', '2030-01-01T00:00:00Z', { 'aws:CurrentTime': '2026-12-07T12:00:00Z' })).toBe(true);
    expect(check('DateGreaterThan', 'aws:EpochTime', '2030-01-01T00:00:00Z', { 'aws:EpochTime': '1796000000' })).toBe(false);
  });

  it('a multivalued key (ArrayOfString, e.g. states:StateMachineQualifier) matches under a set operator only', () => {
    const live = { 'states:StateMachineQualifier': ['live'] };
    expect(check('ForAnyValue:StringEquals', 'states:StateMachineQualifier', 'live', live)).toBe(true);
    expect(check('ForAnyValue:StringEquals', 'states:StateMachineQualifier', ['PROD', '1'], live)).toBe(false);
    // A single-valued operator on a multivalued key does not match (AWS: multivalued keys require a set operator).
    expect(check('StringEquals', 'states:StateMachineQualifier', 'live', live)).toBe(false);
    // ForAnyValue fails on a missing key; ForAllValues holds on it (the unqualified machine has no qualifier).
    expect(check('ForAnyValue:StringEquals', 'states:StateMachineQualifier', 'live', {})).toBe(false);
    expect(check('ForAllValues:StringEquals', 'states:StateMachineQualifier', 'live', {})).toBe(true);
    expect(check('ForAllValues:StringLike', 'aws:TagKeys', 'team*', { 'aws:TagKeys': ['team', 'teamLead'] })).toBe(true);
    expect(check('ForAllValues:StringLike', 'aws:TagKeys', 'team*', { 'aws:TagKeys': ['team', 'cost'] })).toBe(false);
    expect(check('ForAnyValue:StringNotEquals', 'aws:TagKeys', 'team', { 'aws:TagKeys': ['team', 'cost'] })).toBe(true);
  });

  it('ANDs the operators and keys of a block; an unevaluable one leaves it undefined unless another fails', () => {
    const ctx = { 'aws:RequestedRegion': 'us-east-1', 'aws:SecureTransport': 'true' };
    expect(conditionMatches({ StringEquals: { 'aws:RequestedRegion': 'us-east-1' }, Bool: { 'aws:SecureTransport': 'true' } }, ctx)).toBe(true);
    expect(conditionMatches({ StringEquals: { 'aws:RequestedRegion': 'us-east-1', 'aws:PrincipalAccount': '1' } }, ctx)).toBe(false);
    expect(conditionMatches({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' }, StringEquals: { 'aws:RequestedRegion': 'us-east-1' } }, ctx)).toBeUndefined();
    expect(conditionMatches({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' }, StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } }, ctx)).toBe(false);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable
    expect(conditionMatches({ StringEquals: { 'aws:PrincipalTag/team': '${aws:username}' } }, ctx)).toBeUndefined();
  });
});
