import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseConfig } from '../../lib/config';
import { templateFor } from '../helpers/engine';

const root = join(__dirname, '..', '..');
const major = (version: string) => version.replace(/^v/, '').split('.')[0];

describe('the Node that runs locally is the one Lambda runs', () => {
  const runtimes = new Set(
    Object.values(templateFor(parseConfig({})).Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => String(r.Properties?.Runtime)),
  );

  it('every function of the stack runs one Node major', () => {
    expect([...runtimes]).toEqual([expect.stringMatching(/^nodejs\d+\.x$/)]);
  });

  it('the tests run on that major', () => {
    const [runtime] = [...runtimes];
    expect(`nodejs${major(process.version)}.x`).toBe(runtime);
  });

  it('npm scripts (npm start, npm test) run on that major: `npm exec -- node --version`', () => {
    const version = execFileSync('npm', ['exec', '--', 'node', '--version'], { cwd: root, encoding: 'utf8', timeout: 60_000 }).trim();
    const [runtime] = [...runtimes];
    expect(`nodejs${major(version)}.x`).toBe(runtime);
  }, 60_000);
});
