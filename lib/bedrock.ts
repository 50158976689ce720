import { Aws } from 'aws-cdk-lib';
import type { ModelConfig } from './config';

/** Geography prefixes of Bedrock's system-defined (cross-region) inference profiles, e.g. `us.anthropic.claude-…`. */
const PROFILE_PREFIXES = new Set(['us', 'eu', 'apac', 'us-gov', 'global', 'jp', 'au', 'ca']);

/**
 * What `bedrock:InvokeModel` (Converse) must be granted on for one configured model (Amazon Bedrock User Guide,
 * "Prerequisites for inference profiles"; Service Authorization Reference, resource types of Amazon Bedrock): a
 * foundation model id → `arn:<partition>:bedrock:<region>::foundation-model/<id>` (the model's `region`, else the
 * stack's); a system inference profile id (`us.<model id>`) → the profile in the model's region and the foundation
 * model in every region it may route to (`*`); a model given by ARN → that ARN (and, for a system inference profile
 * ARN, its foundation model in every region).
 */
export function bedrockModelArns(model: ModelConfig): string[] {
  const id = model.model;
  if (id.startsWith('arn:')) {
    const profile = /^arn:([^:]+):bedrock:[^:]*:[^:]*:inference-profile\/([^.]+)\.(.+)$/.exec(id);
    return profile && PROFILE_PREFIXES.has(String(profile[2])) ? [id, `arn:${profile[1]}:bedrock:*::foundation-model/${profile[3]}`] : [id];
  }
  const region = model.region ?? Aws.REGION;
  const [prefix, ...rest] = id.split('.');
  if (prefix && rest.length > 1 && PROFILE_PREFIXES.has(prefix)) {
    return [`arn:${Aws.PARTITION}:bedrock:${region}:${Aws.ACCOUNT_ID}:inference-profile/${id}`, `arn:${Aws.PARTITION}:bedrock:*::foundation-model/${rest.join('.')}`];
  }
  return [`arn:${Aws.PARTITION}:bedrock:${region}::foundation-model/${id}`];
}
