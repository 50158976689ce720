import { CircuitBreaker } from '../core/breaker';
import { trace } from '../core/trace';
import { DynamoBreakerStore } from '../store/breaker-store';
import { type BaseRuntime, invocationContext, type RuntimeOptions } from './base';

/** The circuit breaker of the external calls (models, tools): the handlers that make them (call-model, call-tool). */
export interface BreakerWiring {
  breaker: CircuitBreaker;
}

/** The breaker, its state in the table; each transition is logged and traced in the run it happened in. */
export function createBreakerWiring(options: RuntimeOptions, base: Pick<BaseRuntime, 'runs' | 'logger'>): BreakerWiring {
  const { config } = options;
  const { runs, logger } = base;
  const breaker = new CircuitBreaker({
    store: new DynamoBreakerStore(options.doc, options.tableName),
    config: config.breaker,
    overrides: config.breakers,
    onTransition: (t) => {
      logger.warn('breaker transition', { ...t });
      const ctx = invocationContext.getStore();
      if (ctx?.runId) {
        runs
          .appendEvent(ctx.runId, trace.breaker({ step: ctx.step ?? 0, dependency: t.dependency, from: t.from, to: t.to, reason: t.reason, window: t.window }))
          .catch((err) => logger.error('could not trace a breaker transition', { err }));
      }
    },
    onStoreError: (err, info) => logger.error('breaker store failed', { err, ...info }),
  });
  return { breaker };
}
