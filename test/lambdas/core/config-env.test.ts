import { parseConfig } from '../../../lambdas/core/config';
import { CONFIG_ENV, ConfigError, deployedConfigFromEnv } from '../../../lambdas/core/config-env';

describe('deployedConfigFromEnv', () => {
  it('returns the config synth validated and serialized, unchanged', () => {
    const config = parseConfig({ budgets: { maxSteps: 7 } });
    expect(deployedConfigFromEnv({ [CONFIG_ENV]: JSON.stringify(config) })).toEqual(config);
  });

  it('fails clearly without the variable, on bad JSON and on a config synth did not write', () => {
    expect(() => deployedConfigFromEnv({})).toThrow(ConfigError);
    expect(() => deployedConfigFromEnv({ [CONFIG_ENV]: '{not json' })).toThrow(/not valid JSON/);
    expect(() => deployedConfigFromEnv({ [CONFIG_ENV]: JSON.stringify({ budgets: { maxSteps: 7 } }) })).toThrow(/not a validated config/);
  });
});
