import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';

const root = resolve(__dirname, '..', '..');

/** Where the bundles live: inside the project, so that their external packages resolve from its node_modules. */
export const BUNDLE_DIR = join(root, 'node_modules', '.cache', 'agent-test-bundles');

/**
 * esbuild keeps `__dirname`/`__filename` as the bundle's own; the project's code reads files next to it (the docs,
 * lib/ for the template cache's fingerprint, the handlers' entries), so each source file gets its own paths back.
 */
const ownPaths: Plugin = {
  name: 'own-paths',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${join('node_modules', '')}`)) return undefined;
      const text = readFileSync(args.path, 'utf8')
        .replace(/\b__dirname\b/g, JSON.stringify(dirname(args.path)))
        .replace(/\b__filename\b/g, JSON.stringify(args.path));
      return { contents: text, loader: 'ts' };
    });
  },
};

/**
 * A project entry point (e.g. bin/agent.ts) bundled once into one CommonJS file that plain `node` runs, packages
 * left to node_modules: the same code `tsx` would run, without transforming and resolving ~200 TypeScript modules
 * in every child process a test spawns (about a second of CPU each). Content-addressed: concurrent jest runs and
 * workers share a bundle, and a changed source makes a new one.
 */
export async function bundleEntry(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    packages: 'external',
    loader: { '.html': 'text' },
    plugins: [ownPaths],
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.contents;
  if (!code) throw new Error(`esbuild produced nothing for ${entry}`);
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const name = relative(root, join(root, entry)).replace(/[/\\]/g, '_').replace(/\.ts$/, '');
  const file = join(BUNDLE_DIR, `${name}-${hash}.cjs`);
  if (!existsSync(file)) {
    mkdirSync(BUNDLE_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file);
  }
  pruneOlder(name, file);
  return file;
}

/** Removes the entry's earlier bundles once they are an hour old (a run still using one is long finished). */
function pruneOlder(name: string, keep: string): void {
  const hourAgo = Date.now() - 3_600_000;
  for (const f of readdirSync(BUNDLE_DIR)) {
    const path = join(BUNDLE_DIR, f);
    if (path === keep || !f.startsWith(`${name}-`)) continue;
    try {
      if (statSync(path).mtimeMs < hourAgo) rmSync(path, { force: true });
    } catch {
      // Removed by a concurrent run.
    }
  }
}
