/**
 * The agent loop's steps, one file per state under ./steps (as lambdas/handlers/): load-run, call-model, call-tool,
 * pause, finalize, over the loop state and dependencies in ./steps/state.ts. This module only re-exports them for
 * the wiring (the runtimes' `LoopDeps`) and the readers of `runView`.
 */
export { runView } from './run-view';
export { type ModelStepInput, modelStep } from './steps/call-model';
export { type ToolStepInput, type ToolStepOutput, toolStep } from './steps/call-tool';
export { type FinalizeInput, type FinalizeOutput, finalize, type Outcome } from './steps/finalize';
export { checkpointState, loadRun, type StartInput } from './steps/load-run';
export { type PauseInput, pauseRun } from './steps/pause';
export { type CaughtError, type Invocation, isFinal, type LoopDeps, type LoopState, SYSTEM_PROMPT, type Tier } from './steps/state';
