import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { lambdaContext } from './lambda-invoker';
import type { Revision } from './versions';

/**
 * API Gateway's Lambda proxy integration: invokes the deployed API handler (lambdas/handlers/api.ts) of the revision
 * with a REST proxy event; an unhandled Lambda error is answered 502 without its details, as API Gateway does.
 */
export async function invokeApiHandler(revision: Revision, logger: Logger, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const fn = [...revision.functions.values()].find((f) => f.handler === 'api');
  const handler = fn && revision.handlers.get(fn.arn);
  if (!fn || !handler) throw new Error('the template has no API handler');
  try {
    return (await handler(event, lambdaContext(fn))) as APIGatewayProxyResult;
  } catch (err) {
    logger.error('API handler failed', { err });
    return { statusCode: 502, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Internal server error' }) };
  }
}

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
