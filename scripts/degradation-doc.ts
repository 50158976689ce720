import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configPath, loadConfig } from '../lib/config';
import { renderDegradationDoc } from '../lib/dependencies';

/** Writes docs/degradation.md from the config (npm run docs:degradation). */
const file = join(__dirname, '..', 'docs', 'degradation.md');
writeFileSync(file, renderDegradationDoc(loadConfig(), configPath().split('/').at(-1)));
process.stdout.write(`wrote ${file}\n`);
