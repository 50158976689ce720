import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { sourceFiles } from '../helpers/imports';

/**
 * Code points at documents a reader of the repository has: docs/ (and the README), never design notes kept
 * elsewhere. A comment naming a document that is not in the repository, or a docs/ page that does not exist, fails.
 */
const ROOT = resolve(__dirname, '..', '..');
const FOLDERS = ['lambdas', 'lib', 'local', 'bin', 'test', 'bench', 'scripts', 'testing'];
// This file names the outside documents on purpose (its own sample), so it is left out.
const files = FOLDERS.filter((f) => existsSync(join(ROOT, f)))
  .flatMap((f) => sourceFiles(join(ROOT, f)))
  .filter((f) => f !== __filename);

/** Documents outside the repository, by the names they go by (`<NAME>.md`, `<NAME> §n`, `<NAME> "section"`). */
const OUTSIDE = new RegExp(`\\b(${['CONTRACT', 'DESIGN', 'STYLE', 'SEED'].join('|')})(\\.md\\b| §| ")`, 'g');

function hits(pattern: RegExp, text: string): string[] {
  return [...text.matchAll(pattern)].map((m) => m[0]);
}

describe('document references in the code', () => {
  it('scans the code and the tests', () => {
    expect(files.length).toBeGreaterThan(150);
    expect(hits(OUTSIDE, 'see CONTRACT.md, DESIGN §5 and STYLE "Names" — not DESIGNER or CONTRACTS')).toEqual(['CONTRACT.md', 'DESIGN §', 'STYLE "']);
  });

  it('no file cites a document that is not in the repository', () => {
    const found = files.flatMap((file) => hits(OUTSIDE, readFileSync(file, 'utf8')).map((h) => `${relative(ROOT, file)}: ${h}`));
    expect(found).toEqual([]);
  });

  it('every docs/ page the code names exists', () => {
    const missing = files.flatMap((file) =>
      hits(/\bdocs\/[\w-]+\.md\b/g, readFileSync(file, 'utf8'))
        .filter((doc) => !existsSync(join(ROOT, doc)))
        .map((doc) => `${relative(ROOT, file)}: ${doc}`),
    );
    expect(missing).toEqual([]);
  });

  it('every file of the repository the docs and the README name in code spans exists', () => {
    const pages = [
      join(ROOT, 'README.md'),
      ...readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => join(ROOT, 'docs', f)),
    ];
    const named = pages.flatMap((page) =>
      [...readFileSync(page, 'utf8').matchAll(new RegExp(`\`((?:${FOLDERS.join('|')}|docs)/[\\w./-]+)\``, 'g'))].map((m) => ({ page, path: (m[1] as string).replace(/\.$/, '') })),
    );
    expect(named.length).toBeGreaterThan(100);
    expect(named.filter(({ path }) => !existsSync(join(ROOT, path))).map(({ page, path }) => `${relative(ROOT, page)}: ${path}`)).toEqual([]);
  });
});
