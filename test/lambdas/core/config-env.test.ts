import { parseConfig } from '../../../lambdas/core/config';
import { CONFIG_ENV, ConfigError, configEnvValue, deployedConfigFromEnv } from '../../../lambdas/core/config-env';

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

  it('carries a config too long for the environment compressed (long instructions), and reads it back', () => {
    const instructions = Array.from({ length: 120 }, (_, i) => `Rule ${i}: answer politely, cite the ticket id, never promise a refund.`).join('\n');
    const config = parseConfig({ instructions });
    const json = JSON.stringify(config);
    expect(Buffer.byteLength(json)).toBeGreaterThan(3000);
    const value = configEnvValue(json, 3000);
    expect(value?.startsWith('gz:')).toBe(true);
    expect(value?.length).toBeLessThanOrEqual(3000);
    expect(deployedConfigFromEnv({ [CONFIG_ENV]: value })).toEqual(config);
    // Small configs stay plain JSON (readable in the console); what cannot fit even compressed is undefined.
    expect(configEnvValue('{"a":1}', 3000)).toBe('{"a":1}');
    expect(configEnvValue(JSON.stringify({ noise: Array.from({ length: 400 }, (_, i) => (i * 7919).toString(36) + Math.sin(i)) }), 3000)).toBeUndefined();
    expect(() => deployedConfigFromEnv({ [CONFIG_ENV]: 'gz:not-gzip' })).toThrow(/not a valid compressed config/);
  });
});
