/**
 * The `--help` of the npm scripts (`npm run <script> -- --help`): when the arguments ask for it, prints the script's
 * usage on stdout and says so (the script then exits 0 without doing anything else).
 */
export function printedHelp(usage: string, argv: string[] = process.argv.slice(2)): boolean {
  if (!argv.includes('--help') && !argv.includes('-h')) return false;
  process.stdout.write(`${usage.trim()}\n`);
  return true;
}
