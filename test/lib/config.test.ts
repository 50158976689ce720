import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approvalRequiredTools, ConfigError, handlerConfig, loadConfig, parseConfig, withInstructionsRead } from '../../lib/config';

describe('config schema', () => {
  it('fills every default from an empty config', () => {
    const c = parseConfig({});
    expect(c.models.primary).toMatchObject({ provider: 'demo', model: 'default', timeoutMs: 20000 });
    expect(c.budgets).toMatchObject({ maxSteps: 20, maxTokens: 100000 });
    expect(c.retry).toEqual({ maxAttempts: 3, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 20 });
    expect(c.breaker).toMatchObject({ failureThreshold: 5, windowSeconds: 60, minimumCalls: 5, cooldownSeconds: 30 });
    expect(c.tools).toEqual([]);
  });

  it('names the key and what is allowed for a bad value', () => {
    expect(() => parseConfig({ models: { primary: { provider: 'gpt', model: 'x' } } })).toThrow(ConfigError);
    expect(() => parseConfig({ models: { primary: { provider: 'gpt', model: 'x' } } })).toThrow(/models\.primary\.provider: .*"demo".*"openai".*"anthropic".*"bedrock"/);
    expect(() => parseConfig({ retry: { maxAttempts: 9 } })).toThrow(/retry\.maxAttempts: .*5/);
  });

  it('rejects unknown keys by name', () => {
    expect(() => parseConfig({ budgets: { maxStep: 3 } })).toThrow(/budgets: unknown key\(s\) "maxStep"/);
    // ...and refers to the config reference the repo has (docs/config.md), not a document outside it.
    const message = (() => {
      try {
        parseConfig({ nope: 1 });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    expect(message).toContain('docs/config.md');
    for (const file of message.match(/[\w./-]+\.(md|ts)\b/g) ?? []) expect({ file, exists: existsSync(join(__dirname, '..', '..', file)) }).toEqual({ file, exists: true });
  });

  it('caps the step budget at 50 unless explicitly raised', () => {
    expect(() => parseConfig({ budgets: { maxSteps: 80 } })).toThrow(/budgets\.maxSteps: must be at most 50 .*allowHighStepBudget/);
    expect(parseConfig({ budgets: { maxSteps: 80, allowHighStepBudget: true } }).budgets.maxSteps).toBe(80);
  });

  it('refuses a tool that takes a built-in name', () => {
    expect(() => parseConfig({ tools: [{ name: 'calculator', kind: 'http', url: 'http://127.0.0.1:1/x' }] })).toThrow(/tools\[0\]\.name: "calculator" is already taken/);
  });

  it('takes an optional canary deploy (percent of new runs, minutes) and keeps it out of the handlers', () => {
    const c = parseConfig({ deploy: { canary: { percent: 10, minutes: 15 } } });
    expect(c.deploy.canary).toEqual({ percent: 10, minutes: 15 });
    expect(parseConfig({}).deploy).toEqual({ removal: 'retain' });
    expect(() => parseConfig({ deploy: { canary: { percent: 100, minutes: 15 } } })).toThrow(/deploy\.canary\.percent: .*99/);
    expect(() => parseConfig({ deploy: { canary: { percent: 10 } } })).toThrow(/deploy\.canary\.minutes/);
    // Turning a canary on does not change what the handlers get, hence publishes no new Lambda versions.
    expect(JSON.stringify(handlerConfig(c))).toBe(JSON.stringify(handlerConfig(parseConfig({}))));
  });

  it('takes deploy.removal retain (default) or destroy, and says so for anything else', () => {
    expect(parseConfig({ deploy: { removal: 'destroy' } }).deploy.removal).toBe('destroy');
    expect(() => parseConfig({ deploy: { removal: 'keep' } })).toThrow(/deploy\.removal: .*"retain".*"destroy"/);
  });

  it('routes the alarms to an email and/or an existing SNS topic, or acknowledges that they notify nobody', () => {
    expect(
      parseConfig({ observability: { monitoring: { alarmEmail: 'oncall@example.com', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall' } } }).observability.monitoring,
    ).toMatchObject({
      alarmEmail: 'oncall@example.com',
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
    });
    expect(() => parseConfig({ observability: { monitoring: { alarmEmail: 'oncall' } } })).toThrow(/observability\.monitoring\.alarmEmail: must be an email address/);
    expect(() => parseConfig({ observability: { monitoring: { alarmTopicArn: 'oncall' } } })).toThrow(/alarmTopicArn: must be an SNS topic ARN like arn:aws:sns:/);
    expect(() => parseConfig({ observability: { monitoring: { alarmEmail: 'oncall@example.com', alarmsNotifyNobody: 'dev' } } })).toThrow(
      /alarmsNotifyNobody: only applies when neither alarmEmail nor alarmTopicArn is set/,
    );
  });

  it('creates no API Gateway account setting unless asked (api.cloudWatchRole)', () => {
    expect(parseConfig({}).api.cloudWatchRole).toBe(false);
    expect(parseConfig({ api: { cloudWatchRole: true } }).api.cloudWatchRole).toBe(true);
  });
});

describe('spend config', () => {
  it('has no dollar limits and no admins by default', () => {
    const c = parseConfig({});
    expect(c.pricing).toEqual({});
    expect(c.spend).toEqual({});
    expect(c.budgets.maxCostUsd).toBeUndefined();
    expect(c.adminTokens).toBeUndefined();
  });

  it('accepts dollar limits with priced models: built-in, configured or demo', () => {
    expect(parseConfig({ budgets: { maxCostUsd: 0.5 }, spend: { dailyUsdPerUser: 5, dailyUsdTotal: 200 } }).spend).toEqual({ dailyUsdPerUser: 5, dailyUsdTotal: 200 });
    expect(() => parseConfig({ models: { primary: { provider: 'openai', model: 'gpt-4o-mini' } }, budgets: { maxCostUsd: 0.5 } })).not.toThrow();
    expect(() =>
      parseConfig({
        models: { primary: { provider: 'openai', model: 'llama3', contextWindowTokens: 8192, baseUrl: 'http://127.0.0.1:11434/v1' } },
        pricing: { llama3: { inputPerMTokUsd: 0, outputPerMTokUsd: 0 } },
        spend: { dailyUsdTotal: 1 },
      }),
    ).not.toThrow();
  });

  it('refuses a dollar limit with a model that has no price, naming the model and the limit', () => {
    const cfg = {
      models: {
        primary: { provider: 'demo', model: 'default' },
        fallback: { provider: 'openai', model: 'my-finetune', contextWindowTokens: 32_000, baseUrl: 'http://127.0.0.1:9/v1' },
      },
      spend: { dailyUsdPerUser: 5 },
    };
    expect(() => parseConfig(cfg)).toThrow(/pricing\.my-finetune: model "my-finetune" \(openai, models\.fallback\) has no price, and spend\.dailyUsdPerUser is a dollar limit/);
    // Without a dollar limit an unpriced model is fine (its cost is recorded as 0).
    expect(() => parseConfig({ ...cfg, spend: {} })).not.toThrow();
  });

  it('refuses bad prices, unknown spend keys, fallbackAt without a fallback model, short admin tokens', () => {
    expect(() => parseConfig({ pricing: { m: { inputPerMTokUsd: -1, outputPerMTokUsd: 1 } } })).toThrow(/pricing\.m\.inputPerMTokUsd/);
    expect(() => parseConfig({ spend: { dailyUsd: 5 } })).toThrow(/spend: unknown key\(s\) "dailyUsd"/);
    expect(() => parseConfig({ spend: { dailyUsdPerUser: 5, fallbackAt: 0.8 } })).toThrow(/spend\.fallbackAt: needs models\.fallback/);
    expect(() => parseConfig({ spend: { fallbackAt: 1.5 } })).toThrow(/spend\.fallbackAt/);
    expect(() => parseConfig({ adminTokens: { short: 'ops' } })).toThrow(/adminTokens/);
  });
});

describe('approval config', () => {
  it('any tool may need approval: configured ones in their entry, built-ins through toolApprovals; 24 h by default', () => {
    const config = parseConfig({
      tools: [
        { name: 'charge', kind: 'http', url: 'https://pay.example/charge', approval: 'required' },
        { name: 'lookup', kind: 'http', url: 'https://crm.example/lookup' },
      ],
      toolApprovals: { search_docs: 'required' },
    });
    expect(approvalRequiredTools(config).sort()).toEqual(['charge', 'search_docs']);
    expect(config.approvalTimeoutSeconds).toBe(86_400);
    expect(approvalRequiredTools(parseConfig({}))).toEqual([]);
  });

  it('refuses an approval for no tool, another approval value and a non-positive timeout, naming the key', () => {
    expect(() => parseConfig({ toolApprovals: { nope: 'required' } })).toThrow(/toolApprovals\.nope: names no tool \(tools: calculator, search_docs\)/);
    expect(() => parseConfig({ toolApprovals: { calculator: 'sometimes' } })).toThrow(/toolApprovals\.calculator/);
    expect(() => parseConfig({ tools: [{ name: 'x', kind: 'http', url: 'https://x.example', approval: 'yes' }] })).toThrow(/tools\[0\]\.approval/);
    expect(() => parseConfig({ approvalTimeoutSeconds: 0 })).toThrow(/approvalTimeoutSeconds/);
  });
});

describe('your agent in the config (docs/agent.md)', () => {
  const model = (extra: Record<string, unknown>, provider = 'openai', name = 'gpt-4o') => ({ models: { primary: { provider, model: name, ...extra } } });
  const problem = (raw: unknown) => {
    try {
      parseConfig(raw);
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };

  it('takes instructions as text, or as a file read relative to the config file', () => {
    expect(parseConfig({ instructions: 'Be brief.' }).instructions).toBe('Be brief.');
    const dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
    mkdirSync(join(dir, 'prompts'));
    writeFileSync(join(dir, 'prompts', 'agent.md'), '# Agent\nAnswer in French.\n');
    writeFileSync(join(dir, 'agent.config.json'), JSON.stringify({ instructions: { file: 'prompts/agent.md' } }));
    expect(loadConfig(join(dir, 'agent.config.json')).instructions).toBe('# Agent\nAnswer in French.');
    expect(() => withInstructionsRead(parseConfig({ instructions: { file: 'missing.md' } }), dir)).toThrow(
      /instructions: cannot read .*missing\.md \(the file is relative to the config file\)/,
    );
    writeFileSync(join(dir, 'empty.md'), '  \n');
    expect(() => withInstructionsRead(parseConfig({ instructions: { file: 'empty.md' } }), dir)).toThrow(/empty\.md is empty/);
    expect(problem({ instructions: { path: 'x.md' } })).toMatch(/instructions/);
    expect(problem({ instructions: '   ' })).toMatch(/instructions: must be non-empty text/);
  });

  it('validates model parameters per provider, naming what the provider accepts', () => {
    expect(parseConfig(model({ temperature: 1.5, topP: 0.5, stopSequences: ['END'] })).models.primary).toMatchObject({ temperature: 1.5, topP: 0.5 });
    expect(parseConfig(model({ reasoningEffort: 'low' }, 'openai', 'o4-mini')).models.primary.reasoningEffort).toBe('low');
    expect(problem(model({ reasoningEffort: 'low', temperature: 1 }, 'openai', 'o4-mini'))).toMatch(
      /temperature: openai reasoning models \(reasoningEffort\) take no temperature or topP/,
    );
    expect(problem(model({ temperature: 1.5 }, 'anthropic', 'claude-sonnet-4'))).toMatch(
      /models\.primary\.temperature: anthropic accepts a temperature from 0 to 1 \(got 1\.5\); openai accepts 0 to 2/,
    );
    expect(problem(model({ temperature: 2.5 }))).toMatch(/models\.primary\.temperature/);
    expect(problem(model({ stopSequences: ['a', 'b', 'c', 'd', 'e'] }))).toMatch(/stopSequences: openai accepts at most 4 stop sequences \(got 5\)/);
    expect(problem(model({ reasoningEffort: 'extreme' }))).toMatch(/reasoningEffort: .*"low".*"medium".*"high"/);
    expect(problem(model({ reasoningEffort: 'high', maxOutputTokens: 4096 }, 'anthropic', 'claude-sonnet-4'))).toMatch(
      /maxOutputTokens: must be above the thinking budget of reasoningEffort "high" \(16384 tokens/,
    );
    expect(problem(model({ reasoningEffort: 'low', maxOutputTokens: 4096, temperature: 0.5 }, 'anthropic', 'claude-sonnet-4'))).toMatch(
      /temperature: anthropic extended thinking .* does not take a temperature/,
    );
    expect(problem(model({ reasoningEffort: 'low' }, 'bedrock', 'amazon.nova-pro-v1:0'))).toMatch(/reasoningEffort: bedrock takes a reasoning setting only for/);
  });

  it('takes a structured output schema with a default name', () => {
    expect(parseConfig({ output: { schema: { type: 'object' } } }).output).toEqual({ schema: { type: 'object' }, name: 'final_answer' });
    expect(problem({ output: { schema: {} } })).toMatch(/output\.schema: must be a JSON Schema object/);
    // An output reserve that fills the context window leaves no room for any prompt.
    expect(problem({ models: { primary: { provider: 'demo', model: 'default', maxOutputTokens: 5000, contextWindowTokens: 4000 } } })).toMatch(
      /models\.primary\.maxOutputTokens: 5000 leaves no room for a prompt in the 4000-token context window of "default" \(the prompt and the output reserve must fit 3600 tokens, 90% of it\): lower maxOutputTokens, or set contextWindowTokens/,
    );
    expect(problem({ models: { fallback: { provider: 'openai', model: 'gpt-4o-mini', maxOutputTokens: 200_000 } } })).toMatch(
      /models\.fallback\.maxOutputTokens: 200000 leaves no room for a prompt in the 128000-token context window/,
    );
    expect(parseConfig({ models: { primary: { provider: 'demo', model: 'default', maxOutputTokens: 3000, contextWindowTokens: 4000 } } }).models.primary.maxOutputTokens).toBe(
      3000,
    );
    // A schema ajv cannot compile is refused here, as POST /runs refuses it, not at every run's model call.
    expect(problem({ output: { schema: { type: 'objekt' } } })).toMatch(/output\.schema: is not a valid JSON Schema: .*type/);
    expect(problem({ output: { schema: { type: 'object' }, name: 'has space' } })).toMatch(/output\.name/);
  });

  it('refuses a config file whose model has no known context window, naming the key to set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
    const file = join(dir, 'agent.config.json');
    writeFileSync(file, JSON.stringify({ models: { primary: { provider: 'openai', model: 'my-finetune' }, fallback: { provider: 'openai', model: 'gpt-4o-mini' } } }));
    expect(() => loadConfig(file)).toThrow(/models\.primary\.contextWindowTokens: model "my-finetune" \(openai\) has no built-in context window; set contextWindowTokens/);
    writeFileSync(file, JSON.stringify({ models: { primary: { provider: 'openai', model: 'my-finetune', contextWindowTokens: 32000 } } }));
    expect(loadConfig(file).models.primary.contextWindowTokens).toBe(32000);
  });

  it("refuses a model with no known context window wherever a config is parsed (the handlers' too), naming the model and the key", () => {
    expect(problem({ models: { primary: { provider: 'anthropic', model: 'claude-next', apiKeyEnv: 'K' } } })).toMatch(
      /models\.primary\.contextWindowTokens: model "claude-next" \(anthropic\) has no built-in context window; set contextWindowTokens to the tokens \(input \+ output\) the model accepts, e\.g\. 128000/,
    );
    expect(problem({ models: { primary: { provider: 'demo', model: 'default' }, fallback: { provider: 'bedrock', model: 'mistral.large' } } })).toMatch(
      /models\.fallback\.contextWindowTokens: model "mistral\.large" \(bedrock\)/,
    );
    // Built-in (dated or with a Bedrock geography), configured, or the demo's: accepted.
    expect(
      parseConfig({
        models: { primary: { provider: 'bedrock', model: 'eu.amazon.nova-lite-v1:0' }, fallback: { provider: 'openai', model: 'my-finetune', contextWindowTokens: 32_000 } },
      }).models.fallback?.contextWindowTokens,
    ).toBe(32_000);
    expect(parseConfig({}).models.primary.provider).toBe('demo');
  });
});
