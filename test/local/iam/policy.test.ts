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

  it('reports conditions instead of guessing them: a conditional Allow does not grant', () => {
    const policy = new CompiledPolicy([{ Sid: 'OnlyOwnKeys', Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE, Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['u'] } } }]);
    expect(policy.evaluate('dynamodb:GetItem', TABLE)).toEqual({ allowed: false, denial: 'implicit', unevaluated: ['OnlyOwnKeys'] });
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
