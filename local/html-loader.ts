import { readFileSync } from 'node:fs';

/**
 * Outside the bundle (tsx: `npm start`, `agent`), an imported .html file is its text, as the esbuild `text` loader
 * bundles it for Lambda and the jest transform serves it in tests: the API handler imports the trace viewer so.
 */
const extensions = require.extensions as Record<string, (module: NodeJS.Module, filename: string) => void>;
extensions['.html'] ??= (module, filename) => {
  const text = readFileSync(filename, 'utf8');
  module.exports = Object.assign(text, { default: text });
};
