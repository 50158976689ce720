import { ConfigError } from '../../../lambdas/core/config-env';
import { DEFAULT_INSTRUCTIONS, instructionsHash, instructionsOf } from '../../../lambdas/core/instructions';

describe('instructions', () => {
  it('are the config text, or the default; the hash names the text', () => {
    expect(instructionsOf({})).toEqual({ text: DEFAULT_INSTRUCTIONS, hash: instructionsHash(DEFAULT_INSTRUCTIONS) });
    const mine = instructionsOf({ instructions: 'Answer in French.' });
    expect(mine.text).toBe('Answer in French.');
    expect(mine.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(mine.hash).not.toBe(instructionsHash('Answer in German.'));
  });

  it('refuse a file reference that was never read (the handlers get the text)', () => {
    expect(() => instructionsOf({ instructions: { file: 'prompts/agent.md' } })).toThrow(ConfigError);
    expect(() => instructionsOf({ instructions: { file: 'prompts/agent.md' } })).toThrow(/prompts\/agent\.md" was not read.*loadConfig/);
  });
});
