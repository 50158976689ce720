import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { sourceFiles, specifiersOf } from '../helpers/imports';

/**
 * The house's arrows point down: bin/ (the CDK app, the CLI) and lib/ (infrastructure) and local/ (the offline
 * engine) import lambdas/, never the reverse. A file under lambdas/ that reaches up would pull the CDK, the engine
 * or the CLI into a handler's bundle, and makes the core depend on its callers.
 */
const ROOT = resolve(__dirname, '..', '..');
const LAMBDAS = join(ROOT, 'lambdas');
const FORBIDDEN = ['lib', 'local', 'bin', 'testing'];

/** The top-level room a relative specifier of `file` lands in (undefined for packages). */
function roomOf(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  return relative(ROOT, resolve(dirname(file), specifier)).split(sep)[0];
}

describe('lambdas/ imports nothing from lib/, local/, bin/ or testing/', () => {
  const files = sourceFiles(LAMBDAS);

  it('scans the whole tree', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.some((f) => f.endsWith(join('core', 'config.ts')))).toBe(true);
  });

  it('the scan sees every import form', () => {
    const sample = `import a from '../../lib/a';\nimport type { B } from "../../local/b";\nexport { c } from '../../bin/c';\nimport '../../lib/side';\nconst d = await import('../../lib/d');\nrequire('../../local/e');\nimport { f } from '../../testing/f';`;
    const found = specifiersOf(sample).map((s) => roomOf(join(LAMBDAS, 'core', 'x.ts'), s));
    expect(found.sort()).toEqual(['bin', 'lib', 'lib', 'lib', 'local', 'local', 'testing']);
  });

  it('no file under lambdas/ reaches up', () => {
    const upward = files.flatMap((file) =>
      specifiersOf(readFileSync(file, 'utf8'))
        .filter((s) => FORBIDDEN.includes(roomOf(file, s) ?? ''))
        .map((s) => `${relative(ROOT, file)} → ${s}`),
    );
    expect(upward).toEqual([]);
  });
});

describe('the core and the API routes depend on ports, not on the stores', () => {
  it('no file under lambdas/core or lambdas/api imports lambdas/store', () => {
    const files = [...sourceFiles(join(LAMBDAS, 'core')), ...sourceFiles(join(LAMBDAS, 'api'))];
    const toStore = files.flatMap((file) =>
      specifiersOf(readFileSync(file, 'utf8'))
        .filter((s) => s.startsWith('.') && relative(LAMBDAS, resolve(dirname(file), s)).split(sep)[0] === 'store')
        .map((s) => `${relative(ROOT, file)} → ${s}`),
    );
    expect(toStore).toEqual([]);
  });
});

describe('the fakes the tests and the bench share live in testing/', () => {
  it('nothing outside test/ imports test/ (bench/, scripts/, testing/ and the code use testing/)', () => {
    const files = ['bench', 'scripts', 'testing', 'lambdas', 'lib', 'local', 'bin'].flatMap((room) => sourceFiles(join(ROOT, room)));
    const intoTests = files.flatMap((file) =>
      specifiersOf(readFileSync(file, 'utf8'))
        .filter((s) => roomOf(file, s) === 'test')
        .map((s) => `${relative(ROOT, file)} → ${s}`),
    );
    expect(intoTests).toEqual([]);
  });
});
