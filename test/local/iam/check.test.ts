import { globalContextOf, LocalIam } from '../../../local/iam/check';
import { AccessDenied } from '../../../local/iam/policy';
import { accessKeyIdOf, iamModelOf } from '../../../local/iam/roles';
import type { CfnTemplate } from '../../../local/template';

const TABLE = 'arn:aws:dynamodb:local:000000000000:table/T';
const SM = 'arn:aws:states:local:000000000000:stateMachine:M';

/** One function whose role's statements use global and service condition keys, as a stack might. */
const template: CfnTemplate = {
  Resources: {
    Role: { Type: 'AWS::IAM::Role' },
    Policy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        Roles: [{ Ref: 'Role' }],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: 'dynamodb:GetItem',
              Resource: TABLE,
              Condition: { StringEquals: { 'aws:RequestedRegion': 'local' }, ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::000000000000:role/Ro*' } },
            },
            { Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: TABLE, Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } } },
            { Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
            { Effect: 'Allow', Action: 'states:StartExecution', Resource: SM, Condition: { 'ForAnyValue:StringEquals': { 'states:StateMachineQualifier': 'live' } } },
          ],
        },
      },
    },
    Fn: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
  },
};

describe('LocalIam.authorize: the request context AWS builds, global keys and the request keys', () => {
  const reports: string[] = [];
  const iam = new LocalIam(iamModelOf(template), (message) => reports.push(message));
  const principal = iam.principalOf(`AWS4-HMAC-SHA256 Credential=${accessKeyIdOf('Fn')}/20261207/local/dynamodb/aws4_request`);

  it('gives each request the global keys of a role session over the SDK', () => {
    expect(globalContextOf(principal, new Date('2026-12-07T12:00:00.123Z'))).toEqual({
      'aws:PrincipalArn': 'arn:aws:iam::000000000000:role/Role',
      'aws:PrincipalAccount': '000000000000',
      'aws:PrincipalType': 'AssumedRole',
      'aws:RequestedRegion': 'local',
      'aws:SecureTransport': 'true',
      'aws:CurrentTime': '2026-12-07T12:00:00Z',
      'aws:EpochTime': '1796644800',
      'aws:ViaAWSService': 'false',
    });
  });

  it('allows what the conditions allow with those keys, denies what they do not, and reports nothing it evaluated', () => {
    expect(() => iam.authorize(principal, 'dynamodb:GetItem', [TABLE])).not.toThrow();
    expect(() => iam.authorize(principal, 'dynamodb:PutItem', [TABLE])).toThrow(AccessDenied);
    // The request's own keys join the global ones: a StartExecution on the alias carries its qualifier.
    expect(() => iam.authorize(principal, 'states:StartExecution', [SM], { 'states:StateMachineQualifier': ['live'] })).not.toThrow();
    expect(() => iam.authorize(principal, 'states:StartExecution', [SM])).toThrow(AccessDenied);
    expect(reports.filter((r) => r.includes('does not evaluate'))).toEqual([]);
    expect(iam.denials.map((d) => d.action)).toEqual(['dynamodb:PutItem', 'states:StartExecution']);
  });
});
