import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ADMIN_GROUP } from '../lambdas/api/admin-routes';

export interface AgentApiProps {
  /** The Lambda behind every route (the shared routes in lambdas/api/routes.ts). */
  readonly handler: lambda.IFunction;
  /**
   * An existing Cognito user pool to verify callers against.
   * @default - a new user pool is created
   */
  readonly userPool?: cognito.IUserPool;
  /**
   * The one browser origin allowed by CORS (the trace viewer's).
   * @default - no CORS: browsers on other origins cannot call the API
   */
  readonly corsOrigin?: string;
  /**
   * Stage throttling.
   * @default 20 requests per second, bursts of 40
   */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
}

/**
 * API Gateway REST API (DESIGN §7): POST/GET /runs, GET /runs/{id}, GET /runs/{id}/trace, POST
 * /runs/{id}/pause|resume|cancel — every route behind the Cognito authorizer, one Lambda (the shared routes), stage
 * throttling, access logs, CORS limited to one origin.
 */
export class AgentApi extends Construct {
  readonly api: apigw.RestApi;
  readonly userPool: cognito.IUserPool;

  constructor(scope: Construct, id: string, props: AgentApiProps) {
    super(scope, id);
    this.userPool =
      props.userPool ??
      new cognito.UserPool(this, 'Users', {
        selfSignUpEnabled: false,
        passwordPolicy: { minLength: 12, requireDigits: true, requireSymbols: true, requireUppercase: true, requireLowercase: true },
      });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH });
    this.api = new apigw.RestApi(this, 'Api', {
      description: 'Agent runs: start, list, read, trace, pause, resume, cancel',
      ...(props.corsOrigin
        ? { defaultCorsPreflightOptions: { allowOrigins: [props.corsOrigin], allowMethods: ['GET', 'POST'], allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'] } }
        : {}),
      deployOptions: {
        throttlingRateLimit: props.throttle?.rateLimit ?? 20,
        throttlingBurstLimit: props.throttle?.burstLimit ?? 40,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        tracingEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
      },
    });
    const authorizer = new apigw.CognitoUserPoolsAuthorizer(this, 'Authorizer', { cognitoUserPools: [this.userPool] });
    const integration = new apigw.LambdaIntegration(props.handler);
    const auth = { authorizer, authorizationType: apigw.AuthorizationType.COGNITO };
    // GET / serves the trace viewer page: static, no data in it (its API calls carry the user's token).
    this.api.root.addMethod('GET', integration, { authorizationType: apigw.AuthorizationType.NONE });
    const runs = this.api.root.addResource('runs');
    runs.addMethod('POST', integration, auth);
    runs.addMethod('GET', integration, auth);
    const run = runs.addResource('{id}');
    run.addMethod('GET', integration, auth);
    run.addResource('trace').addMethod('GET', integration, auth);
    for (const action of ['pause', 'resume', 'cancel']) run.addResource(action).addMethod('POST', integration, auth);
    // Admin routes: the same authorizer; the handler checks the token's cognito:groups for agent-admins (403 else).
    const admin = this.api.root.addResource('admin');
    for (const action of ['stop', 'disable', 'enable']) admin.addResource(action).addMethod('POST', integration, auth);
    for (const view of ['spend', 'runs', 'reads']) admin.addResource(view).addMethod('GET', integration, auth);
    if (!props.userPool) {
      new cognito.CfnUserPoolGroup(this, 'Admins', {
        userPoolId: this.userPool.userPoolId,
        groupName: ADMIN_GROUP,
        description: 'Agent admins: kill switch (POST /admin/stop, disable, enable), spend, support access to every run (each read recorded)',
      });
    }
  }
}
