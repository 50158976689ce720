import { AccessDenied, accessDeniedMessage, CompiledPolicy, wildcard } from '../../../local/iam/policy';

const TABLE = 'arn:aws:dynamodb:local:000000000000:table/AgentTable';

describe('the IAM policy evaluator', () => {
  it('allows an action a statement grants on the resource, and nothing else (implicit deny)', () => {
    const policy = new CompiledPolicy([{ Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: [TABLE, `${TABLE}/index/*`] }]);
    expect(policy.evaluate('dynamodb:GetItem', TABLE)).toEqual({ allowed: true, unevaluated: [] });
    expect(policy.evaluate('dynamodb:Query', `${TABLE}/index/byUser`).allowed).toBe(true);
    expect(policy.evaluate('dynamodb:PutItem', TABLE)).toEqual({ allowed: false, denial: 'implicit', unevaluated: [] });
    expect(policy.evaluate('dynamodb:GetItem', `${TABLE}2`).allowed).toBe(false);
  });

  it('matches action wildcards case-insensitively and resource wildcards across ARN separators', () => {
    const policy = new CompiledPolicy([{ Effect: 'Allow', Action: 'dynamodb:Batch*', Resource: 'arn:aws:lambda:local:000000000000:function:Fn:*' }]);
    expect(policy.evaluate('DynamoDB:BatchWriteItem', 'arn:aws:lambda:local:000000000000:function:Fn:3').allowed).toBe(true);
    expect(policy.evaluate('dynamodb:BatchWriteItem', 'arn:aws:lambda:local:000000000000:function:Fn').allowed).toBe(false);
    expect(wildcard(['a?c']).test('abc')).toBe(true);
    expect(wildcard(['a.c']).test('abc')).toBe(false);
  });

  it('lets an explicit Deny win over any Allow, and honours NotAction / NotResource', () => {
    const policy = new CompiledPolicy([
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', NotAction: 'dynamodb:Get*', Resource: TABLE },
      { Effect: 'Deny', Action: 'states:*', NotResource: 'arn:aws:states:*' },
    ]);
    expect(policy.evaluate('dynamodb:GetItem', TABLE).allowed).toBe(true);
    expect(policy.evaluate('dynamodb:PutItem', TABLE)).toMatchObject({ allowed: false, denial: 'explicit' });
    expect(policy.evaluate('states:StartExecution', 'arn:aws:states:local:0:stateMachine:M').allowed).toBe(true);
    expect(policy.evaluate('states:StartExecution', 'other').allowed).toBe(false);
  });

  it('evaluates a Condition against the request context: a statement applies only when it matches', () => {
    const SM = 'arn:aws:states:local:000000000000:stateMachine:M';
    const policy = new CompiledPolicy([
      { Sid: 'LiveOnly', Effect: 'Allow', Action: 'states:StartExecution', Resource: SM, Condition: { 'ForAnyValue:StringEquals': { 'states:StateMachineQualifier': ['live'] } } },
    ]);
    expect(policy.evaluate('states:StartExecution', SM, { 'states:StateMachineQualifier': ['live'] })).toEqual({ allowed: true, unevaluated: [] });
    expect(policy.evaluate('states:StartExecution', SM, { 'states:StateMachineQualifier': ['3'] })).toEqual({ allowed: false, denial: 'implicit', unevaluated: [] });
    expect(policy.evaluate('states:StartExecution', SM)).toEqual({ allowed: false, denial: 'implicit', unevaluated: [] });
    // A Deny applies only when its Condition matches.
    const deny = new CompiledPolicy([
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Sid: 'NoPlainHttp', Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    ]);
    expect(deny.evaluate('dynamodb:GetItem', TABLE, { 'aws:SecureTransport': 'true' }).allowed).toBe(true);
    expect(deny.evaluate('dynamodb:GetItem', TABLE, { 'aws:SecureTransport': 'false' })).toMatchObject({ allowed: false, denial: 'explicit' });
  });

  it('reports a Condition it cannot evaluate instead of guessing it: its Allow does not grant, its Deny applies', () => {
    const allow = new CompiledPolicy([
      { Sid: 'FromOffice', Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE, Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } } },
    ]);
    expect(allow.evaluate('dynamodb:GetItem', TABLE)).toEqual({ allowed: false, denial: 'implicit', unevaluated: ['FromOffice'] });
    const deny = new CompiledPolicy([
      { Effect: 'Allow', Action: '*', Resource: '*' },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable
      { Sid: 'OwnUser', Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringNotEquals: { 'aws:PrincipalTag/team': '${aws:username}' } } },
    ]);
    expect(deny.evaluate('dynamodb:GetItem', TABLE)).toEqual({ allowed: false, denial: 'explicit', unevaluated: ['OwnUser'] });
  });

  it('words a denial as AWS does', () => {
    const principal = { roleName: 'CallModelRole', sessionName: 'CallModel' };
    const decision = new CompiledPolicy([]).evaluate('dynamodb:PutItem', TABLE);
    expect(accessDeniedMessage('000000000000', principal, 'dynamodb:PutItem', TABLE, decision)).toBe(
      `User: arn:aws:sts::000000000000:assumed-role/CallModelRole/CallModel is not authorized to perform: dynamodb:PutItem on resource: ${TABLE} because no identity-based policy allows the dynamodb:PutItem action`,
    );
    expect(new AccessDenied('x').name).toBe('AccessDeniedException');
  });
});
