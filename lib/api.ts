import { Duration, Fn, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ADMINS_GROUP } from '../lambdas/api/public-config';

export interface AgentApiProps {
  /** The Lambda behind every route (the shared routes in lambdas/api/routes.ts). */
  readonly handler: lambda.IFunction;
  /**
   * The streaming Lambda behind GET /runs/{id}/events (lambdas/handlers/run-events.ts), integrated with
   * `ResponseTransferMode.STREAM` (API Gateway invokes it with InvokeWithResponseStream).
   * @default - no events route
   */
  readonly eventsHandler?: lambda.IFunction;
  /**
   * Who may call: Cognito users ("cognito"), API keys through a Lambda REQUEST authorizer ("apiKeys": no user pool),
   * or either through that authorizer ("both"). docs/auth.md.
   * @default "cognito"
   */
  readonly auth?: 'cognito' | 'apiKeys' | 'both';
  /** The Lambda REQUEST authorizer (lambdas/handlers/authorizer.ts); required with "apiKeys" and "both". */
  readonly authorizer?: lambda.IFunction;
  /**
   * How long API Gateway caches the authorizer's answer for one Authorization header (a revoked key's longest life).
   * @default 60
   */
  readonly authorizerCacheSeconds?: number;
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
  /**
   * With an existing pool: its public app client and managed login domain (URL), reported by GET /config.
   * @default - none: the CLI needs --client-id, and the viewer falls back to a pasted token
   */
  readonly existingClient?: { readonly clientId?: string; readonly authDomain?: string };
  /**
   * New pool: the managed login domain prefix.
   * @default - "agent-" and the stack's id (unique, and stable for the stack's life)
   */
  readonly domainPrefix?: string;
  /**
   * Create API Gateway's CloudWatch role and set it on the account's settings for the region (AWS::ApiGateway::Account,
   * shared by every API there). The stage's logs need that setting once per account and region.
   * @default false
   */
  readonly cloudWatchRole?: boolean;
}

/** The one stage. */
const STAGE = 'prod';

/** What a client needs to sign in: served by GET /config, and the stack's outputs. Nothing here is secret. */
export interface SignInSettings {
  readonly region: string;
  readonly userPoolId: string;
  readonly clientId?: string;
  /** Managed login base URL, e.g. https://agent-….auth.eu-west-1.amazoncognito.com. */
  readonly authDomain?: string;
}

/**
 * API Gateway REST API (docs/api.md): POST/GET /runs, GET /runs/{id}, GET /runs/{id}/trace, POST
 * /runs/{id}/pause|resume|cancel — every route behind the Cognito authorizer, one Lambda (the shared routes), stage
 * throttling, access logs, CORS limited to one origin. A new user pool comes with what signing in needs: a public app
 * client (SRP for the CLI, code + PKCE through managed login for the viewer), a domain and the admins group.
 */
export class AgentApi extends Construct {
  readonly api: apigw.RestApi;
  /** The user pool (none with api.auth "apiKeys"). */
  readonly userPool?: cognito.IUserPool;
  /** The new pool's public app client (none with an existing pool). */
  readonly client?: cognito.UserPoolClient;
  /** The new pool's managed login domain (none with an existing pool). */
  readonly domain?: cognito.UserPoolDomain;
  /** What a client needs to sign in to the pool (none without one). */
  readonly signIn?: SignInSettings;
  /** The stage's URL, which is also the viewer's (GET /) and the client's callback URL. */
  readonly viewerUrl: string;

