import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { circlesOf, resolveImport, runtimeSpecifiersOf, sourceFiles } from '../helpers/imports';

/**
 * Rooms a newcomer can hold in their head: no module of the app's source folders loads itself back through others
 * (a circle makes load order matter and the modules one piece; type-only imports are erased and load nothing),
 * and none is over 500 lines.
 */
const ROOT = resolve(__dirname, '..', '..');
const FOLDERS = ['lambdas', 'lib', 'local', 'bin'];
const MAX_LINES = 500;
const files = FOLDERS.flatMap((f) => sourceFiles(join(ROOT, f)));

describe('the source folders', () => {
  it('are scanned whole', () => {
    for (const folder of FOLDERS) expect(files.some((f) => relative(ROOT, f).startsWith(`${folder}/`))).toBe(true);
    expect(files.some((f) => f.endsWith(join('local', 'engine.ts')))).toBe(true);
  });

  it('the circle finder finds circles, long and short, and nothing else', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', ['e']],
      ['e', ['d']],
      ['f', ['f']],
      ['g', ['a']],
    ]);
    expect(circlesOf(graph).map((c) => c.join(' '))).toEqual(expect.arrayContaining(['a b c', 'd e', 'f']));
    expect(circlesOf(graph)).toHaveLength(3);
    expect(
      circlesOf(
        new Map([
          ['x', ['y']],
          ['y', []],
        ]),
      ),
    ).toEqual([]);
  });

  it('the scan tells imports that load a module from type-only ones', () => {
    const sample = `import type { A } from './a';\nexport type { B } from './b';\nimport { type C, d } from './c';\nimport e from './e';\nexport { f } from './f';\nimport './g';\nconst h = require('./h');`;
    expect(runtimeSpecifiersOf(sample).sort()).toEqual(['./c', './e', './f', './g', './h']);
  });

  it('have no import circles', () => {
    const known = new Set(files);
    const graph = new Map(
      files.map((file) => [
        relative(ROOT, file),
        runtimeSpecifiersOf(readFileSync(file, 'utf8'))
          .map((s) => resolveImport(file, s))
          .filter((to): to is string => to !== undefined && known.has(to))
          .map((to) => relative(ROOT, to)),
      ]),
    );
    expect(circlesOf(graph).map((c) => c.join(' ↔ '))).toEqual([]);
  });

  it(`have no file over ${MAX_LINES} lines`, () => {
    const long = files.map((f) => ({ file: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 })).filter((f) => f.lines > MAX_LINES);
    expect(long).toEqual([]);
  });
});
