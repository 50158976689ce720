/**
 * A child process running the on-disk offline engine, for the crash test: `start <runId>` creates and runs a run;
 * `resume` continues every run that was RUNNING (as `npm start` does at start). Prints the run as JSON when done.
 * `serve <token>` serves the HTTP API as `npm start` does (interrupted runs resumed first) on a free port, prints
 * `listening <url>` and serves until killed.
 * Usage: tsx engine-child.ts <dataDir> <configJson> start <runId> | resume | serve <token>
 */
import { parseConfig } from '../../lib/config';
import { LocalEngine } from '../../local/engine';
import { startServer } from '../../local/server';

async function main(): Promise<void> {
  const [dataDir, configJson, mode, runId] = process.argv.slice(2);
  if (!dataDir || !configJson || !mode) throw new Error('usage: engine-child <dataDir> <configJson> start <runId> | resume | serve <token>');
  const engine = await LocalEngine.start({ config: parseConfig(JSON.parse(configJson)), dataDir }, { retryScale: 0 });
  process.stdout.write('ready\n');
  if (mode === 'serve') {
    await engine.resumeInterrupted();
    const server = await startServer(engine, { port: 0, devToken: runId });
    process.stdout.write(`listening ${server.url}\n`);
    await new Promise<void>((stop) => process.once('SIGTERM', () => stop()));
    await server.close();
  } else if (mode === 'start') {
    const { run } = await engine.run({ input: 'Charge five times.', runId });
    process.stdout.write(`${JSON.stringify(run)}\n`);
  } else {
    const ids = await engine.resumeInterrupted();
    for (const id of ids) await engine.execute(id, 'local');
    for (const id of ids) process.stdout.write(`${JSON.stringify(await engine.runtime.runs.getRun(id))}\n`);
  }
  await engine.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);
