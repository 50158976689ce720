import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configPath, loadConfig } from '../lib/config';
import { renderDegradationDoc } from '../lib/dependencies';

import { printedHelp } from './usage';

const USAGE = `Usage: npm run docs:degradation

Writes docs/degradation.md (what each dependency falls back to) from the config: agent.config.json, or AGENT_CONFIG.
  -h, --help   this text`;

/** Writes docs/degradation.md from the config (npm run docs:degradation). */
if (!printedHelp(USAGE)) {
  const file = join(__dirname, '..', 'docs', 'degradation.md');
  writeFileSync(file, renderDegradationDoc(loadConfig(), configPath().split('/').at(-1)));
  process.stdout.write(`wrote ${file}\n`);
}
