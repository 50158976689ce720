import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** A headless Chromium to drive with playwright-core, and where it came from. */
export interface ChromiumBinary {
  executablePath: string;
  /** 'system' (a Chromium installed on the machine) or 'npm' (@sparticuz/chromium, unpacked from node_modules). */
  source: 'system' | 'npm';
  /** Environment for the browser process when it differs from ours (fontconfig for the npm build where the machine has none). */
  env?: Record<string, string | undefined>;
}

/** Where distributions install Chromium; the first one present is used. */
export const SYSTEM_CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/**
 * The machine's Chromium when it has one, otherwise the Chromium build that ships inside the @sparticuz/chromium
 * npm package (a devDependency: `npm ci` brings it, no install script or download involved). The npm build is
 * unpacked once per package version into the temp dir, through a private directory renamed into place, so an
 * interrupted or concurrent unpack never leaves a half-written browser behind.
 */
export function chromiumBinary(systemPaths: readonly string[] = SYSTEM_CHROMIUM): ChromiumBinary {
  const system = systemPaths.find((p) => existsSync(p));
  if (system) return { executablePath: system, source: 'system' };

  const pkgDir = dirname(dirname(require.resolve('@sparticuz/chromium')));
  const { version } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string };
  const dir = join(tmpdir(), `agent-chromium-${version}`);
  const executablePath = join(dir, 'chromium');
  if (!existsSync(executablePath)) {
    const partial = `${dir}.${process.pid}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    // The package is ESM-only and unpacks into os.tmpdir(): run it in a plain node child with TMPDIR pointed at the
    // private directory (jest's CommonJS module system is not involved).
    const script = "import c from '@sparticuz/chromium'; process.stdout.write(await c.executablePath());";
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: pkgDir,
      env: { ...process.env, TMPDIR: partial },
      encoding: 'utf8',
      timeout: 180_000,
    });
    if (out.status !== 0 || out.stdout !== join(partial, 'chromium')) {
      rmSync(partial, { recursive: true, force: true });
      throw new Error(`unpacking @sparticuz/chromium failed (status ${out.status}): ${out.stderr || out.error?.message || out.stdout}`);
    }
    try {
      renameSync(partial, dir);
    } catch (err) {
      // Another process unpacked it first: use theirs.
      rmSync(partial, { recursive: true, force: true });
      if (!existsSync(executablePath)) throw err;
    }
  }
  const env = existsSync('/etc/fonts/fonts.conf') ? undefined : { ...process.env, FONTCONFIG_PATH: join(dir, 'fonts') };
  return { executablePath, source: 'npm', env };
}

/** The flags every browser test starts Chromium with (no background networking: this machine's network is closed). */
const HEADLESS_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Starts a headless Chromium for a browser test — the machine's, else the npm-shipped build ({@link chromiumBinary})
 * — on a new, empty profile (playwright's), and says on stderr which one ran for `what`.
 */
export async function launchChromium(what: string): Promise<Browser> {
  const bin = chromiumBinary();
  const browser = await chromium.launch({ executablePath: bin.executablePath, env: bin.env, args: HEADLESS_ARGS });
  // process.stderr: jest prints it as is, without a console stack.
  process.stderr.write(`${what}: ${bin.source} Chromium ${browser.version()} at ${bin.executablePath}\n`);
  return browser;
}
