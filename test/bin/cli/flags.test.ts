import { parseArgs } from 'node:util';
import { FLAGS, flagsUsage, PARSE_OPTIONS } from '../../../bin/cli/flags';

describe('the CLI options, written once (bin/cli/flags.ts)', () => {
  it('the help text has one line per option, with its placeholder', () => {
    const lines = flagsUsage().split('\n');
    expect(lines).toHaveLength(Object.keys(FLAGS).length);
    expect(lines).toContain('  --config <file>    config file (default: agent.config.json, or AGENT_CONFIG)');
    expect(lines.at(-1)).toBe('  -h, --help         this text');
  });

  it('the parser takes every option: strings with a value, booleans as false when absent', () => {
    const args = Object.entries(FLAGS).flatMap(([name, f]) => (f.type === 'string' ? [`--${name}`, `v-${name}`] : []));
    const { values } = parseArgs({ args, options: PARSE_OPTIONS, allowPositionals: true });
    for (const [name, f] of Object.entries(FLAGS)) expect([name, values[name]]).toEqual([name, f.type === 'string' ? `v-${name}` : false]);
    expect(parseArgs({ args: ['-h'], options: PARSE_OPTIONS }).values.help).toBe(true);
    expect(() => parseArgs({ args: ['--no-such-flag'], options: PARSE_OPTIONS })).toThrow(/no-such-flag/);
  });
});
