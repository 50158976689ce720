import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type ApiRequest, handleApi } from '../api/routes';
import { lambdaEntry, wrap } from './wrap';

const sfn = new SFNClient({});

/** API Gateway proxy → the shared routes. The caller is the verified token's `sub`, never a body field. */
export const createHandler = wrap(async (rt, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const stateMachineArn = process.env.STATE_MACHINE_ARN;
  if (!stateMachineArn) throw new Error('Environment variable STATE_MACHINE_ARN is missing');
  const claims = (event.requestContext?.authorizer?.claims ?? {}) as Record<string, string | undefined>;
  const req: ApiRequest = {
    method: event.httpMethod,
    path: event.path,
    headers: Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    body: event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body,
    userId: claims.sub ?? null,
  };
  return handleApi(
    {
      runs: rt.runs,
      config: rt.config,
      executor: {
        start: async ({ runId, userId }) => {
          const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: runId, input: JSON.stringify({ runId, userId }) }));
          return { executionArn: out.executionArn };
        },
      },
    },
    req,
  );
});
export const handler = lambdaEntry(createHandler);
