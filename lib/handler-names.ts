import * as path from 'node:path';

/**
 * The handlers the stack deploys: the one list (lib/functions.ts deploys them, the local engine runs them, the bench
 * bundles them). Each is a file under lambdas/handlers. No CDK import here, so the engine can read it cheaply.
 */
export const HANDLER_NAMES = [
  'load-run',
  'call-model',
  'call-tool',
  'finalize',
  'pause',
  'await-approval',
  'api',
  'authorizer',
  'export-trace',
  'execution-status',
  'run-events',
] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** The source file of a handler (what esbuild bundles). */
export function handlerEntry(handler: HandlerName): string {
  return path.join(__dirname, '..', 'lambdas', 'handlers', `${handler}.ts`);
}
