import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Runtime } from '.';
import { type BaseRuntime, invocationContext } from './base';

/** A Lambda handler built from a plain function of (runtime, event). */
export type HandlerFactory<E, R, RT extends BaseRuntime = Runtime> = (rt: RT) => (event: E, context: Context) => Promise<R>;

/** Wraps a step function with middy + Powertools logging (context, cold start, runId/step keys). */
export function wrap<E, R, RT extends BaseRuntime = BaseRuntime>(fn: (rt: RT, event: E, context: Context) => Promise<R>): HandlerFactory<E, R, RT> {
  return (rt) => {
    const handler = middy(async (event: E, context: Context) => {
      const e = event as { runId?: string; step?: number; state?: { runId?: string } };
      const keys = { runId: e.runId ?? e.state?.runId, step: e.step };
      rt.logger.appendKeys(keys);
      try {
        return await invocationContext.run(keys, () => fn(rt, event, context));
      } finally {
        rt.logger.resetKeys();
      }
    }).use(injectLambdaContext(rt.logger));
    if (rt.metrics) handler.use(logMetrics(rt.metrics, { captureColdStartMetric: true }));
    return handler as unknown as (event: E, context: Context) => Promise<R>;
  };
}

/**
 * The exported Lambda entry: built on first invocation from the deployed environment, with the runtime this
 * handler needs (`build`: its part of the wiring, so its bundle holds only that).
 */
export function lambdaEntry<E, R, RT extends BaseRuntime>(factory: HandlerFactory<E, R, RT>, build: () => RT): (event: E, context: Context) => Promise<R> {
  let handler: ((event: E, context: Context) => Promise<R>) | undefined;
  return (event, context) => {
    handler ??= factory(build());
    return handler(event, context);
  };
}
