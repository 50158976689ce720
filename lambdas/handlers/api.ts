import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { errorBody, json } from '../api/http';
import { apiRequestOf } from '../api/proxy-event';
import { publicConfig } from '../api/public-config';
import { type ApiRequest, handleApi } from '../api/routes';
import viewerHtml from '../api/viewer/index.html';
import { createRunControl } from '../core/control';
import { type ApiKeyWiring, createApiKeyWiring } from '../runtime/api-keys';
import { type BaseRuntime, createBaseRuntime, optionsFromEnv } from '../runtime/base';
import { createSpendWiring, type SpendWiring } from '../runtime/spend';
import { lambdaEntry, wrap } from '../runtime/wrap';
import { sfnExecutions } from '../store/sfn-executions';

/** API Gateway proxy → the shared routes. The caller is the verified token's `sub`, never a body field. */
export const createHandler = wrap(async (rt: BaseRuntime & SpendWiring & Partial<ApiKeyWiring>, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  // The trace viewer: a static page (no data in it); every call it makes goes to the authorized routes.
  if (event.httpMethod === 'GET' && event.path === '/') return { statusCode: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: viewerHtml };
  if (event.httpMethod === 'GET' && event.path === '/config') {
    const settings = publicConfig(process.env);
    return settings
      ? { statusCode: 200, headers: { 'content-type': 'application/json', 'cache-control': 'max-age=300' }, body: JSON.stringify(settings) }
      : json(404, errorBody('NOT_FOUND', 'no user pool is configured'));
  }
  const stateMachineArn = rt.aws?.stateMachineArn ?? process.env.STATE_MACHINE_ARN;
  if (!stateMachineArn) throw new Error('Environment variable STATE_MACHINE_ARN is missing');
  const req: ApiRequest = apiRequestOf(event);
  const control = createRunControl({ runs: rt.runs, executions: sfnExecutions(stateMachineArn, rt.aws?.sfn) });
  let res: APIGatewayProxyResult;
  try {
    res = await handleApi({ runs: rt.runs, threads: rt.threads, runItems: rt.runItems, config: rt.config, control, spend: rt.spend, keys: rt.apiKeys }, req);
  } catch (err) {
    // An unexpected failure: the cause goes to the log, never to the caller (it may name tables, types or internals).
    rt.logger.error('request failed', { method: req.method, path: req.path, err });
    res = json(500, errorBody('INTERNAL', 'internal error; the cause is in the logs'));
  }
  const origin = process.env.CORS_ORIGIN;
  return { ...res, headers: { ...res.headers, ...(origin ? { 'access-control-allow-origin': origin, vary: 'Origin' } : {}) } };
});
/** The base, the spend counters (the daily caps, the admin routes) and the API keys (the admin key routes). */
function fromEnv(): BaseRuntime & SpendWiring & ApiKeyWiring {
  const options = optionsFromEnv();
  return { ...createBaseRuntime(options), ...createSpendWiring(options), ...createApiKeyWiring(options) };
}
export const handler = lambdaEntry(createHandler, fromEnv);
