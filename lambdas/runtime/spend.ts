import type { LoopDeps } from '../core/loop';
import { priceOf } from '../core/pricing';
import { SpendStore } from '../store/spend-store';
import type { RuntimeOptions } from './base';

/** The daily spend counters and the prices: the handlers that check or report spend (call-model, the API). */
export interface SpendWiring extends Pick<LoopDeps, 'caps' | 'priceOf'> {
  /** Daily spend counters, the disable flag, the admin read log, support queries. */
  spend: SpendStore;
}

export function createSpendWiring(options: RuntimeOptions): SpendWiring {
  const { config } = options;
  return { spend: new SpendStore(options.doc, options.tableName), caps: config.spend, priceOf: (model) => priceOf(model, config.pricing) };
}
