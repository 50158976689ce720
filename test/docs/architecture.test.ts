import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** docs/architecture.md "Where to add…" stays true: every file it names is in the repository. */
const ROOT = resolve(__dirname, '..', '..');
const doc = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');

function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/architecture.md has no "## ${title}" section`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

describe('docs/architecture.md, where to add…', () => {
  const text = section('Where to add…');
  /** The paths in code spans (a placeholder like `<kind>` stands for a new file, so those are left out). */
  const paths = [...text.matchAll(/`((?:lambdas|lib|local|bin|test|testing|docs)\/[^`\s]+)`/g)].map((m) => m[1] as string).filter((p) => !p.includes('<'));

  it('names a list for each change', () => {
    for (const what of ['**A tool kind**', '**A model provider**', '**An HTTP route**', '**A trace kind**']) expect(text).toContain(what);
    expect(paths.length).toBeGreaterThan(20);
  });

  it('names only files and folders that exist', () => {
    expect(paths.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });

  it('names the symbols it points at where they are', () => {
    const holds = (file: string, symbol: string) => readFileSync(join(ROOT, file), 'utf8').includes(symbol);
    expect(
      [
        ['lambdas/core/config-tools.ts', 'export const ToolConfigSchema'],
        ['lambdas/tools/http-tool.ts', 'export async function callConfiguredTool'],
        ['lambdas/core/types.ts', 'export const PROVIDERS'],
        ['lambdas/providers/index.ts', 'createProvider'],
        ['lambdas/core/pricing.ts', 'Record<HostedProvider'],
        ['lambdas/core/context-windows.ts', 'Record<HostedProvider'],
        ['lambdas/api/routes.ts', 'const ROUTES'],
        ['lambdas/api/admin-routes.ts', 'const ADMIN_ROUTES'],
        ['lambdas/api/request-checks.ts', 'export function readJsonBody'],
        ['lambdas/api/routes.ts', 'export function servedRoutes'],
        ['lambdas/core/trace.ts', 'const LIFE'],
        ['lambdas/core/trace.ts', 'export type WrittenTraceEvent'],
      ].filter(([file, symbol]) => !holds(file as string, symbol as string)),
    ).toEqual([]);
  });
});
