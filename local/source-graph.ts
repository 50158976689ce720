import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Every module specifier of a source file: static imports and re-exports, dynamic import(), require(), jest.mock(). */
export function specifiersOf(source: string): string[] {
  const patterns = [/\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  return patterns.flatMap((re) => [...source.matchAll(re)].map((m) => m[1] as string));
}

const EXTENSIONS = ['.ts', '.js', '.mjs', '.cjs', '.json', '/index.ts', '/index.js'];

/** The file a relative specifier of `from` names (undefined for packages and for what does not exist). */
export function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier);
  if (existsSync(base) && statSync(base).isFile()) return base;
  for (const ext of EXTENSIONS) if (existsSync(base + ext)) return base + ext;
  return undefined;
}

/** Every TypeScript file under `dir` (declaration files included: the compiler reads them too). */
export function typeScriptFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/**
 * The roots and every file of this repository they import, transitively (relative specifiers only: packages are
 * not followed), sorted. Bounded by the number of files in the repository.
 */
export function importClosure(roots: string[]): string[] {
  const seen = new Set<string>();
  const queue = roots.filter((f) => existsSync(f));
  while (queue.length) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!/\.(ts|js|mjs|cjs)$/.test(file)) continue;
    for (const s of specifiersOf(readFileSync(file, 'utf8'))) {
      const to = resolveImport(file, s);
      if (to && !seen.has(to)) queue.push(to);
    }
  }
  return [...seen].sort();
}
