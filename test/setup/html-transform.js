/** Jest transform: an imported .html file is its text (as the esbuild `text` loader bundles it for Lambda). */
module.exports = { process: (src) => ({ code: `module.exports = ${JSON.stringify(src)}; module.exports.default = module.exports;` }) };
