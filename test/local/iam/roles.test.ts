import { parseConfig } from '../../../lib/config';
import type { RequestContext } from '../../../local/iam/conditions';
import { dynamoChecks } from '../../../local/iam/dynamo-front';
import { accessKeyIdOf, accessKeyIdOfRequest, iamModelOf, resolvePolicyValue } from '../../../local/iam/roles';
import { type IamCheck, sfnCheck } from '../../../local/iam/sfn';
import { type CfnTemplate, functionsOf, lambdaVersionsOf, stateMachineOf } from '../../../local/template';
import { templateFor } from '../../helpers/engine';

const template = templateFor(parseConfig({}));
const model = iamModelOf(template);
const fn = (handler: string) => {
  const f = functionsOf(template).find((x) => x.handler === handler);
  if (!f) throw new Error(handler);
  return f;
};
const principal = (handler: string) => {
  const p = model.principalOf(accessKeyIdOf(fn(handler).logicalId));
  if (!p?.policy) throw new Error(handler);
  return p;
};

describe('roles from the synthesized template', () => {
  it("gives each function's access key its own role, and test/test the administrator", () => {
    const p = principal('call-model');
    expect(p).toMatchObject({ sessionName: fn('call-model').logicalId, roleName: expect.stringMatching(/^CallModel.*Role/) });
    expect(model.principalOf('test')).toEqual({ roleName: 'admin', sessionName: 'test' });
    expect(model.principalOf('someone')).toBeUndefined();
    expect(accessKeyIdOfRequest('AWS4-HMAC-SHA256 Credential=LOCAL-Fn/20260101/local/dynamodb/aws4_request, SignedHeaders=host')).toBe('LOCAL-Fn');
  });

  it('resolves table grants to the local table ARN (and its indexes)', () => {
    const table = `arn:aws:dynamodb:local:000000000000:table/${fn('load-run').env.TABLE_NAME}`;
    const policy = principal('load-run').policy;
    expect(policy?.evaluate('dynamodb:GetItem', table).allowed).toBe(true);
    expect(policy?.evaluate('dynamodb:Query', `${table}/index/byUser`).allowed).toBe(true);
    // Only the tool runner may touch the idempotency table.
    const idem = `arn:aws:dynamodb:local:000000000000:table/${fn('call-tool').env.IDEMPOTENCY_TABLE_NAME}`;
    expect(policy?.evaluate('dynamodb:PutItem', idem).allowed).toBe(false);
    expect(principal('call-tool').policy?.evaluate('dynamodb:PutItem', idem).allowed).toBe(true);
  });

  it("lets the state machine's role invoke its functions, unqualified or by version/alias, and nothing else", () => {
    const sm = model.stateMachine?.policy;
    // Each version of the machine invokes the Lambda versions published with it (lib/versions.ts).
    const version = lambdaVersionsOf(template).find((v) => v.handler === 'call-model')?.arn as string;
    expect(version).toMatch(/:function:\w+:\w+$/);
    expect(sm?.evaluate('lambda:InvokeFunction', version).allowed).toBe(true);
    expect(sm?.evaluate('lambda:InvokeFunction', fn('api').arn).allowed).toBe(false);
  });

  it("resolves the API role's execution grant (Fn::Select of Fn::Split of the machine's ARN)", () => {
    const { arn, name } = stateMachineOf(template);
    const policy = principal('api').policy;
    expect(policy?.evaluate(...flat(sfnCheck('DescribeExecution', { executionArn: `arn:aws:states:local:000000000000:execution:${name}:r1` }, arn))).allowed).toBe(true);
    // Runs start on the alias `live` only (lib/versions.ts): authorized on the machine with the qualifier `live`.
    expect(policy?.evaluate(...flat(sfnCheck('StartExecution', { stateMachineArn: `${arn}:live` }, arn))).allowed).toBe(true);
    expect(policy?.evaluate(...flat(sfnCheck('StartExecution', { stateMachineArn: arn }, arn))).allowed).toBe(false);
    expect(policy?.evaluate(...flat(sfnCheck('StartExecution', { stateMachineArn: `${arn}:3` }, arn))).allowed).toBe(false);
    expect(policy?.evaluate(...flat(sfnCheck('StartExecution', { stateMachineArn: `${arn}:beta` }, arn))).allowed).toBe(false);
    expect(policy?.evaluate(...flat(sfnCheck('SendTaskSuccess', { taskToken: 't' }, arn))).allowed).toBe(true);
    expect(policy?.evaluate(...flat(sfnCheck('ListStateMachines', {}, arn))).allowed).toBe(false);
  });

  it('resolves Fn::Sub with pseudo parameters and attributes', () => {
    const t: CfnTemplate = { Resources: { T: { Type: 'AWS::DynamoDB::Table' } } };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax
    const sub = 'arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${T.Arn}/${!aws:username}';
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the ${!…} escape resolves to a literal ${…}
    const resolved = 'arn:aws:x:local:000000000000:arn:aws:dynamodb:local:000000000000:table/T/${aws:username}';
    expect(resolvePolicyValue({ 'Fn::Sub': sub }, t)).toBe(resolved);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax
    expect(resolvePolicyValue({ 'Fn::Sub': ['${A}-${T}', { A: 'a' }] }, t)).toBe('a-T');
  });
});

describe('DynamoDB request → IAM actions and resources', () => {
  const arn = (t: string) => `arn:aws:dynamodb:local:000000000000:table/${t}`;
  it('checks a single-table call on the table, and a Query on an index on the index', () => {
    expect(dynamoChecks('PutItem', { TableName: 'A' })).toEqual([['dynamodb:PutItem', [arn('A')]]]);
    expect(dynamoChecks('Query', { TableName: 'A', IndexName: 'byUser' })).toEqual([['dynamodb:Query', [`${arn('A')}/index/byUser`]]]);
  });
  it('checks batches on every table and transactions as their single-item actions', () => {
    expect(dynamoChecks('BatchWriteItem', { RequestItems: { A: [], B: [] } })).toEqual([['dynamodb:BatchWriteItem', [arn('A'), arn('B')]]]);
    expect(dynamoChecks('TransactWriteItems', { TransactItems: [{ Put: { TableName: 'A' } }, { Update: { TableName: 'B' } }, { ConditionCheck: { TableName: 'A' } }] })).toEqual([
      ['dynamodb:PutItem', [arn('A')]],
      ['dynamodb:UpdateItem', [arn('B')]],
      ['dynamodb:ConditionCheckItem', [arn('A')]],
    ]);
    expect(dynamoChecks('TransactGetItems', { TransactItems: [{ Get: { TableName: 'A' } }] })).toEqual([['dynamodb:GetItem', [arn('A')]]]);
  });
});

const flat = ({ action, resources, context }: IamCheck): [string, string, RequestContext] => [action, resources[0] ?? '', context];
