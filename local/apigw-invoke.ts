import { lambdaContext } from './lambda-invoker';
import type { Revision } from './versions';

/**
 * Invokes a template function's deployed handler (by logical id) with an event, as API Gateway invokes an
 * integration or a Lambda authorizer (local/api-gateway.ts); its errors are the caller's to map.
 */
export async function invokeFunction(revision: Revision, logicalId: string, event: unknown): Promise<unknown> {
  const fn = [...revision.functions.values()].find((f) => f.logicalId === logicalId);
  const handler = fn && revision.handlers.get(fn.arn);
  if (!fn || !handler) throw new Error(`the template has no function ${logicalId} with a handler`);
  return handler(event, lambdaContext(fn));
}
