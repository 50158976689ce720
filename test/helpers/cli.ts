import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/** The project entry points tests run as child processes (and the synth thread's, test/helpers/synth-thread.ts). */
export type Entry = 'bin/agent.ts' | 'scripts/smoke-api.ts' | 'test/helpers/engine-child.ts' | 'test/helpers/synth-worker.ts';
export const ENTRIES: readonly Entry[] = ['bin/agent.ts', 'scripts/smoke-api.ts', 'test/helpers/engine-child.ts', 'test/helpers/synth-worker.ts'];

/** Set by the jest global setup: each entry's prebuilt bundle (test/helpers/bundle.ts), as JSON. */
export const BUNDLES_ENV = 'AGENT_TEST_BUNDLES';

/**
 * The node arguments that run an entry: its bundle, built once per `jest` run by the global setup and run by plain
 * node; or, outside jest's global setup, the TypeScript source through tsx (as `npx agent` does).
 */
export function entryArgs(entry: Entry): string[] {
  const bundles = JSON.parse(process.env[BUNDLES_ENV] ?? '{}') as Partial<Record<Entry, string>>;
  const bundle = bundles[entry];
  return bundle ? [bundle] : ['-r', 'tsx/cjs', join(root, entry)];
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Written to the child's stdin, which is then closed (else stdin stays open, as a terminal's would). */
  stdin?: string;
  /** SIGKILL after this long (default 60 s). */
  timeoutMs?: number;
}

/** Spawns an entry (see `entryArgs`) in the project root; the caller reads its pipes. */
export function spawnEntry(entry: Entry, args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [...entryArgs(entry), ...args], { cwd: root, ...options });
}

/** Runs an entry to its exit, asynchronously (a server the test runs in this process keeps answering it). */
export function runEntry(entry: Entry, args: string[], { env = {}, stdin, timeoutMs = 60_000 }: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const proc = spawnEntry(entry, args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    proc.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    if (stdin !== undefined) proc.stdin?.end(stdin);
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/**
 * A CLI call kept off the developer's own local state: unless the test says otherwise (`--data`, or PORT in `env`),
 * a fresh data dir of its own, and a local server port where nothing listens (a server the developer runs on 3000
 * never sees a test's runs).
 */
function hermetic(args: string[], env: Record<string, string>): { args: string[]; env: Record<string, string> } {
  const data = args.includes('--data') ? [] : ['--data', mkdtempSync(join(tmpdir(), 'agent-data-'))];
  return { args: [...args, ...data], env: { AGENT_CONFIG: '', PORT: '9', ...env } };
}

/** `agent <args>` (bin/agent.ts), with no AGENT_CONFIG from the environment unless `env` sets one (see `hermetic`). */
export function agent(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const call = hermetic(args, options.env ?? {});
  return runEntry('bin/agent.ts', call.args, { ...options, env: call.env });
}

/** `agent <args>`, synchronously (for commands that need no server in this process). */
export function agentSync(args: string[], { env = {}, timeoutMs = 90_000 }: Omit<RunOptions, 'stdin'> = {}): CliResult {
  const call = hermetic(args, env);
  const out = spawnSync(process.execPath, [...entryArgs('bin/agent.ts'), ...call.args], {
    cwd: root,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, ...call.env },
  });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}
