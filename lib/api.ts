import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface AgentApiProps {
  /** The Lambda behind every route (the shared routes in lambdas/api/routes.ts). */
  readonly handler: lambda.IFunction;
  /**
   * An existing Cognito user pool to verify callers against.
   * @default - a new user pool is created
   */
  readonly userPool?: cognito.IUserPool;
}

/** API Gateway REST API: POST /runs, GET /runs/{id}, behind a Cognito authorizer; access logs and throttling on. */
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
      description: 'Agent runs: start, read',
      deployOptions: {
        throttlingRateLimit: 20,
        throttlingBurstLimit: 40,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        tracingEnabled: true,
      },
    });
    const authorizer = new apigw.CognitoUserPoolsAuthorizer(this, 'Authorizer', { cognitoUserPools: [this.userPool] });
    const integration = new apigw.LambdaIntegration(props.handler);
    const auth = { authorizer, authorizationType: apigw.AuthorizationType.COGNITO };
    const runs = this.api.root.addResource('runs');
    runs.addMethod('POST', integration, auth);
    runs.addResource('{id}').addMethod('GET', integration, auth);
  }
}
