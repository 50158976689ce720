import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../../bin/cli/common';
import { outputSchemaOption } from '../../../bin/cli/run';

describe('agent run --output-schema', () => {
  const dir = mkdtempSync(join(tmpdir(), 'output-schema-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads a JSON Schema file', () => {
    expect(outputSchemaOption(undefined)).toBeUndefined();
    expect(outputSchemaOption(file('ok.json', '{"type": "object", "required": ["a"]}'))).toEqual({ type: 'object', required: ['a'] });
  });

  it('refuses what POST /runs would refuse, saying what is allowed', () => {
    expect(() => outputSchemaOption(join(dir, 'missing.json'))).toThrow(UsageError);
    expect(() => outputSchemaOption(file('big.json', JSON.stringify({ description: 'x'.repeat(17_000) })))).toThrow(/larger than 16384 bytes/);
    expect(() => outputSchemaOption(file('bad.json', '{"type": '))).toThrow(/is not JSON/);
    expect(() => outputSchemaOption(file('wrong.json', '{"type": "objekt"}'))).toThrow(/is not a valid JSON Schema/);
    expect(() => outputSchemaOption(file('list.json', '[]'))).toThrow(/must be a JSON Schema object/);
  });
});