  constructor(scope: Construct, id: string, props: AgentApiProps) {
    super(scope, id);
    const authMode = props.auth ?? 'cognito';
    if (authMode !== 'cognito' && !props.authorizer) throw new Error(`api.auth "${authMode}" needs the authorizer function`);
    if (authMode === 'apiKeys' && props.userPool) throw new Error('api.auth "apiKeys" has no user pool; use "both" to keep Cognito users');
    this.userPool =
      authMode === 'apiKeys'
        ? undefined
        : (props.userPool ??
          new cognito.UserPool(this, 'Users', {
            selfSignUpEnabled: false,
            passwordPolicy: { minLength: 12, requireDigits: true, requireSymbols: true, requireUppercase: true, requireLowercase: true },
          }));
    if (this.userPool && !props.userPool) {
      const pool = this.userPool as cognito.UserPool;
      // Managed login (the newer pages, with Cognito's default branding) on a Cognito-hosted domain.
      this.domain = pool.addDomain('Domain', {
        cognitoDomain: { domainPrefix: props.domainPrefix ?? Fn.join('', ['agent-', Fn.select(2, Fn.split('/', Stack.of(this).stackId))]) },
        managedLoginVersion: cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
      });
      pool.addGroup('Admins', {
        groupName: ADMINS_GROUP,
        description: 'Agent admins: kill switch (POST /admin/stop, disable, enable), spend, support access to every run (each read recorded), adding users (agent users add)',
      });
    }
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH });
    this.api = new apigw.RestApi(this, 'Api', {
      // Named after the stack: the API's metrics (dimension ApiName) are then this stack's alone.
      restApiName: Stack.of(this).stackName,
      // The account's API Gateway CloudWatch role (AWS::ApiGateway::Account) is a region-wide singleton: set only when asked.
      cloudWatchRole: props.cloudWatchRole ?? false,
      description: 'Agent runs: start, list, read, trace, pause, resume, cancel',
      ...(props.corsOrigin
        ? {
            defaultCorsPreflightOptions: {
              allowOrigins: [props.corsOrigin],
              allowMethods: ['GET', 'POST', 'DELETE'],
              allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID'],
            },
          }
        : {}),
      deployOptions: {
        stageName: STAGE,
        throttlingRateLimit: props.throttle?.rateLimit ?? 20,
        throttlingBurstLimit: props.throttle?.burstLimit ?? 40,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        tracingEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
      },
    });
    // The stage's URL, built from the API's id: `api.url` names the stage, which depends on the deployment, which
    // depends on the methods, whose function would depend on the client: a cycle.
    const stack = Stack.of(this);
    this.viewerUrl = `https://${this.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${STAGE}/`;
    // The public client: no secret (a CLI and a browser page cannot keep one). SRP for the CLI, refresh tokens, and the
    // authorization code grant (the viewer sends PKCE) with the viewer — GET / of this API — as the only callback.
    if (this.domain && this.userPool) {
      this.client = (this.userPool as cognito.UserPool).addClient('Client', {
        generateSecret: false,
        authFlows: { userSrp: true, user: false, userPassword: false, adminUserPassword: false, custom: false },
        oAuth: {
          flows: { authorizationCodeGrant: true, implicitCodeGrant: false, clientCredentials: false },
          scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
          callbackUrls: [this.viewerUrl],
          logoutUrls: [this.viewerUrl],
        },
        supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
        preventUserExistenceErrors: true,
        enableTokenRevocation: true,
        idTokenValidity: Duration.hours(1),
        accessTokenValidity: Duration.hours(1),
        refreshTokenValidity: Duration.days(30),
      });
      new cognito.CfnManagedLoginBranding(this, 'Branding', { userPoolId: this.userPool.userPoolId, clientId: this.client.userPoolClientId, useCognitoProvidedValues: true });
    }
    if (this.userPool) {
      this.signIn = {
        region: Stack.of(this).region,
        userPoolId: this.userPool.userPoolId,
        clientId: this.client?.userPoolClientId ?? props.existingClient?.clientId,
        authDomain: this.domain ? this.domain.baseUrl() : props.existingClient?.authDomain,
      };
    }
    const integration = new apigw.LambdaIntegration(props.handler);
    const auth: apigw.MethodOptions =
      authMode === 'cognito' && this.userPool
        ? { authorizer: new apigw.CognitoUserPoolsAuthorizer(this, 'Authorizer', { cognitoUserPools: [this.userPool] }), authorizationType: apigw.AuthorizationType.COGNITO }
        : {
            // API keys (and, with "both", Cognito ID tokens) checked by our function; its answer cached per header.
            authorizer: new apigw.RequestAuthorizer(this, 'KeyAuthorizer', {
              handler: props.authorizer as lambda.IFunction,
              identitySources: [apigw.IdentitySource.header('Authorization')],
              resultsCacheTtl: Duration.seconds(props.authorizerCacheSeconds ?? 60),
            }),
            authorizationType: apigw.AuthorizationType.CUSTOM,
          };
    // GET / serves the trace viewer page: static, no data in it (its API calls carry the user's token).
    this.api.root.addMethod('GET', integration, { authorizationType: apigw.AuthorizationType.NONE });
    // GET /config: the sign-in settings above (public values), for the viewer and `agent login --api`.
    this.api.root.addResource('config').addMethod('GET', integration, { authorizationType: apigw.AuthorizationType.NONE });
    const runs = this.api.root.addResource('runs');
    runs.addMethod('POST', integration, auth);
    runs.addMethod('GET', integration, auth);
    const run = runs.addResource('{id}');
    run.addMethod('GET', integration, auth);
    run.addResource('trace').addMethod('GET', integration, auth);
    // Live progress as Server-Sent Events: the response is streamed as the function writes it.
    if (props.eventsHandler) {
      run.addResource('events').addMethod('GET', new apigw.LambdaIntegration(props.eventsHandler, { responseTransferMode: apigw.ResponseTransferMode.STREAM }), auth);
    }
    for (const action of ['pause', 'resume', 'cancel']) run.addResource(action).addMethod('POST', integration, auth);
    // The run's owner (or an admin) approves or rejects a tool call waiting for approval.
    run.addResource('approvals').addResource('{toolCallId}').addMethod('POST', integration, auth);
    // Threads (docs/threads.md): a conversation of runs.
    const threads = this.api.root.addResource('threads');
    threads.addMethod('POST', integration, auth);
    threads.addMethod('GET', integration, auth);
    const thread = threads.addResource('{id}');
    thread.addMethod('GET', integration, auth);
    thread.addMethod('DELETE', integration, auth);
    thread.addResource('runs').addMethod('POST', integration, auth);
    thread.addResource('queue').addResource('{runId}').addMethod('DELETE', integration, auth);
    // Admin routes: the same authorizer; the handler checks the token's cognito:groups for agent-admins (403 else).
    const admin = this.api.root.addResource('admin');
    for (const action of ['stop', 'disable', 'enable']) admin.addResource(action).addMethod('POST', integration, auth);
    for (const view of ['spend', 'runs', 'reads']) admin.addResource(view).addMethod('GET', integration, auth);
    // Erasing a user's runs and threads (docs/threads.md).
    admin.addResource('users').addResource('{userId}').addMethod('DELETE', integration, auth);
    if (authMode !== 'cognito') {
      // API keys: made (shown once), listed and revoked by admins.
      const keys = admin.addResource('keys');
      keys.addMethod('POST', integration, auth);
      keys.addMethod('GET', integration, auth);
      keys.addResource('{keyId}').addMethod('DELETE', integration, auth);
    }
    this.addErrorResponses(props.corsOrigin);
  }

  /**
   * API Gateway's own refusals (before the Lambda) in the app's error shape `{"error": {"code", "message"}}`
   * (docs/api.md), so a client reads one shape whoever answered. A route the API lacks keeps API Gateway's 403
   * "Missing Authentication Token".
   */
  private addErrorResponses(corsOrigin: string | undefined): void {
    const headers = corsOrigin ? { 'Access-Control-Allow-Origin': `'${corsOrigin}'`, Vary: "'Origin'" } : undefined;
    for (const [id, response] of Object.entries(GATEWAY_ERRORS)) {
      this.api.addGatewayResponse(id, {
        type: apigw.ResponseType.of(response.type),
        statusCode: String(response.statusCode),
        ...(headers ? { responseHeaders: headers } : {}),
        templates: { 'application/json': JSON.stringify({ error: { code: response.code, message: response.message } }) },
      });
    }
  }
}

/** The gateway responses the API defines (lib/api.ts `addErrorResponses`): type → status, code and message. */
export const GATEWAY_ERRORS = {
  Unauthorized: { type: 'UNAUTHORIZED', statusCode: 401, code: 'UNAUTHORIZED', message: 'a valid bearer token is required (Authorization: Bearer <token>)' },
  AccessDenied: { type: 'ACCESS_DENIED', statusCode: 403, code: 'FORBIDDEN', message: 'this token may not call this route' },
  Throttled: { type: 'THROTTLED', statusCode: 429, code: 'THROTTLED', message: 'too many requests; retry with backoff' },
  TooLarge: { type: 'REQUEST_TOO_LARGE', statusCode: 413, code: 'PAYLOAD_TOO_LARGE', message: 'the request is larger than API Gateway accepts (10 MB)' },
} as const;
