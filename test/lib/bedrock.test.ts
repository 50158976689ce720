import { bedrockModelArns } from '../../lib/bedrock';
import { parseConfig } from '../../lib/config';
import type { PolicyStatement } from '../../local/iam/policy';
import { iamModelOf } from '../../local/iam/roles';
import { functionsOf } from '../../local/template';
import { templateFor } from '../helpers/engine';

const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';
const NOVA = 'amazon.nova-lite-v1:0';

/** Every bedrock statement of every role of the template for `config`, resolved to local ARNs, by role. */
function bedrockGrants(config: Parameters<typeof parseConfig>[0]) {
  const template = templateFor(parseConfig(config));
  const model = iamModelOf(template);
  const callModel = functionsOf(template).find((f) => f.handler === 'call-model');
  const callModelRole = String((template.Resources[callModel?.logicalId ?? '']?.Properties?.Role as { 'Fn::GetAtt'?: string[] } | undefined)?.['Fn::GetAtt']?.[0]);
  const grants = [...model.roles.values()].flatMap((r) =>
    r.statements.filter((s: PolicyStatement) => [s.Action].flat().some((a) => String(a).startsWith('bedrock:'))).map((s) => ({ role: r.logicalId, ...s })),
  );
  return { grants, callModelRole };
}

describe('the Bedrock grant: the model function may invoke exactly the configured bedrock models', () => {
  it('grants bedrock:InvokeModel to call-model only, on the primary and the fallback (own region; an inference profile and its model in every region)', () => {
    // The same models as test/integration/iam.test.ts (one template for both).
    const { grants, callModelRole } = bedrockGrants({
      models: { primary: { provider: 'bedrock', model: HAIKU, region: 'us-east-1' }, fallback: { provider: 'bedrock', model: `eu.${NOVA}` } },
    });
    expect(grants).toEqual([
      {
        role: callModelRole,
        Effect: 'Allow',
        Action: 'bedrock:InvokeModel',
        Resource: [
          `arn:aws:bedrock:us-east-1::foundation-model/${HAIKU}`,
          `arn:aws:bedrock:local:000000000000:inference-profile/eu.${NOVA}`,
          `arn:aws:bedrock:*::foundation-model/${NOVA}`,
        ],
      },
    ]);
  });

  it('grants nothing on Bedrock when no model is a bedrock model, and a model given by ARN on that ARN', () => {
    expect(bedrockGrants({}).grants).toEqual([]);
    const model = (id: string) => parseConfig({ models: { primary: { provider: 'bedrock', model: id, contextWindowTokens: 200_000 } } }).models.primary;
    const arn = 'arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123';
    expect(bedrockModelArns(model(arn))).toEqual([arn]);
    // A system inference profile by ARN: the profile, and its model in every region it routes to.
    expect(bedrockModelArns(model(`arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.${HAIKU}`))).toEqual([
      `arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.${HAIKU}`,
      `arn:aws:bedrock:*::foundation-model/${HAIKU}`,
    ]);
  });
});
