import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigDoc } from '../lib/config-doc';

/** Writes docs/config.md from the config schema (npm run docs:config). */
const file = join(__dirname, '..', 'docs', 'config.md');
writeFileSync(file, renderConfigDoc());
process.stdout.write(`wrote ${file}\n`);
