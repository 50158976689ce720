import { join } from 'node:path';
import { build } from 'esbuild';
import { EXTERNAL_MODULES } from '../../lib/bundling';

const root = join(__dirname, '..', '..');

/** The inputs esbuild puts in a handler's bundle, built as lib/functions.ts builds it. */
async function inputsOf(handler: string): Promise<string[]> {
  const out = await build({
    entryPoints: [join(root, 'lambdas', 'handlers', `${handler}.ts`)],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    external: EXTERNAL_MODULES,
    loader: { '.html': 'text' },
    metafile: true,
    logLevel: 'silent',
  });
  return Object.keys(out.metafile.inputs);
}

describe('handler bundles hold only what the handler uses', () => {
  it.each(['load-run', 'call-tool', 'finalize', 'pause', 'api', 'export-trace', 'execution-status'])('%s: no tokenizer, no full zod', async (handler) => {
    const inputs = await inputsOf(handler);
    expect(inputs.filter((f) => f.includes('js-tiktoken'))).toEqual([]);
    expect(inputs.filter((f) => f.includes('zod/v4/classic') || f.includes('zod/v3'))).toEqual([]);
    expect(inputs.some((f) => f.endsWith('lib/config.ts'))).toBe(false);
    // The schema lives in the core (lambdas/core/config.ts); the handlers read the config through config-env.ts only.
    expect(inputs.some((f) => f.endsWith('lambdas/core/config.ts'))).toBe(false);
  });

  it('call-model: the tokenizer, and the tool catalog without the idempotency layer', async () => {
    const inputs = await inputsOf('call-model');
    expect(inputs.some((f) => f.includes('js-tiktoken'))).toBe(true);
    expect(inputs.some((f) => f.includes('@aws-lambda-powertools/idempotency'))).toBe(false);
  });

  it('only call-model and call-tool carry the tool clients; the base handlers carry no providers', async () => {
    const loadRun = await inputsOf('load-run');
    expect(loadRun.filter((f) => f.includes('lambdas/tools/') || f.includes('lambdas/providers/'))).toEqual([]);
    const callTool = await inputsOf('call-tool');
    expect(callTool.some((f) => f.includes('lambdas/tools/registry.ts'))).toBe(true);
    expect(callTool.filter((f) => f.includes('lambdas/providers/index.ts'))).toEqual([]);
  });
});
